//! A policy's `condition`: a CEL expression (cel-rust's interpreter) over the request's
//! `metadata` (a map), `model` and `provider` (strings), which must yield a boolean. Compiled
//! once, when the policy is written: a syntax error is refused there.

use std::collections::HashMap;
use std::fmt;

use cel::{Context, Program, Value as Cel};
use serde_json::Value;

use super::Facts;

/// The longest condition accepted, in bytes: a condition is a filter, not a program.
pub const MAX_CONDITION_BYTES: usize = 2_048;

pub struct Condition {
    source: String,
    program: Program,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl Condition {
    /// Compiles `source`; the message says why it is not a condition.
    pub fn compile(source: &str) -> Result<Condition, String> {
        if source.trim().is_empty() || source.len() > MAX_CONDITION_BYTES {
            return Err(format!(
                "must be a CEL expression of 1-{MAX_CONDITION_BYTES} bytes (\"true\" matches \
                 every request)"
            ));
        }
        let program = Program::compile(source).map_err(|errors| {
            let text = errors.to_string();
            format!(
                "is not valid CEL: {}",
                text.lines().next().unwrap_or("syntax error")
            )
        })?;
        Ok(Condition {
            source: source.to_owned(),
            program,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the request meets the condition; `Err` when it cannot be evaluated (a missing
    /// metadata key read without `has()`, a type error) or does not yield a boolean.
    pub fn matches(&self, facts: &Facts<'_>) -> Result<bool, String> {
        let mut context = Context::default();
        let metadata: HashMap<String, Cel> = facts
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), cel_value(value)))
            .collect();
        context.add_variable_from_value("metadata", metadata);
        context.add_variable_from_value("model", facts.model.unwrap_or(""));
        context.add_variable_from_value("provider", facts.provider);
        match self.program.execute(&context) {
            Ok(Cel::Bool(matched)) => Ok(matched),
            Ok(other) => Err(format!("yields {:?}, not a boolean", other.type_of())),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// A metadata value as CEL sees it (metadata values are flat: strings, numbers, booleans).
fn cel_value(value: &Value) -> Cel {
    match value {
        Value::String(text) => Cel::from(text.as_str()),
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(f)) => Cel::Float(f),
            (None, None) => Cel::Null,
        },
        _ => Cel::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts(metadata: &[(String, Value)]) -> Facts<'_> {
        Facts {
            metadata,
            model: Some("gpt-4o"),
            provider: "openai",
        }
    }

    #[test]
    fn conditions_read_metadata_model_and_provider() {
        let metadata = vec![
            ("team".to_owned(), json!("search")),
            ("tier".to_owned(), json!(2)),
        ];
        for (source, expected) in [
            ("true", true),
            ("metadata.team == 'search' && provider == 'openai'", true),
            ("metadata.tier >= 2 && model.startsWith('gpt-')", true),
            ("has(metadata.missing) && metadata.missing == 'x'", false),
            ("model == 'o1'", false),
        ] {
            let condition = Condition::compile(source).unwrap();
            assert_eq!(
                condition.matches(&facts(&metadata)),
                Ok(expected),
                "{source}"
            );
        }
        // A missing key read without has() and a non-boolean cannot be evaluated.
        for source in ["metadata.missing == 'x'", "metadata.tier + 1"] {
            let condition = Condition::compile(source).unwrap();
            assert!(condition.matches(&facts(&metadata)).is_err(), "{source}");
        }
    }

    #[test]
    fn syntax_errors_and_empty_conditions_are_refused() {
        for source in [
            "",
            "metadata.team ==",
            "(((",
            &"x".repeat(MAX_CONDITION_BYTES + 1),
        ] {
            assert!(Condition::compile(source).is_err(), "{source:.20}");
        }
    }
}
