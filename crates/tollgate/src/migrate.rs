//! `tollgate migrate --from sqlite://… --to postgres://…`: checks the source is at rest, runs the
//! target's migrations, copies (`store::transfer`) and prints progress and a summary. The
//! target URL is never printed with its password.

use std::time::Duration;

use anyhow::{Context, bail};
use tollgate_gateway::clock::monotonic_now;
use tollgate_gateway::store::postgres::PostgresStore;
use tollgate_gateway::store::transfer::{self, Progress, SqliteSource, Summary, TransferOptions};

use crate::cli::MigrateArgs;
use crate::terminal::printable;

/// Progress lines per table at most this often (the last batch of a table always prints).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let Some(location) = args
        .from
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
    else {
        bail!("--from must be sqlite://<database file or data directory>");
    };
    if !(args.to.starts_with("postgres://") || args.to.starts_with("postgresql://")) {
        bail!("--to must be a postgres:// URL");
    }
    if args.batch_rows == 0 {
        bail!("--batch-rows must be at least 1");
    }
    let target_name = redacted(&args.to);
    let location = std::path::PathBuf::from(location);
    let data_dir = args.data_dir.clone();
    // A running gateway owns its directory: the copy would miss what it is still writing.
    let _claim = crate::datadir::claim_existing(
        &SqliteSource::data_dir_of(&location, data_dir.as_deref()),
        &SqliteSource::db_path_of(&location),
    )?;
    // Checked before the target is touched: a refusal changes nothing anywhere.
    let source =
        tokio::task::spawn_blocking(move || SqliteSource::open(&location, data_dir.as_deref()))
            .await??;
    println!(
        "source: {} (instance {})",
        printable(&source.db_path().display().to_string()),
        printable(source.instance_id())
    );
    println!("target: {target_name}");
    let target = PostgresStore::connect(&args.to)
        .await
        .with_context(|| format!("cannot open {target_name}"))?;
    println!("target schema is up to date; copying");
    let options = TransferOptions {
        batch_rows: args.batch_rows,
        force: args.force,
        ..TransferOptions::default()
    };
    let mut last_line: Option<(&'static str, tokio::time::Instant)> = None;
    let mut progress = |p: &Progress| {
        let due = match last_line {
            Some((table, at)) => table != p.table || at.elapsed() >= PROGRESS_EVERY,
            None => true,
        };
        if due || p.done == p.total {
            eprintln!("  {}: {}/{}", p.table, p.done, p.total);
            last_line = Some((p.table, monotonic_now()));
        }
    };
    let summary = transfer::sqlite_to_postgres(&source, &target, &options, &mut progress).await?;
    print_summary(&summary);
    println!("done: point storage.url at {target_name} and start the gateway");
    Ok(())
}

fn print_summary(summary: &Summary) {
    println!(
        "{:<18} {:>12} {:>12} {:>12}",
        "TABLE", "IN SOURCE", "COPIED", "ALREADY THERE"
    );
    for table in &summary.tables {
        println!(
            "{:<18} {:>12} {:>12} {:>12}",
            table.table, table.source_rows, table.copied, table.skipped
        );
    }
}

/// The URL without its password (in the user part or a `password=` parameter).
fn redacted(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "the PostgreSQL database".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") {
                "***".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redacted("postgres://app:s3cret@db.internal:5432/tollgate?sslmode=require"),
            "postgres://app:***@db.internal:5432/tollgate?sslmode=require"
        );
        let shown = redacted("postgresql://app@db/tollgate?password=s3cret&sslmode=require");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(redacted("postgres://db/tollgate"), "postgres://db/tollgate");
        assert_eq!(redacted("postgres://[::1"), "the PostgreSQL database");
    }
}
