//! The built-in profiles (docs/dlp.md): `financial`, `national_ids` and `credentials`, each
//! entry a regex, the validator its match must pass, and the context words it needs nearby
//! when the digits alone are too common (a nine-digit number is a routing number only near
//! the word "routing").
//!
//! Patterns use ASCII word boundaries (`(?-u:\b)`), which keep every pattern inside the
//! regex crate's DFA engines (a Unicode `\b` falls back to a slower one on non-ASCII text).

use std::sync::{Arc, LazyLock};

use super::scanner::{EntrySpec, ProfileSpec, Scanner};
use super::validate::Validator;

/// The built-in profile ids, in the order their descriptions are listed.
pub const BUILTIN_IDS: [&str; 3] = ["financial", "national_ids", "credentials"];

fn entry(
    id: &'static str,
    name: &'static str,
    regex: &'static str,
    validator: Option<Validator>,
    context: &'static [&'static str],
) -> EntrySpec {
    EntrySpec {
        id: id.into(),
        name: name.into(),
        regex: regex.into(),
        validator,
        context: context.iter().map(|word| (*word).to_owned()).collect(),
    }
}

/// The built-in profiles' definitions.
pub fn specs() -> Vec<ProfileSpec> {
    vec![
        ProfileSpec {
            id: "financial".into(),
            name: "Financial Information".into(),
            entries: vec![
                entry(
                    "credit_card",
                    "Credit card number",
                    r"(?-u:\b)\d(?:[ -]?\d){12,18}(?-u:\b)",
                    Some(Validator::PaymentCard),
                    &[],
                ),
                entry(
                    "iban",
                    "IBAN",
                    r"(?-u:\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)",
                    Some(Validator::Iban),
                    &[],
                ),
                entry(
                    "aba_routing",
                    "US ABA routing number",
                    r"(?-u:\b)\d{9}(?-u:\b)",
                    Some(Validator::AbaRouting),
                    &["routing", "aba", "rtn", "transit", "bank", "ach", "wire"],
                ),
            ],
        },
        ProfileSpec {
            id: "national_ids".into(),
            name: "Social, Insurance, Tax and Identity Numbers".into(),
            entries: vec![
                entry(
                    "us_ssn",
                    "US Social Security number",
                    r"(?-u:\b)\d{3}[- ]\d{2}[- ]\d{4}(?-u:\b)",
                    Some(Validator::UsSsn),
                    &[],
                ),
                entry(
                    "uk_nino",
                    "UK National Insurance number",
                    r"(?-u:\b)[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?-u:\b)",
                    Some(Validator::UkNino),
                    &[],
                ),
                entry(
                    "ca_sin",
                    "Canadian Social Insurance number",
                    r"(?-u:\b)\d{3}[- ]?\d{3}[- ]?\d{3}(?-u:\b)",
                    Some(Validator::CaSin),
                    &["sin", "social insurance", "assurance sociale", "nas"],
                ),
            ],
        },
        ProfileSpec {
            id: "credentials".into(),
            name: "Credentials and Secrets".into(),
            entries: vec![
                entry(
                    "openai_api_key",
                    "OpenAI API key",
                    r"(?-u:\b)sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
                    Some(Validator::NotAnthropicKey),
                    &[],
                ),
                entry(
                    "anthropic_api_key",
                    "Anthropic API key",
                    r"(?-u:\b)sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{32,}",
                    None,
                    &[],
                ),
                entry(
                    "google_api_key",
                    "Google API key",
                    r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
                    None,
                    &[],
                ),
                entry(
                    "github_token",
                    "GitHub token",
                    r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})(?-u:\b)",
                    None,
                    &[],
                ),
                entry(
                    "slack_token",
                    "Slack token",
                    r"(?-u:\b)xox[abposr]-[A-Za-z0-9-]{10,}",
                    None,
                    &[],
                ),
                entry(
                    "stripe_secret_key",
                    "Stripe secret key",
                    r"(?-u:\b)[rs]k_live_[A-Za-z0-9]{20,}(?-u:\b)",
                    None,
                    &[],
                ),
                entry(
                    "aws_access_key_id",
                    "AWS access key id",
                    r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
                    None,
                    &[],
                ),
                entry(
                    "private_key",
                    "Private key block",
                    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----",
                    None,
                    &[],
                ),
                entry(
                    "jwt",
                    "JSON Web Token",
                    r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
                    Some(Validator::Jwt),
                    &[],
                ),
            ],
        },
    ]
}

/// The built-in profiles, compiled once per process.
static COMPILED: LazyLock<Vec<Arc<Scanner>>> = LazyLock::new(|| {
    specs()
        .into_iter()
        .filter_map(|spec| match Scanner::compile(&spec) {
            Ok(scanner) => Some(Arc::new(scanner)),
            Err(why) => {
                // Cannot happen with the patterns above (a unit test compiles them all).
                tracing::error!(profile = %spec.id, %why, "built-in DLP profile does not compile");
                None
            }
        })
        .collect()
});

/// A built-in profile's compiled scanner.
pub fn builtin(id: &str) -> Option<Arc<Scanner>> {
    COMPILED.iter().find(|s| s.profile_id() == id).cloned()
}
