//! The gateway's `guardrails` field, Cloudflare's shape: `{prompt: {S1..S13|P1: "FLAG"|"BLOCK"},
//! response: {…}}`. A direction or category left out is ignored. Kept in the shape it was
//! written in (a direction absent stays absent), so a client reads back what it sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Llama Guard 3's hazard categories and Cloudflare's prompt-injection category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
    S8,
    S9,
    S10,
    S11,
    S12,
    S13,
    P1,
}

impl Category {
    pub const ALL: [Category; 14] = [
        Category::S1,
        Category::S2,
        Category::S3,
        Category::S4,
        Category::S5,
        Category::S6,
        Category::S7,
        Category::S8,
        Category::S9,
        Category::S10,
        Category::S11,
        Category::S12,
        Category::S13,
        Category::P1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::S1 => "S1",
            Category::S2 => "S2",
            Category::S3 => "S3",
            Category::S4 => "S4",
            Category::S5 => "S5",
            Category::S6 => "S6",
            Category::S7 => "S7",
            Category::S8 => "S8",
            Category::S9 => "S9",
            Category::S10 => "S10",
            Category::S11 => "S11",
            Category::S12 => "S12",
            Category::S13 => "S13",
            Category::P1 => "P1",
        }
    }

    /// The category a classifier's answer names (`S1`, `s10`, ` P1 `); `None` for one outside
    /// the table (Llama Guard's S14, code interpreter abuse, which Cloudflare does not use).
    pub fn parse(text: &str) -> Option<Category> {
        let text = text.trim();
        Category::ALL
            .into_iter()
            .find(|category| category.as_str().eq_ignore_ascii_case(text))
    }
}

/// What a category found in one direction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GuardAction {
    /// Recorded (the classifier's log row) and let through.
    Flag,
    /// Refused: 424, code 2016 (prompt) or 2017 (response).
    Block,
}

impl GuardAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Flag => "FLAG",
            GuardAction::Block => "BLOCK",
        }
    }
}

/// Which side of a call is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Prompt,
    Response,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Prompt => "prompt",
            Direction::Response => "response",
        }
    }
}

/// One direction's rules: category → action.
pub type Rules = BTreeMap<Category, GuardAction>;

/// The gateway field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GuardrailSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Rules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Rules>,
}

impl GuardrailSettings {
    /// The rules of a direction; empty when it has none.
    pub fn rules(&self, direction: Direction) -> Option<&Rules> {
        match direction {
            Direction::Prompt => self.prompt.as_ref(),
            Direction::Response => self.response.as_ref(),
        }
        .filter(|rules| !rules.is_empty())
    }

    /// Whether a direction has a BLOCK rule (a classifier that cannot answer then refuses).
    pub fn blocks(&self, direction: Direction) -> bool {
        self.rules(direction)
            .is_some_and(|rules| rules.values().any(|a| *a == GuardAction::Block))
    }

    /// Reads the field from a create or update body; the message names the element that is
    /// wrong (`prompt.S14: …`).
    pub fn parse(value: &Value) -> Result<GuardrailSettings, String> {
        let Value::Object(fields) = value else {
            return Err("must be an object: {prompt: {…}, response: {…}}".into());
        };
        let mut settings = GuardrailSettings::default();
        for (key, value) in fields {
            let slot = match key.as_str() {
                "prompt" => &mut settings.prompt,
                "response" => &mut settings.response,
                other => {
                    let hint = match crate::suggest::nearest(other, ["prompt", "response"]) {
                        Some(known) => format!("; did you mean {known}?"),
                        None => String::new(),
                    };
                    return Err(format!(
                        "{}: unknown key (prompt or response){hint}",
                        crate::suggest::shown(other)
                    ));
                }
            };
            *slot = match value {
                Value::Null => None,
                Value::Object(rules) => Some(parse_rules(key, rules)?),
                _ => return Err(format!("{key}: must be an object of category: action")),
            };
        }
        Ok(settings)
    }
}

fn parse_rules(direction: &str, fields: &Map<String, Value>) -> Result<Rules, String> {
    let mut rules = Rules::new();
    for (name, action) in fields {
        let Some(category) = Category::parse(name).filter(|c| c.as_str() == name) else {
            // Categories are upper case; `s1` is one letter from both S1 and P1.
            let near = Category::parse(name)
                .map(Category::as_str)
                .or_else(|| crate::suggest::nearest(name, Category::ALL.map(Category::as_str)));
            let hint = match near {
                Some(known) => format!("; did you mean {known}?"),
                None => String::new(),
            };
            return Err(format!(
                "{direction}.{}: unknown category (S1 to S13, or P1){hint}",
                crate::suggest::shown(name)
            ));
        };
        let action = match action.as_str() {
            Some("FLAG") => GuardAction::Flag,
            Some("BLOCK") => GuardAction::Block,
            _ => return Err(format!("{direction}.{name}: must be \"FLAG\" or \"BLOCK\"")),
        };
        rules.insert(category, action);
    }
    Ok(rules)
}

/// Reads a stored gateway's `guardrails`: a value this version cannot read (stored as sent
/// before the field was acted on) becomes `None` with a warning, so the gateway still loads.
pub fn lenient_settings<'de, D>(deserializer: D) -> Result<Option<GuardrailSettings>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = <Option<Value> as Deserialize>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(value) => match GuardrailSettings::parse(&value) {
            Ok(settings) => Some(settings),
            Err(why) => {
                tracing::warn!(%why, "a stored gateway's guardrails setting is not valid; ignored");
                None
            }
        },
    })
}
