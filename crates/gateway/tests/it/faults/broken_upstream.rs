//! Upstreams that break the protocol rather than the network (FA-13 closed after reading the
//! request, FA-15 no TLS where TLS was configured): a clear 502 in the error envelope and a failed
//! row, never a hang.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{HANG_GUARD, completed_row, log_id, send};
use crate::support::{TestGateway, chat_body, gateway_error_code};

/// A listener on a free port whose connections get `reply` once the request head has arrived,
/// then are closed.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake upstream for this test, which ends with the test's runtime"
)]
async fn upstream_that_answers(reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                // TLS client hellos have no blank line: one read is the whole hello.
                while let Ok(n) = socket.read(&mut buffer).await {
                    seen.extend_from_slice(&buffer[..n]);
                    if n == 0 || seen.windows(4).any(|w| w == b"\r\n\r\n") || seen[0] == 0x16 {
                        break;
                    }
                }
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

async fn gateway_for(base_url: String) -> TestGateway {
    TestGateway::with_config(
        "",
        &format!("[providers.broken]\nbase_url = \"{base_url}\"\n"),
    )
    .await
}

const BROKEN: &str = "/v1/local/default/broken/chat/completions";

/// FA-13: the upstream reads the request and closes without a response (the ComfyUI case).
#[tokio::test]
async fn an_upstream_that_closes_without_answering_is_a_502() {
    let addr = upstream_that_answers(b"").await;
    let gw = gateway_for(format!("http://{addr}/v1")).await;
    let response = tokio::time::timeout(HANG_GUARD, send(&gw, BROKEN, chat_body(false), &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let id = log_id(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    // Cloudflare's code for a provider that could not be reached or gave no answer.
    assert_eq!(gateway_error_code(&body), 2005, "{body}");
    assert_eq!(
        body["message"],
        "Provider unreachable: connection reset before the response"
    );
    let row = completed_row(&gw, "default", &id).await;
    assert!(!row.success);
    assert_eq!(
        row.error.unwrap(),
        format!("connection reset before the response (calling http://{addr}/v1/chat/completions)")
    );
}

/// FA-15: `https://` configured, the peer speaks plain HTTP: the handshake fails, 502, and
/// nothing is sent in the clear.
#[tokio::test]
async fn a_failed_tls_handshake_is_a_502() {
    let addr =
        upstream_that_answers(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
    let gw = gateway_for(format!("https://{addr}/v1")).await;
    let response = tokio::time::timeout(HANG_GUARD, send(&gw, BROKEN, chat_body(false), &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let id = log_id(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    // Cloudflare's code for a provider that could not be reached or gave no answer.
    assert_eq!(gateway_error_code(&body), 2005, "{body}");
    let row = completed_row(&gw, "default", &id).await;
    assert!(!row.success);
    let cause = row.error.unwrap();
    assert_eq!(
        body["message"], "Provider unreachable: TLS handshake failed",
        "{cause}"
    );
    assert!(
        cause.starts_with("TLS handshake failed: ")
            && cause.ends_with(&format!("(calling https://{addr}/v1/chat/completions)")),
        "{cause}"
    );
}
