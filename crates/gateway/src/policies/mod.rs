//! Policies, Cloudflare's identity-based rules: each names an actor bucket, the resources it
//! covers, a CEL condition and an action (no limit, block, an allowlist, or a USD limit per
//! calendar UTC period). This module parses and validates them and evaluates them for a
//! request, written once so that the proxy and `simulate` cannot disagree (docs/budgets.md,
//! "Policies").

mod cache;
mod condition;
mod evaluate;
mod policy;

use serde_json::Value;

pub use cache::{PolicyCache, compile};
pub use condition::{Condition, MAX_CONDITION_BYTES};
pub use evaluate::{Bucket, Cap, Decision, Enforcement, Evaluation, evaluate};
pub use policy::{Action, Policy, Resource};

/// What a policy reads of a request: its metadata (with a run token's, and its id), the
/// provider and the model.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub metadata: &'a [(String, Value)],
    pub model: Option<&'a str>,
    pub provider: &'a str,
}
