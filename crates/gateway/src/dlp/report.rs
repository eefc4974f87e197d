//! What one side of a request is scanned with (the profiles its gateway's active policies
//! name, each with the strongest of their actions) and what the scan found: the entries each
//! profile matched and the action that follows, as the `cf-aig-dlp` header and the log show it
//! (docs/dlp.md). Entry ids only, never the matched text.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use serde_json::{Value, json};

use super::builtin::builtin;
use super::policy::{Action, Check, DlpSettings};
use super::profiles::CustomScanners;
use super::scanner::{Match, Scanner};

/// A profile to scan with, the action its matches take, and the policies that named it.
struct Rule {
    scanner: Arc<Scanner>,
    action: Action,
    policies: Vec<String>,
}

/// The scan of one side (request or response) of a gateway's requests.
pub struct SideScan {
    check: Check,
    rules: Vec<Rule>,
}

impl SideScan {
    /// `None` when no enabled policy checks `check`.
    pub fn for_settings(settings: Option<&DlpSettings>, check: Check) -> Option<SideScan> {
        Self::for_settings_with(settings, check, None)
    }

    /// [`SideScan::for_settings`] with the account's custom profiles: a policy naming one
    /// that no longer exists scans with the others (docs/dlp.md, "Custom profiles").
    pub fn for_settings_with(
        settings: Option<&DlpSettings>,
        check: Check,
        custom: Option<&CustomScanners>,
    ) -> Option<SideScan> {
        let mut rules: Vec<Rule> = Vec::new();
        for policy in settings?.active(check) {
            for profile in policy.profiles {
                if let Some(rule) = rules.iter_mut().find(|r| r.scanner.profile_id() == profile) {
                    rule.action = rule.action.max(policy.action);
                    rule.policies.push(policy.id.to_owned());
                } else if let Some(scanner) = builtin(profile).or_else(|| {
                    custom
                        .and_then(|custom| custom.get(profile))
                        .map(|(_, scanner)| Arc::clone(scanner))
                }) {
                    rules.push(Rule {
                        scanner,
                        action: policy.action,
                        policies: vec![policy.id.to_owned()],
                    });
                }
            }
        }
        (!rules.is_empty()).then_some(SideScan { check, rules })
    }

    pub fn check(&self) -> Check {
        self.check
    }

    /// Scans one text: its matches go into `report`, and those to redact into `redact`
    /// (byte ranges of `text` with the entry each is replaced by).
    pub fn scan(
        &self,
        text: &[u8],
        report: &mut Report,
        redact: &mut Vec<(Range<usize>, Arc<str>)>,
    ) {
        let mut found: Vec<Match> = Vec::new();
        for rule in &self.rules {
            found.clear();
            rule.scanner.scan_into(text, &mut found);
            for hit in &found {
                report.add(self.check, rule.action, &rule.policies, hit);
                if rule.action == Action::Redact {
                    redact.push((hit.range.clone(), hit.entry.clone()));
                }
            }
        }
    }
}

/// One profile's matches on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: Check,
    pub profile_id: String,
    pub entry_ids: BTreeSet<String>,
    pub policy_ids: BTreeSet<String>,
}

/// Everything a request's scans found; empty when nothing matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// By (side, profile).
    findings: BTreeMap<(Check, String), Finding>,
    /// The strongest action of any match.
    pub action: Option<Action>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    fn add(&mut self, check: Check, action: Action, policies: &[String], hit: &Match) {
        let finding = self
            .findings
            .entry((check, hit.profile.to_string()))
            .or_insert_with(|| Finding {
                check,
                profile_id: hit.profile.to_string(),
                entry_ids: BTreeSet::new(),
                policy_ids: BTreeSet::new(),
            });
        finding.entry_ids.insert(hit.entry.to_string());
        finding.policy_ids.extend(policies.iter().cloned());
        self.action = self.action.max(Some(action));
    }

    /// Adds another scan's findings (the response's to the request's).
    pub fn merge(&mut self, other: Report) {
        for (key, finding) in other.findings {
            match self.findings.get_mut(&key) {
                Some(mine) => {
                    mine.entry_ids.extend(finding.entry_ids);
                    mine.policy_ids.extend(finding.policy_ids);
                }
                None => {
                    self.findings.insert(key, finding);
                }
            }
        }
        self.action = self.action.max(other.action);
    }

    /// The matched entries as `profile.entry`, each once.
    pub fn entry_ids(&self) -> Vec<String> {
        let ids: BTreeSet<String> = self
            .findings
            .values()
            .flat_map(|f| {
                f.entry_ids
                    .iter()
                    .map(move |e| format!("{}.{e}", f.profile_id))
            })
            .collect();
        ids.into_iter().collect()
    }

    /// Cloudflare's `cf-aig-dlp` value: `{findings:[{profile:{context, entry_ids, profile_id},
    /// policy_ids, check}], action}`. `context` is always null: the matched text is never kept.
    pub fn to_json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .values()
            .map(|f| {
                json!({
                    "profile": {"context": null, "entry_ids": f.entry_ids, "profile_id": f.profile_id},
                    "policy_ids": f.policy_ids,
                    "check": f.check.as_str(),
                })
            })
            .collect();
        json!({"findings": findings, "action": self.action.map(Action::as_str)})
    }
}
