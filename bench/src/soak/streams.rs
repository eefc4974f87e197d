//! Stage (a): many concurrent streams through one gateway. Every stream must arrive complete and
//! byte-identical to what the mock sends directly; reports peak and retained RSS.

use std::time::Duration;

use futures_util::future::join_all;

use super::observe::{Sampler, sample, settle};
use super::procs::{Gateway, Mock};
use super::report::Section;
use super::traffic::{chat, chat_body, chat_url};

/// Distinct prompts: streams differ, and each is compared against its own direct answer.
const PROMPTS: usize = 10;

pub async fn run(gateway: &Gateway, mock: &Mock, streams: usize) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!("(a) {streams} concurrent streams"));
    // ~14 events a stream, 1 s apart: every stream is open at once for ~14 s.
    let headers = [("x-mock-chunk-delay-ms", "1000".to_owned())];
    let direct = reqwest::Client::new();
    let mut expected = Vec::new();
    for i in 0..PROMPTS {
        let body = chat_body(&format!("stream {i} of the concurrency stage please"), true);
        let answer = chat(
            &direct,
            &format!("{}/v1/chat/completions", mock.url),
            &body,
            &[],
            None,
        )
        .await?;
        expected.push((body, answer.body));
    }

    let before = sample(gateway.pid, 0.0)?;
    let sampler = Sampler::start(gateway.pid, Duration::from_millis(250));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let url = chat_url(&gateway.base, "default");
    let answers = join_all((0..streams).map(|n| {
        let (body, _) = &expected[n % PROMPTS];
        let (http, url, headers) = (&http, &url, &headers);
        async move { chat(http, url, body, headers, None).await }
    }))
    .await;
    let peak = sampler.peak_rss_mib();
    drop(sampler);
    let mut complete = 0;
    let mut identical = 0;
    let mut errors = 0;
    for (n, answer) in answers.iter().enumerate() {
        match answer {
            Ok(answer) => {
                complete += usize::from(answer.complete_stream());
                identical += usize::from(answer.body == expected[n % PROMPTS].1);
            }
            Err(_) => errors += 1,
        }
    }
    drop(http);
    // Let the client-side connections close before reading what the gateway kept.
    let (after, _) = settle(gateway.pid, Duration::from_secs(20), |s| {
        s.fds <= before.fds + 8
    })
    .await?;
    section.row("streams complete", format!("{complete}/{streams}"));
    section.row(
        "streams byte-identical to direct",
        format!("{identical}/{streams}"),
    );
    section.row("client errors", errors);
    section.row("RSS before (MiB)", format!("{:.1}", before.rss_mib()));
    section.row("peak RSS during (MiB)", format!("{peak:.1}"));
    section.row(
        "peak RSS growth (MiB)",
        format!("{:.1}", peak - before.rss_mib()),
    );
    section.row(
        "RSS after, load gone (MiB)",
        format!("{:.1}", after.rss_mib()),
    );
    section.row(
        "fds before → after (idle pooled upstream connections close after 90 s)",
        format!("{} → {}", before.fds, after.fds),
    );
    section.row(
        "threads before → after",
        format!("{} → {}", before.threads, after.threads),
    );
    Ok(section)
}
