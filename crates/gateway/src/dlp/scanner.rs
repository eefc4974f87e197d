//! A profile compiled for scanning (docs/dlp.md): one `RegexSet` pass tells which entries
//! can match at all (most text: none), then only those entries' regexes find their matches,
//! each checked by its validator and context words. The regex crate runs in linear time, so
//! no pattern, built-in or custom, can make a scan backtrack.
//!
//! A scan returns where the matches are (profile, entry, byte range), never their text.

use std::ops::Range;
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::validate::Validator;

/// The longest pattern an entry may have, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// The most entries a profile may have.
pub const MAX_ENTRIES: usize = 64;
/// The most context words an entry may have, and the longest one.
pub const MAX_CONTEXT_WORDS: usize = 32;
pub const MAX_CONTEXT_WORD_BYTES: usize = 64;
/// How far before and after a match its context words are looked for.
pub const CONTEXT_WINDOW: usize = 64;
/// The compiled size of one entry's regex, and of a profile's set.
const ENTRY_SIZE_LIMIT: usize = 512 * 1024;
const SET_SIZE_LIMIT: usize = 8 * 1024 * 1024;
/// Matches reported per scan: past it, the scan stops looking (the action is already known).
pub const MAX_MATCHES: usize = 1024;

/// A profile as defined (built in or stored), before compiling.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    pub id: String,
    pub name: String,
    pub entries: Vec<EntrySpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntrySpec {
    pub id: String,
    pub name: String,
    pub regex: String,
    pub validator: Option<Validator>,
    /// When not empty, a match counts only with one of these words (case-insensitive, whole
    /// words) within [`CONTEXT_WINDOW`] bytes of it.
    pub context: Vec<String>,
}

/// One match: which entry, and where (never the matched text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub profile: Arc<str>,
    pub entry: Arc<str>,
    pub range: Range<usize>,
}

struct Entry {
    id: Arc<str>,
    regex: Regex,
    validator: Option<Validator>,
    context: Option<Regex>,
}

/// A compiled profile.
pub struct Scanner {
    profile: Arc<str>,
    set: RegexSet,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("profile", &self.profile)
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// Compiles one entry's pattern with the bounds every pattern gets; the error names the
/// problem (for the management API's 400).
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("must be 1 to {MAX_PATTERN_BYTES} bytes"));
    }
    let regex = RegexBuilder::new(pattern)
        .size_limit(ENTRY_SIZE_LIMIT)
        .dfa_size_limit(ENTRY_SIZE_LIMIT)
        .nest_limit(32)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => "is too large once compiled".to_owned(),
            other => format!("is not a valid regex: {}", first_line(&other.to_string())),
        })?;
    if regex.is_match(b"") {
        return Err("matches empty text".into());
    }
    Ok(regex)
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

fn context_regex(words: &[String]) -> Result<Option<Regex>, String> {
    if words.is_empty() {
        return Ok(None);
    }
    let alternatives: Vec<String> = words.iter().map(|w| regex::escape(w.trim())).collect();
    let pattern = format!("(?i)(?-u:\\b)(?:{})(?-u:\\b)", alternatives.join("|"));
    RegexBuilder::new(&pattern)
        .size_limit(ENTRY_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|_| "context words are too many or too long".into())
}

impl Scanner {
    pub fn compile(spec: &ProfileSpec) -> Result<Scanner, String> {
        if spec.entries.len() > MAX_ENTRIES {
            return Err(format!("at most {MAX_ENTRIES} entries"));
        }
        let mut entries = Vec::with_capacity(spec.entries.len());
        for entry in &spec.entries {
            let regex =
                compile_pattern(&entry.regex).map_err(|why| format!("{}: {why}", entry.id))?;
            let context =
                context_regex(&entry.context).map_err(|why| format!("{}: {why}", entry.id))?;
            entries.push(Entry {
                id: entry.id.as_str().into(),
                regex,
                validator: entry.validator,
                context,
            });
        }
        let set = RegexSetBuilder::new(spec.entries.iter().map(|e| &e.regex))
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|_| "the profile's patterns are too large together".to_owned())?;
        Ok(Scanner {
            profile: spec.id.as_str().into(),
            set,
            entries,
        })
    }

    pub fn profile_id(&self) -> &str {
        &self.profile
    }

    /// Every match in `text`, appended to `out` (at most [`MAX_MATCHES`] in all).
    pub fn scan_into(&self, text: &[u8], out: &mut Vec<Match>) {
        if self.entries.is_empty() {
            return;
        }
        for index in self.set.matches(text).iter() {
            let entry = &self.entries[index];
            for found in entry.regex.find_iter(text) {
                if out.len() >= MAX_MATCHES {
                    return;
                }
                let range = found.range();
                if entry
                    .validator
                    .is_some_and(|v| !v.check(&text[range.clone()]))
                {
                    continue;
                }
                if let Some(context) = &entry.context {
                    let start = range.start.saturating_sub(CONTEXT_WINDOW);
                    let end = (range.end + CONTEXT_WINDOW).min(text.len());
                    if !context.is_match(&text[start..end]) {
                        continue;
                    }
                }
                out.push(Match {
                    profile: self.profile.clone(),
                    entry: entry.id.clone(),
                    range,
                });
            }
        }
    }

    pub fn scan(&self, text: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }
}
