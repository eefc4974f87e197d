//! Network faults that need a namespace of the test's own (reliability plan FA-02 blackhole,
//! FA-14 DNS failure and slow DNS): the real binary runs where the test controls routing and
//! `resolv.conf`, and its DNS queries reach a tiny server in the test that counts them.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::netns;
use support::process::ADMIN_TOKEN;
use tollgate_gateway::clock::monotonic_now;

/// Guards against a hang only.
const HANG_GUARD: Duration = Duration::from_secs(30);
const DNS_TIMEOUT_MS: u64 = 200;
const CONNECT_TIMEOUT_MS: u64 = 400;
/// A host whose queries the DNS server never answers; any other name gets NXDOMAIN.
const SILENT_HOST: &str = "silent.fault.test";

fn config(providers: &str) -> String {
    // Failures remembered far longer than the test runs, so the counts do not depend on speed.
    format!(
        "[server]\nconnect_timeout_ms = {CONNECT_TIMEOUT_MS}\ndns_timeout_ms = {DNS_TIMEOUT_MS}\n\
         dns_negative_ttl_ms = 60000\n{providers}"
    )
}

/// glibc's own timeout is far beyond the gateway's, so what bounds a silent lookup is the
/// gateway; one attempt, so each lookup sends each query once.
const RESOLV_CONF: &str = "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n";

/// A DNS server on the namespace's 127.0.0.1:53 that answers NXDOMAIN (or nothing, for
/// [`SILENT_HOST`]) and counts the A queries per name: one per lookup the gateway made.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake upstream inside the test's network namespace, which ends with the test"
)]
fn dns_server() -> Arc<Mutex<HashMap<String, usize>>> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:53").unwrap();
    socket.set_nonblocking(true).unwrap();
    let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let counter = counts.clone();
    tokio::spawn(async move {
        let mut packet = [0u8; 512];
        while let Ok((len, from)) = socket.recv_from(&mut packet).await {
            let Some((name, qtype, question_end)) = question(&packet[..len]) else {
                continue;
            };
            if qtype == 1 {
                *counter.lock().unwrap().entry(name.clone()).or_insert(0) += 1;
            }
            if name == SILENT_HOST {
                continue;
            }
            // The query's id and question; QR, RD echoed, RA, RCODE 3 (NXDOMAIN); no records.
            let mut reply = packet[..question_end].to_vec();
            reply[2] = 0x80 | (packet[2] & 0x01);
            reply[3] = 0x83;
            reply[6..12].fill(0);
            let _ = socket.send_to(&reply, from).await;
        }
    });
    counts
}

/// The first question's name, type, and where it ends.
fn question(packet: &[u8]) -> Option<(String, u16, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).into_owned());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    Some((labels.join("."), qtype, at + 4))
}

