//! Rotating the key-encryption key while gateways keep serving (docs/keys.md,
//! `tollgate secrets rotate-kek`):
//!
//! 1. the key file gets a new key first, the old ones after it: from now on any gateway that
//!    reads the file (before sealing a secret, or on meeting a key id it does not know) seals
//!    new secrets under the new key and still opens the old ones;
//! 2. every data key still wrapped by an old key is rewrapped by the new one (each row
//!    compare-and-set, so a secret changed meanwhile is left to its writer), until none is left;
//! 3. the key file is rewritten with the new key alone.
//!
//! Running gateways never need to decrypt again for this: the secrets they hold are unchanged
//! (only their data keys were rewrapped), so requests go on as before.
//!
//! Keys from the environment cannot be rewritten by the command: there the operator lists the
//! new key first (`NEW,OLD`) and restarts, the command rewraps every row under it, and the
//! operator drops `OLD` and restarts again.

use std::path::Path;

use anyhow::{Context, bail};

use super::crypto::{self, Kek, Row};
use super::kek::{self, KekRing};
use crate::config::KekSource;
use crate::store::Store;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_kek_id: String,
    pub rewrapped: usize,
    /// Rows sealed under a key-encryption key the file did not hold (left as they are).
    pub unopenable: usize,
}

/// Rounds of step 2: a row written under an old key while a round ran is caught by the next.
const ROUNDS: usize = 5;

/// Rotates the key-encryption key of `source` (a key file) to `new`, or to a new random key.
/// With keys from `secrets.key` / `TOLLGATE_SECRETS__KEY` (`NEW,OLD,…`), which no running
/// gateway re-reads, it rewraps every row under the first of them and writes no file
/// (docs/keys.md, "Keys from the environment").
pub async fn rotate_kek(
    store: &dyn Store,
    source: &KekSource,
    new: Option<Kek>,
) -> anyhow::Result<Rotation> {
    let Some(path) = kek::file_of(source) else {
        return rewrap_to_first(store, source).await;
    };
    let path = path.to_owned();
    let old = blocking_load(source).await?;
    let new = match new {
        Some(new) => new,
        None => Kek::generate()?,
    };
    let mut listed: Vec<&Kek> = vec![&new];
    let previous = old_keys(&old, &new);
    listed.extend(previous.iter());
    write(&path, &listed).await?;

    let ring = KekRing::new(new.clone(), previous.clone());
    let mut rewrapped = 0;
    for _ in 0..ROUNDS {
        let (done, left, unopenable) = rewrap_round(store, &ring).await?;
        rewrapped += done;
        if left == 0 {
            write(&path, &[&new]).await?;
            return Ok(Rotation {
                new_kek_id: new.id().to_owned(),
                rewrapped,
                unopenable,
            });
        }
    }
    bail!(
        "stored keys kept changing under old key-encryption keys through {ROUNDS} rounds; the \
         key file lists the new key and the old ones, so nothing is lost: run the rotation again"
    )
}

/// Rewraps every row under the first key the configuration lists.
async fn rewrap_to_first(store: &dyn Store, source: &KekSource) -> anyhow::Result<Rotation> {
    let ring = blocking_load(source).await?;
    if ring.all().len() < 2 {
        bail!(
            "secrets.key (TOLLGATE_SECRETS__KEY) lists one key: list the new key first and the \
             current one after it (NEW,OLD), restart the gateways with that, and run this again \
             (docs/keys.md, \"Keys from the environment\")"
        );
    }
    let mut rewrapped = 0;
    for _ in 0..ROUNDS {
        let (done, left, unopenable) = rewrap_round(store, &ring).await?;
        rewrapped += done;
        if left == 0 {
            return Ok(Rotation {
                new_kek_id: ring.current().id().to_owned(),
                rewrapped,
                unopenable,
            });
        }
    }
    bail!("stored keys kept changing through {ROUNDS} rounds: run the rotation again")
}

