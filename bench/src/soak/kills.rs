//! Stage (g): SIGKILL at random moments under load, repeated on one data directory (the
//! approach of `crates/tollgate/tests/durability.rs`). Afterwards every request the mock saw
//! must have exactly one row, completed or marked interrupted.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::procs::{Gateway, Mock};
use super::report::Section;
use super::rows::Rows;
use super::traffic::{Lcg, chat, chat_body, chat_url};

const REQUESTS_PER_ROUND: usize = 150;
const CONCURRENCY: usize = 24;
const HANG_GUARD: Duration = Duration::from_secs(60);

pub async fn run(
    gateway_bin: &Path,
    mock: &Mock,
    kills: usize,
    seed: u64,
) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!("(g) {kills} SIGKILLs under load"));
    let dir = tempfile::tempdir()?;
    mock.clear_requests().await?;
    // Records linger 20 ms before each write, so kills often land inside that window.
    let env = [("TOLLGATE_LOGS__COMMIT_LINGER_MS", "20")];
    let mut rng = Lcg(seed);
    let mut seq = 0usize;
    let mut finished_all = HashSet::new();
    for _ in 0..kills {
        let gateway = Gateway::start(gateway_bin, dir.path(), mock, &env).await?;
        let http = reqwest::Client::new();
        let url = chat_url(&gateway.base, "default");
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
        let kill_after = 5 + usize::try_from(rng.below(REQUESTS_PER_ROUND as u64 - 20))?;
        let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..kill_after {
            let n = seq;
            seq += 1;
            let permit = Arc::clone(&semaphore).acquire_owned().await?;
            let (http, url, finished) = (http.clone(), url.clone(), finished_tx.clone());
            tasks.spawn(async move {
                let stream = n.is_multiple_of(2);
                let body = chat_body(&format!("kill stage request {n} with a few words"), stream);
                let headers = [
                    ("cf-aig-event-id", format!("kill-{n}")),
                    ("x-seq", n.to_string()),
                    (
                        "x-mock-chunk-delay-ms",
                        if stream { "3" } else { "0" }.to_owned(),
                    ),
                ];
                if let Ok(answer) = chat(&http, &url, &body, &headers, None).await
                    && answer.status == 200
                    && (answer.complete_stream() || (!stream && answer.clean_end))
                {
                    let _ = finished.send(n);
                }
                drop(permit);
            });
        }
        drop(finished_tx);
        // Kill once half of this round's requests finished, with others still in flight.
        for _ in 0..kill_after / 2 {
            match tokio::time::timeout(HANG_GUARD, finished_rx.recv()).await? {
                Some(n) => {
                    finished_all.insert(n);
                }
                None => break,
            }
        }
        gateway.kill().await?;
        while tasks.join_next().await.is_some() {}
        while let Ok(n) = finished_rx.try_recv() {
            finished_all.insert(n);
        }
    }
    // The last start replays the spool and marks what the last kill cut off; a clean stop follows.
    let gateway = Gateway::start(gateway_bin, dir.path(), mock, &env).await?;
    let database = gateway.database();
    let (clean_exit, _) = gateway.terminate(HANG_GUARD).await?;

    let rows = Rows::read(&database)?;
    let seen: HashSet<usize> =
        mock.request_headers()
            .await?
            .iter()
            .filter_map(|headers| {
                headers.as_array()?.iter().find_map(|pair| {
                    (pair[0] == "x-seq").then(|| pair[1].as_str()?.parse().ok())?
                })
            })
            .collect();
    let lost = seen
        .iter()
        .filter(|n| !rows.by_event.contains_key(&format!("kill-{n}")))
        .count();
    let incomplete = seen
        .iter()
        .filter(|n| {
            rows.by_event
                .get(&format!("kill-{n}"))
                .is_some_and(|(_, completed, _)| !completed)
        })
        .count();
    let interrupted = rows
        .by_event
        .values()
        .filter(|(_, _, error)| error.as_deref() == Some("interrupted"))
        .count();
    let finished_wrong = finished_all
        .iter()
        .filter(|n| {
            rows.by_event
                .get(&format!("kill-{n}"))
                .is_none_or(|(_, completed, error)| !completed || error.is_some())
        })
        .count();
    section.row("requests sent", seq);
    section.row("requests the upstream saw", seen.len());
    section.row("requests finished for the client", finished_all.len());
    section.row("rows lost (upstream saw, no row)", lost);
    section.row("rows duplicated", rows.duplicated("kill-"));
    section.row("rows left incomplete after restart", incomplete);
    section.row("rows marked interrupted", interrupted);
    section.row(
        "finished for the client but row not a success",
        finished_wrong,
    );
    section.row(
        "database integrity_check",
        if rows.integrity_ok { "ok" } else { "FAILED" },
    );
    section.row("final SIGTERM exit 0", clean_exit);
    Ok(section)
}
