//! HTTP/2 abuse (reliability plan LD-10, CVE-2023-44487 "rapid reset"): a client that opens
//! streams and resets them at once must not turn them into upstream requests, and must not
//! keep the connection for ever; other clients are served throughout.

use std::time::Duration;

use h2::Reason;
use http::Request;

use crate::support::{TestGateway, chat_body};

const HANG_GUARD: Duration = Duration::from_secs(30);
const RESETS: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_and_reaches_no_upstream() {
    let gw = TestGateway::start().await;
    // HTTP/2 with prior knowledge on the plain port, as h2load and attack tools speak it.
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = client;
    let attack = tokio::time::timeout(HANG_GUARD, async {
        for sent in 0..RESETS {
            // The server ends the connection (GOAWAY) once it sees the pattern.
            let Ok(ready) = client.ready().await else {
                return sent;
            };
            client = ready;
            let request = Request::post(format!(
                "http://{}/v1/local/default/openai/chat/completions",
                gw.addr
            ))
            .header("content-type", "application/json")
            .body(())
            .unwrap();
            let Ok((_, mut body)) = client.send_request(request, false) else {
                return sent;
            };
            body.send_reset(Reason::CANCEL);
        }
        RESETS
    })
    .await
    .expect("the attack loop ends");
    assert!(attack < RESETS, "the server let {RESETS} resets through");
    tokio::time::timeout(HANG_GUARD, connection)
        .await
        .expect("the server closes the attacking connection")
        .unwrap()
        .expect_err("with an error (GOAWAY), not a clean end");
    // Reset streams never had a body: none became an upstream request.
    assert_eq!(gw.mock.request_count(), 0);
    // Everyone else is still served. The attack's streams are dropped wherever their handlers
    // are, also midway through creating the `default` gateway; that once left the store and the
    // in-memory map apart and this request a 500 (`gateways::registry` tests hold the cause).
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
