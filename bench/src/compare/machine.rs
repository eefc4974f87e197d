//! What the run happened on: date, cores, CPU model, kernel and tool versions, for RESULTS.md.

use std::path::Path;
use std::process::Command;

pub struct Machine {
    pub lines: Vec<(&'static str, String)>,
}

/// The first line a command prints on stdout or stderr (nginx and wrk use stderr).
fn first_line(program: &Path, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        }
        Err(error) => format!("unknown ({error})"),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    pub fn describe(nginx: &Path, wrk: &Path, tollgate: &Path, pinning: &str) -> Machine {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let nproc = first_line(Path::new("nproc"), &["--all"]);
        Machine {
            lines: vec![
                (
                    "date",
                    first_line(Path::new("date"), &["-u", "+%Y-%m-%d %H:%M UTC"]),
                ),
                (
                    "nproc",
                    format!("{nproc} (the harness itself may use {cores})"),
                ),
                ("CPU", cpu_model()),
                ("kernel", first_line(Path::new("uname"), &["-sr"])),
                ("rustc", first_line(Path::new("rustc"), &["--version"])),
                ("nginx", first_line(nginx, &["-v"])),
                ("wrk", first_line(wrk, &["-v"])),
                ("tollgate", first_line(tollgate, &["--version"])),
                ("placement", pinning.to_owned()),
            ],
        }
    }

    pub fn markdown(&self) -> String {
        self.lines
            .iter()
            .map(|(name, value)| format!("- {name}: {value}\n"))
            .collect()
    }
}