/// Creates the gateway `retrying`, which makes three attempts.
async fn create_retrying_gateway(http: &reqwest::Client, base: &str) {
    let created = http
        .post(format!(
            "{base}/client/v4/accounts/local/ai-gateway/gateways"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "retrying", "retry_max_attempts": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
}

/// One chat request through `gateway` and `provider` that must end in 502 code 2005: how long
/// it took, and the client's message.
async fn unreachable(
    http: &reqwest::Client,
    base: &str,
    gateway: &str,
    provider: &str,
) -> (Duration, String) {
    let started = monotonic_now();
    let response = tokio::time::timeout(
        HANG_GUARD,
        http.post(format!(
            "{base}/v1/local/{gateway}/{provider}/chat/completions"
        ))
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send(),
    )
    .await
    .expect("the gateway answers")
    .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"][0]["code"], 2005, "{body}");
    (
        started.elapsed(),
        body["message"].as_str().unwrap().to_owned(),
    )
}

/// Attempt numbers and errors of the gateway's rows, once `expected` of them are complete.
async fn completed_rows(
    http: &reqwest::Client,
    base: &str,
    gateway: &str,
    expected: usize,
) -> Vec<(i64, String)> {
    let url = format!("{base}/client/v4/accounts/local/ai-gateway/gateways/{gateway}/logs");
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let listed: Value = http
                .get(&url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let rows: Vec<(i64, String)> = listed["result"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|row| row["success"] == false && row["error"].is_string())
                .map(|row| {
                    let attempt = row["attempts"].as_i64().unwrap();
                    (attempt, row["error"].as_str().unwrap().to_owned())
                })
                .collect();
            if rows.len() >= expected {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the rows complete")
}

fn skip_reason() -> Option<String> {
    let reason = netns::unavailable()?;
    eprintln!("skipped: {reason}");
    Some(reason)
}

/// FA-14: a host that does not resolve is a quick 502 code 2005 saying so (the host itself
/// only on the row); retries reuse the remembered failure; 1,000 concurrent requests to such a
/// host make at most 3 lookups; a resolver that never answers costs each request the DNS
/// timeout and no more, again with one lookup for a burst.
#[test]
fn dns_failures_are_quick_clear_and_looked_up_once() {
    if skip_reason().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let providers = format!(
        "[providers.nxdomain]\nbase_url = \"http://nxdomain.fault.test/v1\"\n\
         [providers.burst]\nbase_url = \"http://burst.fault.test/v1\"\n\
         [providers.silent]\nbase_url = \"http://{SILENT_HOST}/v1\"\n"
    );
    netns::run(
        dir.path(),
        &config(&providers),
        RESOLV_CONF,
        |base| async move {
            let lookups = dns_server();
            let count = |host: &str| lookups.lock().unwrap().get(host).copied().unwrap_or(0);
            let http = reqwest::Client::new();
            create_retrying_gateway(&http, &base).await;

            // NXDOMAIN, three attempts: one lookup, three rows naming the host.
            let (took, message) = unreachable(&http, &base, "retrying", "nxdomain").await;
            assert!(message.contains("DNS lookup"), "{message}");
            assert!(
                !message.contains("fault.test"),
                "no host in the client's error: {message}"
            );
            assert!(took < Duration::from_secs(2), "{took:?}");
            assert_eq!(count("nxdomain.fault.test"), 1);
            let rows = completed_rows(&http, &base, "retrying", 3).await;
            let mut attempts: Vec<i64> = rows.iter().map(|(attempt, _)| *attempt).collect();
            attempts.sort_unstable();
            assert_eq!(attempts, [1, 2, 3]);
            assert!(
            rows.iter()
                .all(|(_, error)| error.starts_with("DNS lookup of nxdomain.fault.test failed")),
            "{rows:?}"
        );
            eprintln!("nxdomain: 502 after {took:?} (3 attempts), 1 lookup");

            // A burst of 1,000 to another failing host.
            let started = monotonic_now();
            futures_util::future::join_all(
                (0..1000).map(|_| unreachable(&http, &base, "default", "burst")),
            )
            .await;
            let took = started.elapsed();
            let burst_lookups = count("burst.fault.test");
            assert!((1..=3).contains(&burst_lookups), "{burst_lookups} lookups");
            eprintln!("burst: 1,000 requests answered 502 in {took:?}, {burst_lookups} lookup(s)");

            // A resolver that never answers: 100 at once, each cut at the DNS timeout.
            let started = monotonic_now();
            let silent = futures_util::future::join_all(
                (0..100).map(|_| unreachable(&http, &base, "default", "silent")),
            )
            .await;
            let took = started.elapsed();
            for (_, message) in &silent {
                assert_eq!(
                    message,
                    "Provider unreachable: DNS lookup of its host timed out"
                );
            }
            assert!(took >= Duration::from_millis(DNS_TIMEOUT_MS), "{took:?}");
            assert!(took < Duration::from_secs(5), "{took:?}");
            let silent_lookups = count(SILENT_HOST);
            assert!(
                (1..=3).contains(&silent_lookups),
                "{silent_lookups} lookups"
            );
            eprintln!(
                "silent DNS: 100 requests answered 502 in {took:?}, {silent_lookups} lookup(s)"
            );
        },
    );
}

/// FA-02: an upstream whose packets vanish (SYN never answered). Each attempt ends at the
/// connect timeout, is retried (nothing was sent), and the client gets 502 code 2005 saying the
/// connect timed out; no hang.
#[test]
fn a_blackholed_upstream_costs_the_connect_timeout_per_attempt() {
    if skip_reason().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let providers = "[providers.blackholed]\nbase_url = \"http://192.0.2.2:8080/v1\"\n";
    netns::run(
        dir.path(),
        &config(providers),
        RESOLV_CONF,
        |base| async move {
            let http = reqwest::Client::new();
            create_retrying_gateway(&http, &base).await;
            let (took, message) = unreachable(&http, &base, "retrying", "blackholed").await;
            assert_eq!(message, "Provider unreachable: connect timed out");
            assert!(
                took >= Duration::from_millis(3 * CONNECT_TIMEOUT_MS),
                "{took:?}"
            );
            assert!(took < Duration::from_secs(5), "{took:?}");
            let rows = completed_rows(&http, &base, "retrying", 3).await;
            assert_eq!(rows.len(), 3, "{rows:?}");
            eprintln!("blackhole: 502 after {took:?} (3 attempts of {CONNECT_TIMEOUT_MS} ms)");
        },
    );
}
