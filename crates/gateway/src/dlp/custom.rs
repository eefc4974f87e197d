//! A custom profile's definition (docs/dlp.md, "Custom profiles"): Cloudflare One's shape
//! `{name, description, entries: [{name, enabled, pattern: {regex, validation}}]}`, plus
//! Tollgate's `context` words per entry, read and checked when it is saved: every pattern
//! compiled with the linear-time engine's bounds, counts and sizes bounded, and each problem
//! naming its entry. What is stored is the checked definition, with an id on every entry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::scanner::{
    EntrySpec, MAX_CONTEXT_WORD_BYTES, MAX_CONTEXT_WORDS, MAX_ENTRIES, ProfileSpec, Scanner,
    compile_pattern,
};
use super::validate::Validator;

/// The most custom profiles an account may have.
pub const MAX_CUSTOM_PROFILES: usize = 100;
/// The longest profile or entry name, and description.
pub const MAX_NAME_BYTES: usize = 128;
pub const MAX_DESCRIPTION_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomProfile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub entries: Vec<CustomEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomEntry {
    /// Given by the gateway when the entry is first saved; a match reports it
    /// (`<profile id>.<entry id>`).
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub pattern: Pattern,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    pub regex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
}

/// Whether `id` is shaped like a custom profile's id (a UUID), as a gateway's `dlp` names one.
pub fn is_custom_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok() && id.len() == 36
}

impl CustomProfile {
    /// Reads and checks a create or update body; the message names the element
    /// (`entries[1] ("badge"): pattern.regex: is not a valid regex: …`). `previous`: the
    /// profile being updated, whose entry ids an entry sent back with its id keeps.
    pub fn parse(
        body: &Map<String, Value>,
        previous: Option<&CustomProfile>,
    ) -> Result<Self, String> {
        for key in body.keys() {
            if ![
                "name",
                "description",
                "entries",
                // What the API returns, sent back by clients on update.
                "id",
                "type",
                "version",
                "created_at",
                "updated_at",
            ]
            .contains(&key.as_str())
            {
                let hint = crate::suggest::nearest(key, ["name", "description", "entries"])
                    .map(|known| format!("; did you mean {known}?"))
                    .unwrap_or_default();
                return Err(format!(
                    "{}: unknown field{hint}",
                    crate::suggest::shown(key)
                ));
            }
        }
        let name = text(body.get("name"), "name", MAX_NAME_BYTES)?;
        let description = match body.get("description") {
            None | Some(Value::Null) => None,
            value => Some(text(value, "description", MAX_DESCRIPTION_BYTES)?),
        };
        let Some(Value::Array(list)) = body.get("entries") else {
            return Err("entries: required, a list of entries".into());
        };
        if list.is_empty() || list.len() > MAX_ENTRIES {
            return Err(format!("entries: 1 to {MAX_ENTRIES} entries"));
        }
        let mut entries: Vec<CustomEntry> = Vec::with_capacity(list.len());
        for (index, value) in list.iter().enumerate() {
            let entry = parse_entry(value, previous).map_err(|why| {
                let named = value["name"]
                    .as_str()
                    .map(|n| format!(" ({:?})", crate::suggest::shown(n)))
                    .unwrap_or_default();
                format!("entries[{index}]{named}: {why}")
            })?;
            if entries.iter().any(|e| e.id == entry.id) {
                return Err(format!("entries[{index}].id: {:?} is used twice", entry.id));
            }
            entries.push(entry);
        }
        let profile = CustomProfile {
            name,
            description,
            entries,
        };
        // The whole profile compiles (its set too) now, not on the request path.
        Scanner::compile(&profile.spec("check"))?;
        Ok(profile)
    }

    /// The enabled entries, as the scanner compiles them.
    pub fn spec(&self, id: &str) -> ProfileSpec {
        ProfileSpec {
            id: id.to_owned(),
            name: self.name.clone(),
            entries: self
                .entries
                .iter()
                .filter(|entry| entry.enabled)
                .map(|entry| EntrySpec {
                    id: entry.id.clone(),
                    name: entry.name.clone(),
                    regex: entry.pattern.regex.clone(),
                    validator: entry
                        .pattern
                        .validation
                        .as_deref()
                        .and_then(Validator::parse),
                    context: entry.context.clone(),
                })
                .collect(),
        }
    }
}

fn parse_entry(value: &Value, previous: Option<&CustomProfile>) -> Result<CustomEntry, String> {
    let Value::Object(fields) = value else {
        return Err("must be an object {name, enabled, pattern: {regex, validation}}".into());
    };
    for key in fields.keys() {
        if ![
            "id",
            "name",
            "enabled",
            "pattern",
            "context",
            "profile_id",
            "created_at",
            "updated_at",
            "type",
        ]
        .contains(&key.as_str())
        {
            let hint = crate::suggest::nearest(key, ["name", "enabled", "pattern", "context"])
                .map(|known| format!("; did you mean {known}?"))
                .unwrap_or_default();
            return Err(format!(
                "{}: unknown field{hint}",
                crate::suggest::shown(key)
            ));
        }
    }
    let name = text(fields.get("name"), "name", MAX_NAME_BYTES)?;
    let enabled = match fields.get("enabled") {
        None => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(_) => return Err("enabled: must be true or false".into()),
    };
    let Some(Value::Object(pattern)) = fields.get("pattern") else {
        return Err("pattern: required, {regex, validation}".into());
    };
    let Some(Value::String(regex)) = pattern.get("regex") else {
        return Err("pattern.regex: required, a regular expression".into());
    };
    compile_pattern(regex).map_err(|why| format!("pattern.regex: {why}"))?;
    let validation = match pattern.get("validation") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if Validator::parse(name).is_some() => Some(name.clone()),
        Some(_) => {
            let names: Vec<&str> = Validator::NAMED.iter().map(|v| v.name()).collect();
            return Err(format!(
                "pattern.validation: must be one of {}",
                names.join(", ")
            ));
        }
    };
    let context = match fields.get("context") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(words)) if words.len() <= MAX_CONTEXT_WORDS => words
            .iter()
            .map(|word| match word.as_str().map(str::trim) {
                Some(word) if !word.is_empty() && word.len() <= MAX_CONTEXT_WORD_BYTES => {
                    Ok(word.to_owned())
                }
                _ => Err(format!(
                    "context: each word 1 to {MAX_CONTEXT_WORD_BYTES} bytes"
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("context: at most {MAX_CONTEXT_WORDS} words")),
    };
    // An entry sent back with its id keeps it; any other gets a new one.
    let id = match fields.get("id").and_then(Value::as_str) {
        Some(id)
            if previous
                .is_some_and(|profile| profile.entries.iter().any(|entry| entry.id == id)) =>
        {
            id.to_owned()
        }
        _ => uuid::Uuid::now_v7().to_string(),
    };
    Ok(CustomEntry {
        id,
        name,
        enabled,
        pattern: Pattern {
            regex: regex.clone(),
            validation,
        },
        context,
    })
}

fn text(value: Option<&Value>, field: &str, max: usize) -> Result<String, String> {
    match value {
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= max => {
            Ok(text.trim().to_owned())
        }
        _ => Err(format!("{field}: required, 1 to {max} bytes of text")),
    }
}
