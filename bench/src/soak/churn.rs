//! Stage (d): connection churn, a new TCP connection for every request. The gateway's fds must
//! come back to where they were (no leak) and requests must keep succeeding.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::observe::{sample, settle};
use super::procs::Gateway;
use super::report::Section;
use super::traffic::{chat, chat_body, chat_url};

const CONCURRENCY: usize = 16;

pub async fn run(gateway: &Gateway, requests: usize) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!(
        "(d) connection churn: {requests} requests, a new connection each"
    ));
    let before = sample(gateway.pid, 0.0)?;
    // No idle connections are kept, so every request dials anew.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = chat_url(&gateway.base, "default");
    let body = chat_body("churn request", false);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        let (next, failures) = (Arc::clone(&next), Arc::clone(&failures));
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                match chat(&http, &url, &body, &[], None).await {
                    Ok(answer) if answer.status == 200 && answer.clean_end => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    drop(http);
    // The gateway keeps up to one pooled upstream connection per concurrent request (idle for
    // up to 90 s); anything beyond that would be a leak.
    let (after, settled) = settle(gateway.pid, Duration::from_secs(30), |s| {
        s.fds <= before.fds + CONCURRENCY + 5
    })
    .await?;
    section.row("failed requests", failures.load(Ordering::Relaxed));
    section.row("rate (req/s)", format!("{:.0}", requests as f64 / elapsed));
    section.row(
        "gateway fds before → after",
        format!(
            "{} → {}{}",
            before.fds,
            after.fds,
            if settled {
                ""
            } else {
                " (above before + pool after 30 s)"
            }
        ),
    );
    section.row(
        "RSS before → after (MiB)",
        format!("{:.1} → {:.1}", before.rss_mib(), after.rss_mib()),
    );
    Ok(section)
}
