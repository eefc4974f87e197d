//! A token count as providers actually write it: one odd number must not lose the whole usage.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Normally an unsigned integer; negative numbers read as 0, floats are truncated and numeric
/// strings are parsed, because OpenAI-compatible servers are not all careful about types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count(pub u64);

/// The count, or 0 when the field was absent or null.
pub fn or_zero(count: Option<Count>) -> u64 {
    count.map_or(0, |c| c.0)
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        deserializer.deserialize_any(CountVisitor)
    }
}

struct CountVisitor;

impl Visitor<'_> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token count")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
        Ok(Count(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
        Ok(Count(u64::try_from(v).unwrap_or(0)))
    }

    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "`as` saturates and maps NaN and negatives to 0, what a bogus count deserves"
    )]
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
        Ok(Count(v as u64))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
        v.trim()
            .parse()
            .map(Count)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Option<Count> {
        serde_json::from_str::<Option<Count>>(json).unwrap()
    }

    #[test]
    fn reads_the_shapes_providers_send() {
        assert_eq!(parse("12"), Some(Count(12)));
        assert_eq!(parse("-3"), Some(Count(0)));
        assert_eq!(parse("7.9"), Some(Count(7)));
        assert_eq!(parse("\"42\""), Some(Count(42)));
        assert_eq!(parse("null"), None);
        assert!(serde_json::from_str::<Count>("\"many\"").is_err());
    }
}
