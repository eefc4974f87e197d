//! Data loss prevention inside the gateway (docs/dlp.md): profiles of entries (a regex, an
//! optional validator, optional context words) compiled once, scans that report where the
//! matches are and never keep their text, the gateway's `dlp` policies in both of
//! Cloudflare's shapes, and the scanning of request bodies and (streamed) responses.

mod body;
mod builtin;
mod custom;
mod policy;
mod profiles;
mod report;
mod scanner;
mod stream;
mod validate;

pub use body::{BodyScan, redacted, scan_body};
pub use builtin::{BUILTIN_IDS, builtin, specs as builtin_specs};
pub use custom::{CustomEntry, CustomProfile, MAX_CUSTOM_PROFILES, is_custom_id};
pub use policy::{Action, Check, DlpSettings, LEGACY_POLICY_ID, Policy};
pub use profiles::{CustomProfiles, CustomScanners};
pub use report::{Finding, Report, SideScan};
pub use scanner::{
    CONTEXT_WINDOW, EntrySpec, MAX_CONTEXT_WORD_BYTES, MAX_CONTEXT_WORDS, MAX_ENTRIES, MAX_MATCHES,
    MAX_PATTERN_BYTES, Match, ProfileSpec, Scanner, compile_pattern,
};
pub use stream::{LOOKBACK, MAX_PENDING, StreamScan, StreamStep};
pub use validate::Validator;

/// Reads a stored gateway's `dlp`: a value this version cannot read (stored as sent before
/// the field was acted on) becomes `None` with a warning, so the gateway still loads.
pub fn lenient_settings<'de, D>(deserializer: D) -> Result<Option<DlpSettings>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = <Option<serde_json::Value> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => match DlpSettings::parse(&value) {
            Ok(settings) => Some(settings),
            Err(why) => {
                tracing::warn!(%why, "a stored gateway's dlp setting is not valid; ignored");
                None
            }
        },
    })
}

#[cfg(test)]
mod tests;