/// Every key of `ring` but `new`, as a list for the file.
fn old_keys(ring: &KekRing, new: &Kek) -> Vec<Kek> {
    ring.all()
        .iter()
        .filter(|k| k.id() != new.id())
        .cloned()
        .collect()
}

/// Rewraps each row not yet under the current key; returns (rewrapped, still left, unopenable).
async fn rewrap_round(store: &dyn Store, ring: &KekRing) -> anyhow::Result<(usize, usize, usize)> {
    let current = ring.current();
    let (mut done, mut left, mut lost) = (0, 0, 0);
    for row in store.list_provider_keys().await? {
        if row.sealed.kek_id == current.id() {
            continue;
        }
        let Some(old) = ring.find(&row.sealed.kek_id) else {
            lost += 1;
            continue;
        };
        let identity = Row {
            account_id: &row.account_id,
            gateway_id: &row.gateway_id,
            id: &row.id,
        };
        let new = crypto::rewrap(old, current, identity, &row.sealed)
            .with_context(|| format!("stored key {} does not open", row.id))?;
        if store
            .rewrap_provider_key(&row.id, &row.sealed, &new)
            .await?
        {
            done += 1;
        } else {
            // Changed since it was read: looked at again next round.
            left += 1;
        }
    }
    Ok((done, left, lost))
}

async fn blocking_load(source: &KekSource) -> anyhow::Result<KekRing> {
    let source = source.clone();
    tokio::task::spawn_blocking(move || kek::load(&source)).await?
}

async fn write(path: &Path, keys: &[&Kek]) -> anyhow::Result<()> {
    let path = path.to_owned();
    let keys: Vec<Kek> = keys.iter().map(|k| (*k).clone()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&Kek> = keys.iter().collect();
        kek::replace_file(&path, &refs)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Secret;
    use crate::store::sqlite::SqliteStore;

    /// With keys from the environment: one key is refused with what to do; `NEW,OLD` rewraps
    /// every row under NEW, writing no file.
    #[tokio::test]
    async fn keys_from_the_environment_are_rotated_by_listing_the_new_one_first()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("t.db"))?);
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        store
            .insert_gateway(&crate::gateways::Gateway {
                account_id: "local".into(),
                id: "gw".into(),
                settings: crate::gateways::GatewaySettings::default(),
                created_at: now,
                modified_at: now,
            })
            .await?;
        let (old, new) = (Kek::generate()?, Kek::generate()?);
        let row = Row {
            account_id: "local",
            gateway_id: "gw",
            id: "k1",
        };
        store
            .insert_provider_key(&crate::store::StoredProviderKey {
                id: "k1".into(),
                account_id: "local".into(),
                gateway_id: "gw".into(),
                alias: "default".into(),
                provider_slug: "openai".into(),
                default_config: true,
                secret_id: "s1".into(),
                secret_preview: "...".into(),
                sealed: crypto::seal(&old, row, b"sk-env")?,
                rate_limit: None,
                rate_limit_period: None,
                status: crate::store::KeyStatus::Active,
                created_at: now,
                modified_at: now,
                last_used_at: None,
            })
            .await?;
        let only_old = KekSource::Inline(Secret::new(old.encode().to_string()));
        let refused = rotate_kek(store.as_ref(), &only_old, None).await;
        assert!(
            refused
                .err()
                .is_some_and(|e| e.to_string().contains("NEW,OLD"))
        );
        let both = KekSource::Inline(Secret::new(format!("{},{}", *new.encode(), *old.encode())));
        let rotation = rotate_kek(store.as_ref(), &both, None).await?;
        assert_eq!(
            (rotation.rewrapped, rotation.new_kek_id.as_str()),
            (1, new.id())
        );
        let sealed = &store.list_provider_keys().await?[0].sealed;
        assert_eq!(crypto::open(&new, row, sealed)?.as_slice(), b"sk-env");
        Ok(())
    }
}
