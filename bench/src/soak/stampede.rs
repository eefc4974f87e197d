//! Stage (f): a cold-cache stampede. Many identical cacheable requests at once must make one
//! upstream call; the rest wait for it and get the same bytes.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use super::procs::{Gateway, Mock};
use super::report::Section;
use super::traffic::{chat, chat_body, chat_url};

pub async fn run(gateway: &Gateway, mock: &Mock, requests: usize) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!(
        "(f) cold-cache stampede: {requests} identical requests at once"
    ));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    gateway
        .create_gateway(&http, json!({"id": "soak-cache", "cache_ttl": 600}))
        .await?;
    let url = chat_url(&gateway.base, "soak-cache");
    // Unique per run, so the cache is cold; slow enough upstream that all arrive while it waits.
    let body = chat_body(&format!("stampede {}", std::process::id()), false);
    let headers = [("x-mock-delay-ms", "500".to_owned())];
    let before = mock.count().await?;
    let answers = join_all((0..requests).map(|_| chat(&http, &url, &body, &headers, None))).await;
    let upstream = mock.count().await? - before;
    let first = answers
        .iter()
        .find_map(|a| a.as_ref().ok().filter(|a| a.status == 200))
        .map(|a| a.body.clone());
    let ok = answers
        .iter()
        .filter(|a| {
            a.as_ref()
                .is_ok_and(|a| a.status == 200 && Some(&a.body) == first.as_ref())
        })
        .count();
    section.row("upstream calls (must be 1)", upstream);
    section.row("identical 200 answers", format!("{ok}/{requests}"));
    Ok(section)
}
