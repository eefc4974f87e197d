//! Stage (e): rate-limit key cardinality. Every request carries a new `x-user-id` on a gateway
//! limited per header value; the limiter keeps at most 100,000 keys, so RSS must level off once
//! that many were seen.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::observe::sample;
use super::procs::Gateway;
use super::report::Section;
use super::traffic::{chat, chat_body, chat_url};

const CONCURRENCY: usize = 32;
const STEPS: usize = 3;

pub async fn run(gateway: &Gateway, keys: usize) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!("(e) {keys} distinct rate-limit keys"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    gateway
        .create_gateway(
            &http,
            json!({
                "id": "soak-keys",
                "rate_limiting_limit": 1000,
                "rate_limiting_interval": 60,
                "rate_limiting_technique": "sliding",
                "rate_limiting_key": "header:x-user-id",
                "collect_logs": false,
            }),
        )
        .await?;
    let url = chat_url(&gateway.base, "soak-keys");
    let body = chat_body("one request per key", false);
    let before = sample(gateway.pid, 0.0)?;
    section.row("RSS before (MiB)", format!("{:.1}", before.rss_mib()));
    let per_step = keys.div_ceil(STEPS);
    let limited = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for step in 0..STEPS {
        let next = Arc::new(AtomicUsize::new(step * per_step));
        let end = ((step + 1) * per_step).min(keys);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            let (next, limited, failed) =
                (Arc::clone(&next), Arc::clone(&limited), Arc::clone(&failed));
            workers.spawn(async move {
                loop {
                    let key = next.fetch_add(1, Ordering::Relaxed);
                    if key >= end {
                        return;
                    }
                    let headers = [("x-user-id", format!("user-{key}"))];
                    match chat(&http, &url, &body, &headers, None).await {
                        Ok(answer) if answer.status == 200 => {}
                        Ok(answer) if answer.status == 429 => {
                            limited.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let now = sample(gateway.pid, 0.0)?;
        section.row(
            &format!("RSS after {end} keys (MiB)"),
            format!("{:.1}", now.rss_mib()),
        );
    }
    section.row(
        "rate (req/s)",
        format!("{:.0}", keys as f64 / started.elapsed().as_secs_f64()),
    );
    section.row(
        "refused with 429 (each key sent once: must be 0)",
        limited.load(Ordering::Relaxed),
    );
    section.row("failed requests", failed.load(Ordering::Relaxed));
    Ok(section)
}
