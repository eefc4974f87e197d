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
pub async fn rotate_kek(
    store: &dyn Store,
    source: &KekSource,
    new: Option<Kek>,
) -> anyhow::Result<Rotation> {
    let Some(path) = kek::file_of(source) else {
        bail!(
            "the key-encryption key comes from secrets.key (or TOLLGATE_SECRETS__KEY), which a \
             running gateway cannot re-read: set secrets.key_file to a file holding the key to \
             rotate online, or follow docs/keys.md (\"Keys from the environment\")"
        );
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
