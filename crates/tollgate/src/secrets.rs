//! `tollgate secrets rotate-kek`: a new key-encryption key for stored provider keys, while
//! gateways keep serving (docs/keys.md). It opens the store the configuration names (the same
//! database running gateways use) and the key file, and does the rotation itself; the gateways
//! pick the new key up from the key file when they next seal a secret or meet a row under it.

use anyhow::Context;
use tollgate_gateway::config::{Config, Overrides, StorageConfig};
use tollgate_gateway::store::Store;
use tollgate_gateway::store::postgres::PostgresStore;
use tollgate_gateway::store::sqlite::SqliteStore;

use crate::cli::ConfigArgs;

pub async fn rotate_kek(args: ConfigArgs) -> anyhow::Result<()> {
    crate::datadir::modes::private_umask();
    let config = Config::load(args.config.as_deref(), &Overrides::default())?;
    let store: Box<dyn Store> = match &config.storage {
        StorageConfig::Sqlite { path } => {
            let path = path.clone();
            Box::new(tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??)
        }
        StorageConfig::Postgres { url } => Box::new(
            PostgresStore::connect(url.expose())
                .await
                .context("cannot open the PostgreSQL store")?,
        ),
    };
    let rotation =
        tollgate_gateway::keys::rotate_kek(store.as_ref(), &config.secrets.kek, None).await?;
    println!(
        "new key-encryption key {}; {} stored key(s) rewrapped",
        rotation.new_kek_id, rotation.rewrapped
    );
    if rotation.unopenable > 0 {
        println!(
            "{} stored key(s) are sealed under a key-encryption key the key file did not hold \
             and were left as they are (docs/keys.md)",
            rotation.unopenable
        );
    }
    Ok(())
}
