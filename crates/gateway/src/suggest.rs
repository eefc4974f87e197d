//! "Did you mean …?": the nearest known name to a mistyped one (settings fields, provider slugs).

/// Names further than this from every known one get no suggestion.
const MAX_DISTANCE: usize = 2;

/// The known name nearest to `name` (ASCII case ignored), if it is close enough to be a typo: at
/// most two edits, and fewer for short names (every two-letter name is two edits from `zdr`).
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let allowed = MAX_DISTANCE.min(name.len().div_ceil(3));
    known
        .into_iter()
        .map(|candidate| (strsim::levenshtein(&lower, candidate), candidate))
        .min()
        .filter(|(distance, _)| *distance <= allowed)
        .map(|(_, candidate)| candidate)
}

/// A client's name as an error message may echo it: at most [`SHOWN_CHARS`] characters, so a
/// megabyte of "model" does not come back in the error.
pub fn shown(name: &str) -> &str {
    name.char_indices()
        .nth(SHOWN_CHARS)
        .map_or(name, |(end, _)| &name[..end])
}

const SHOWN_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_finds_none() {
        let known = ["openai", "anthropic", "groq", "zdr"];
        assert_eq!(nearest("openia", known), Some("openai"));
        assert_eq!(nearest("Anthropc", known), Some("anthropic"));
        assert_eq!(nearest("xy", known), None);
        assert_eq!(nearest("mistral", known), None);
    }
}
