//! The soak's findings as a markdown summary: one table per stage.

use std::fmt::Write;

pub struct Section {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

impl Section {
    pub fn new(title: &str) -> Section {
        Section {
            title: title.to_owned(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, name: &str, value: impl std::fmt::Display) {
        self.rows.push((name.to_owned(), value.to_string()));
    }
}

pub fn markdown(header: &str, sections: &[Section]) -> String {
    let mut out = format!("# Soak results\n\n{header}\n");
    for section in sections {
        let _ = write!(
            out,
            "\n## {}\n\n| measure | value |\n|---|---|\n",
            section.title
        );
        for (name, value) in &section.rows {
            let _ = writeln!(out, "| {name} | {value} |");
        }
    }
    out
}
