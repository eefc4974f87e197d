//! The `*` globs of a run token's `providers` and `models` allowlists (docs/budgets.md, "Scoped
//! run tokens"): `*` matches any run of characters within one `/`-separated segment, so
//! `openai/*` allows OpenAI's models but not `openai/ft/x`; a pattern that is only `*` allows
//! everything.

/// Whether `pattern` matches the whole of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut patterns = pattern.split('/');
    let mut texts = text.split('/');
    loop {
        match (patterns.next(), texts.next()) {
            (None, None) => return true,
            (Some(pattern), Some(text)) if segment_matches(pattern, text) => {}
            _ => return false,
        }
    }
}

/// One segment, neither side holding a `/`: the classic wildcard match, where backtracking to
/// the last `*` suffices because every `*` matches any run.
fn segment_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and the text position its run currently ends at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_lone_star_allows_everything() {
        assert!(matches("*", "gpt-4o"));
        assert!(matches("*", "openai/gpt-4o"));
        assert!(matches("*", "@cf/meta/llama-3-8b"));
        assert!(matches("*", ""));
    }

    #[test]
    fn literals_match_only_themselves() {
        assert!(matches("gpt-4o", "gpt-4o"));
        assert!(!matches("gpt-4o", "gpt-4o-mini"));
        assert!(!matches("gpt-4o", "gpt-4"));
        assert!(!matches("gpt-4o", "GPT-4o"));
    }

    #[test]
    fn a_star_matches_any_run_within_a_segment() {
        assert!(matches("gpt-4o*", "gpt-4o"));
        assert!(matches("gpt-4o*", "gpt-4o-mini"));
        assert!(matches("*-mini", "gpt-4o-mini"));
        assert!(matches("gpt-*-mini", "gpt-4o-mini"));
        assert!(matches("g*o*i", "gpt-4o-mini"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("gpt-*-mini", "gpt-4o"));
        assert!(!matches("claude-*", "gpt-4o"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn a_star_does_not_cross_a_slash() {
        assert!(matches("openai/*", "openai/gpt-4o"));
        assert!(!matches("openai/*", "openai/ft/gpt-4o"));
        assert!(!matches("openai*", "openai/gpt-4o"));
        assert!(matches("*/x", "a/x"));
        assert!(matches("*/gpt-*", "openai/gpt-4o"));
        assert!(!matches("*/gpt-*", "gpt-4o"));
        assert!(matches("@cf/meta/*", "@cf/meta/llama-3-8b"));
        assert!(!matches("@cf/*", "@cf/meta/llama-3-8b"));
        assert!(matches("@cf/*/*", "@cf/meta/llama-3-8b"));
    }
}
