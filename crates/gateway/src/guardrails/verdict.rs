//! A Llama-Guard answer read: `safe`, or `unsafe` and a line of categories (`unsafe\nS1,S10`).
//! Workers AI's JSON form (`{"safe": false, "categories": ["S1"]}`) is read too.

use serde_json::Value;

use super::settings::Category;

/// What the classifier said of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub safe: bool,
    /// The categories it named that the table knows (an unknown one is dropped).
    pub categories: Vec<Category>,
}

/// The verdict in a classifier's message content; `Err` when it is neither form, which counts
/// as the classifier not answering (docs/guardrails.md).
pub fn parse_answer(content: &str) -> Result<Verdict, String> {
    let trimmed = content.trim();
    if trimmed.starts_with('{') {
        let json: Value = serde_json::from_str(trimmed)
            .map_err(|_| "the classifier's answer is not Llama Guard's".to_owned())?;
        let Some(safe) = json["safe"].as_bool() else {
            return Err("the classifier's JSON answer has no `safe`".into());
        };
        let categories = json["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().and_then(Category::parse))
            .collect();
        return Ok(Verdict { safe, categories });
    }
    let mut lines = trimmed.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next().map(str::to_ascii_lowercase).as_deref() {
        Some("safe") => Ok(Verdict {
            safe: true,
            categories: Vec::new(),
        }),
        Some("unsafe") => {
            let mut categories: Vec<Category> = lines
                .flat_map(|line| line.split(','))
                .filter_map(Category::parse)
                .collect();
            categories.sort_unstable();
            categories.dedup();
            Ok(Verdict {
                safe: false,
                categories,
            })
        }
        _ => Err("the classifier's answer is neither \"safe\" nor \"unsafe\"".into()),
    }
}
