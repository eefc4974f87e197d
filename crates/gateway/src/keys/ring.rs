//! The key ring: every stored provider key in memory, decrypted once, grouped the way requests
//! pick them (docs/keys.md): by gateway, provider and alias, or the provider's default keys;
//! round-robin within a group, skipping keys that are invalid or at their rate limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::secret::SecretText;
use super::sigv4::AwsKey;
use super::vertex::ServiceAccount;
use crate::store::{KeyStatus, StoredProviderKey};

/// One stored key as requests use it.
#[derive(Debug)]
pub struct LiveKey {
    pub row: StoredProviderKey,
    /// None when the key-encryption key it was sealed under is not loaded (docs/keys.md).
    pub secret: Option<SecretText>,
    /// The secret read as AWS credentials, when it is some (Bedrock keys).
    pub aws: Option<AwsKey>,
    /// The secret read as a Google service account, when it is one (Vertex AI keys).
    pub service_account: Option<Arc<ServiceAccount>>,
    /// Set the moment a provider refuses the key, before the store has the status.
    refused: AtomicBool,
    /// Requests counted in the current rate-limit window: (window start ms, count).
    window: Mutex<(i64, u64)>,
    last_used_ms: AtomicI64,
    /// When `last_used_at` was last written to the store.
    pub(super) persisted_ms: AtomicI64,
}

impl LiveKey {
    fn new(row: StoredProviderKey, secret: Option<SecretText>) -> LiveKey {
        let last_used = row.last_used_at.map_or(0, |t| t.as_millisecond());
        let aws = secret
            .as_ref()
            .filter(|s| s.expose().starts_with('{'))
            .and_then(|s| AwsKey::parse(s.expose()).ok());
        let service_account = secret
            .as_ref()
            .filter(|s| s.expose().contains("service_account"))
            .and_then(|s| ServiceAccount::parse(s.expose()).ok())
            .map(Arc::new);
        LiveKey {
            row,
            secret,
            aws,
            service_account,
            refused: AtomicBool::new(false),
            window: Mutex::new((0, 0)),
            last_used_ms: AtomicI64::new(last_used),
            persisted_ms: AtomicI64::new(last_used),
        }
    }

    /// A usable key: opened, and not refused by the provider.
    pub fn usable(&self) -> bool {
        self.secret.is_some() && self.status() == KeyStatus::Active
    }

    /// The status as this instance knows it (a refusal counts before the store has it).
    pub fn status(&self) -> KeyStatus {
        if self.refused.load(Ordering::Relaxed) {
            KeyStatus::Invalid
        } else {
            self.row.status
        }
    }

    pub fn mark_refused(&self) {
        self.refused.store(true, Ordering::Relaxed);
    }

