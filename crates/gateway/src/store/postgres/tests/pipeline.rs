//! The log pipeline (spool, shipper, crash recovery) of two instances on one database: what the
//! gateway runs, unchanged, with PostgreSQL behind it.

use std::sync::Arc;
use std::time::Duration;

use super::{ACCOUNT, GATEWAY, TestDb, begin, end};
use crate::clock::SystemClock;
use crate::gateways::GatewayRegistry;
use crate::logs::{LogPipeline, SpoolSettings};
use crate::store::Store;
use crate::store::logs::LogQuery;
use crate::tasks::Tasks;

async fn start(
    store: Arc<dyn Store>,
    dir: &std::path::Path,
    instance: &str,
) -> anyhow::Result<LogPipeline> {
    let settings = SpoolSettings {
        dir: dir.to_path_buf(),
        max_bytes: 64 * 1024 * 1024,
        segment_bytes: 1024 * 1024,
        fsync: false,
        linger: Duration::ZERO,
    };
    let gateways =
        Arc::new(GatewayRegistry::load(store.clone(), Arc::new(SystemClock), Tasks::new()).await?);
    LogPipeline::start(settings, store, gateways, instance.to_owned()).await
}

#[tokio::test]
async fn two_instances_ship_to_one_database_and_recover_only_their_own_rows() -> anyhow::Result<()>
{
    let db = TestDb::new().await?;
    let store: Arc<dyn Store> = Arc::new(db.store().await?);
    let (dir_one, dir_two) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let one = start(store.clone(), dir_one.path(), "inst-1").await?;
    let two = start(store.clone(), dir_two.path(), "inst-2").await?;
    for (pipeline, instance) in [(&one, "inst-1"), (&two, "inst-2")] {
        for i in 0..3 {
            let b = begin(&format!("{instance}-{i}"), instance, 1_000 + i);
            let e = end(&b, 10);
            pipeline.begin(b, Vec::new()).await?;
            pipeline.end(e, Vec::new()).await?;
        }
        // Cut short: only the begin is written.
        pipeline
            .begin(
                begin(&format!("{instance}-cut"), instance, 2_000),
                Vec::new(),
            )
            .await?;
        pipeline.flushed().await;
    }
    let q = LogQuery {
        page: 1,
        per_page: 50,
        ..LogQuery::default()
    };
    // A log written by one instance is listed by all.
    assert_eq!(
        store.list_logs(ACCOUNT, GATEWAY, &q).await?.1.total_count,
        6
    );
    // Instance one stops (as after a crash: its cut request never ends) and starts again from
    // its own checkpoint; only its own cut row is marked interrupted.
    one.shutdown().await;
    drop(one);
    let one = start(store.clone(), dir_one.path(), "inst-1").await?;
    let cut = store.get_log(ACCOUNT, GATEWAY, "inst-1-cut").await?;
    assert_eq!(
        cut.map(|r| (r.completed, r.error)),
        Some((true, Some("interrupted".to_owned())))
    );
    let running = store.get_log(ACCOUNT, GATEWAY, "inst-2-cut").await?;
    assert_eq!(running.map(|r| r.completed), Some(false));
    assert_eq!(
        store.list_logs(ACCOUNT, GATEWAY, &q).await?.1.total_count,
        7
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM spool_checkpoints").await?, 2);
    one.shutdown().await;
    two.shutdown().await;
    Ok(())
}