    pub fn last_used_ms(&self) -> Option<i64> {
        Some(self.last_used_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }

    /// Takes one request of the key's rate limit (fixed windows of `rate_limit_period` seconds,
    /// counted by this instance); false when the window is full.
    fn take(&self, now_ms: i64) -> bool {
        let (Some(limit), Some(period)) = (self.row.rate_limit, self.row.rate_limit_period) else {
            return true;
        };
        let Ok(mut window) = self.window.lock() else {
            return true;
        };
        if now_ms - window.0 >= i64::from(period) * 1000 || now_ms < window.0 {
            *window = (now_ms, 0);
        }
        if window.1 >= u64::from(limit) {
            return false;
        }
        window.1 += 1;
        true
    }

    fn record_use(&self, now_ms: i64) {
        self.last_used_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Keeps what this instance learned about the same key before a reload: its window, its
    /// last use, and a refusal not yet read back from the store (unless the key was edited).
    fn carry_from(&self, old: &LiveKey) {
        if let (Ok(mut window), Ok(old_window)) = (self.window.lock(), old.window.lock()) {
            *window = *old_window;
        }
        self.last_used_ms
            .fetch_max(old.last_used_ms.load(Ordering::Relaxed), Ordering::Relaxed);
        self.persisted_ms
            .fetch_max(old.persisted_ms.load(Ordering::Relaxed), Ordering::Relaxed);
        if old.refused.load(Ordering::Relaxed) && old.row.modified_at == self.row.modified_at {
            self.refused.store(true, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Default)]
struct Group {
    keys: Vec<Arc<LiveKey>>,
    next: AtomicUsize,
}

/// One provider's keys on one gateway: by alias, and its default keys.
#[derive(Debug, Default)]
struct ProviderKeys {
    by_alias: HashMap<String, Group>,
    defaults: Group,
}

/// account → gateway → provider: looked up by `&str` at each level, so choosing a key allocates
/// nothing.
type ByGateway = HashMap<String, HashMap<String, HashMap<String, ProviderKeys>>>;

/// Why no key was chosen although the request asked for one.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No key of the provider has the alias; the aliases it has, sorted.
    UnknownAlias(Vec<String>),
    /// Every usable key of the group is at its rate limit.
    AllLimited,
}

#[derive(Debug, Default)]
pub struct Ring {
    /// Every key, in the store's order (account, gateway, age).
    pub keys: Vec<Arc<LiveKey>>,
    groups: ByGateway,
    /// The header values this ring sends, to know which key a request upstream carried.
    by_credential: HashMap<Vec<u8>, Arc<LiveKey>>,
}

/// How a SigV4-signed request's key is found: by its access key id.
pub fn sigv4_entry(access_key_id: &[u8]) -> Vec<u8> {
    [b"AWS4 ".as_slice(), access_key_id].concat()
}

fn sorted<'a>(aliases: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut aliases: Vec<String> = aliases.cloned().collect();
    aliases.sort();
    aliases
}

/// The alias a request without `cf-aig-byok-alias` uses when no key is marked default.
pub const DEFAULT_ALIAS: &str = "default";

impl Ring {
    /// A ring of `rows`; a row whose secret `old` already opened (same id and secret id) keeps
    /// it, so only new or changed secrets are decrypted with `open`. A row `old` could not open
    /// is tried again only when it changed or `new_keks` (the key-encryption keys changed), so an
    /// unopenable row is reported once, not at every reload.
    pub fn build(
        rows: Vec<StoredProviderKey>,
        old: &Ring,
        new_keks: bool,
        open: impl Fn(&StoredProviderKey) -> Option<SecretText>,
    ) -> Ring {
        let previous: HashMap<&str, &Arc<LiveKey>> =
            old.keys.iter().map(|k| (k.row.id.as_str(), k)).collect();
        let mut ring = Ring::default();
        for row in rows {
            let before = previous
                .get(row.id.as_str())
                .filter(|k| k.row.secret_id == row.secret_id);
            let secret = match before {
                Some(before) if before.secret.is_some() => before.secret.clone(),
                Some(before) if !new_keks && before.row.sealed == row.sealed => None,
                _ => open(&row),
            };
            let key = LiveKey::new(row, secret);
            if let Some(before) = previous.get(key.row.id.as_str()) {
                key.carry_from(before);
            }
            ring.add(Arc::new(key));
        }
        ring
    }

    fn add(&mut self, key: Arc<LiveKey>) {
        let provider = self
            .groups
            .entry(key.row.account_id.clone())
            .or_default()
            .entry(key.row.gateway_id.clone())
            .or_default()
            .entry(key.row.provider_slug.clone())
            .or_default();
        provider
            .by_alias
            .entry(key.row.alias.clone())
            .or_default()
            .keys
            .push(key.clone());
        if key.row.default_config {
            provider.defaults.keys.push(key.clone());
        }
        if let Some(secret) = &key.secret {
            let raw = secret.expose().as_bytes().to_vec();
            self.by_credential.insert(
                format!("Bearer {}", secret.expose()).into_bytes(),
                key.clone(),
            );
            self.by_credential.insert(raw, key.clone());
        }
        if let Some(aws) = &key.aws {
            self.by_credential
                .insert(sigv4_entry(aws.access_key_id.as_bytes()), key.clone());
        }
        self.keys.push(key);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a request to `provider` through the gateway gets: the next usable one of
    /// `alias`, or of the provider's default keys (those marked `default_config`, else those of
    /// alias `default`). `Ok(None)`: no stored key applies.
    pub fn choose(
        &self,
        account_id: &str,
        gateway_id: &str,
        provider: &str,
        alias: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Arc<LiveKey>>, Refusal> {
        let Some(keys) = self
            .groups
            .get(account_id)
            .and_then(|gateways| gateways.get(gateway_id))
            .and_then(|providers| providers.get(provider))
        else {
            return match alias {
                Some(_) => Err(Refusal::UnknownAlias(Vec::new())),
                None => Ok(None),
            };
        };
        let group = match alias {
            Some(alias) => match keys.by_alias.get(alias) {
                Some(group) => group,
                None => return Err(Refusal::UnknownAlias(sorted(keys.by_alias.keys()))),
            },
            None if !keys.defaults.keys.is_empty() => &keys.defaults,
            None => match keys.by_alias.get(DEFAULT_ALIAS) {
                Some(group) => group,
                None => return Ok(None),
            },
        };
        let count = group.keys.len();
        let start = group.next.fetch_add(1, Ordering::Relaxed);
        let mut any_usable = false;
        for offset in 0..count {
            let key = &group.keys[(start + offset) % count];
            if !key.usable() {
                continue;
            }
            any_usable = true;
            if key.take(now_ms) {
                key.record_use(now_ms);
                return Ok(Some(key.clone()));
            }
        }
        if any_usable {
            Err(Refusal::AllLimited)
        } else {
            Ok(None)
        }
    }

    /// The stored key whose credential is this header value, if any.
    pub fn by_credential(&self, value: &[u8]) -> Option<&Arc<LiveKey>> {
        self.by_credential.get(value)
    }

    pub fn get(&self, account_id: &str, gateway_id: &str, id: &str) -> Option<&Arc<LiveKey>> {
        self.keys.iter().find(|k| {
            k.row.id == id && k.row.account_id == account_id && k.row.gateway_id == gateway_id
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SealedSecret;

    fn row(id: &str, alias: &str, default_config: bool) -> StoredProviderKey {
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        StoredProviderKey {
            id: id.into(),
            account_id: "local".into(),
            gateway_id: "gw".into(),
            alias: alias.into(),
            provider_slug: "openai".into(),
            default_config,
            secret_id: format!("s-{id}"),
            secret_preview: "...".into(),
            sealed: SealedSecret {
                kek_id: "k".into(),
                wrapped_key: Vec::new(),
                ciphertext: Vec::new(),
            },
            rate_limit: None,
            rate_limit_period: None,
            status: KeyStatus::Active,
            created_at: now,
            modified_at: now,
            last_used_at: None,
        }
    }

    fn ring(rows: Vec<StoredProviderKey>) -> Ring {
        Ring::build(rows, &Ring::default(), false, |row| {
            Some(SecretText::new(format!("secret-{}", row.id)))
        })
    }

    fn chosen(ring: &Ring, alias: Option<&str>, now_ms: i64) -> Result<Option<String>, Refusal> {
        ring.choose("local", "gw", "openai", alias, now_ms)
            .map(|key| key.map(|k| k.row.id.clone()))
    }

    #[test]
    fn keys_of_an_alias_take_turns_and_invalid_ones_are_skipped() {
        let ring = ring(vec![
            row("a", "prod", true),
            row("b", "prod", false),
            row("c", "x", false),
        ]);
        let turns: Vec<_> = (0..4).map(|_| chosen(&ring, Some("prod"), 0)).collect();
        assert_eq!(
            turns,
            [
                Ok(Some("a".into())),
                Ok(Some("b".into())),
                Ok(Some("a".into())),
                Ok(Some("b".into()))
            ]
        );
        assert_eq!(
            chosen(&ring, None, 0),
            Ok(Some("a".into())),
            "the default key"
        );
        ring.keys[0].mark_refused();
        assert_eq!(chosen(&ring, Some("prod"), 0), Ok(Some("b".into())));
        assert_eq!(chosen(&ring, Some("prod"), 0), Ok(Some("b".into())));
        assert_eq!(chosen(&ring, None, 0), Ok(None), "no usable default key");
        assert_eq!(
            chosen(&ring, Some("nope"), 0),
            Err(Refusal::UnknownAlias(vec!["prod".into(), "x".into()]))
        );
    }

    #[test]
    fn a_row_that_does_not_open_is_tried_again_only_when_it_or_the_keys_change() {
        let stored = row("a", "default", true);
        let tries = std::cell::Cell::new(0);
        let open = |_: &StoredProviderKey| {
            tries.set(tries.get() + 1);
            None
        };
        let first = Ring::build(vec![stored.clone()], &Ring::default(), false, open);
        let second = Ring::build(vec![stored.clone()], &first, false, open);
        assert_eq!(tries.get(), 1);
        Ring::build(vec![stored.clone()], &second, true, open);
        assert_eq!(tries.get(), 2);
    }

    #[test]
    fn a_key_at_its_rate_limit_waits_for_the_next_window() {
        let mut limited = row("a", "default", false);
        limited.rate_limit = Some(2);
        limited.rate_limit_period = Some(60);
        let ring = ring(vec![limited]);
        assert_eq!(
            chosen(&ring, None, 1_000),
            Ok(Some("a".into())),
            "alias default"
        );
        assert_eq!(chosen(&ring, None, 2_000), Ok(Some("a".into())));
        assert_eq!(chosen(&ring, None, 3_000), Err(Refusal::AllLimited));
        assert_eq!(chosen(&ring, None, 61_000), Ok(Some("a".into())));
    }

    #[test]
    fn a_reload_keeps_opened_secrets_and_a_refusal_of_an_unedited_key() {
        let stored = row("a", "default", true);
        let first = ring(vec![stored.clone()]);
        first.keys[0].mark_refused();
        let reloaded = Ring::build(vec![stored.clone()], &first, false, |_| None);
        assert!(reloaded.keys[0].secret.is_some(), "not decrypted again");
        assert_eq!(reloaded.keys[0].status(), KeyStatus::Invalid);
        // An edit changes `modified_at`: the refusal was about the key as it was.
        let edited = StoredProviderKey {
            modified_at: stored.modified_at + jiff::SignedDuration::from_secs(1),
            ..stored
        };
        let after_edit = Ring::build(vec![edited], &first, false, |_| None);
        assert_eq!(after_edit.keys[0].status(), KeyStatus::Active);
    }
}
