//! Provider traffic through an egress proxy (`egress_proxy`): an HTTP `CONNECT` tunnel with
//! proxy credentials, and SOCKS5 with the name resolved by the proxy; the mock upstream gets the
//! request only through the proxy.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{TestGateway, chat_body};

/// What the proxy was asked: the tunnel's destination, and its credentials if any.
#[derive(Default, Debug, Clone)]
struct Asked {
    destinations: Vec<String>,
    credentials: Vec<String>,
}

/// A one-protocol proxy on a free port: `http` answers `CONNECT`, `socks5` speaks SOCKS5 with
/// username/password authentication; either then pipes bytes both ways.
#[expect(
    clippy::disallowed_methods,
    reason = "a proxy for this test, which ends with the test's runtime"
)]
async fn proxy(protocol: &'static str) -> (std::net::SocketAddr, Arc<Mutex<Asked>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Asked::default()));
    let record = asked.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let opened = match protocol {
                    "http" => connect_tunnel(client, &record).await,
                    _ => socks5(client, &record).await,
                };
                if let Some((mut client, mut upstream)) = opened {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (addr, asked)
}

async fn connect_tunnel(
    mut client: TcpStream,
    asked: &Mutex<Asked>,
) -> Option<(TcpStream, TcpStream)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).await.ok()?;
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).ok()?;
    let destination = head.strip_prefix("CONNECT ")?.split(' ').next()?.to_owned();
    {
        let mut asked = asked.lock().unwrap();
        asked.destinations.push(destination.clone());
        if let Some(line) = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
        {
            asked.credentials.push(line[20..].trim().to_owned());
        }
    }
    let upstream = TcpStream::connect(destination).await.ok()?;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .ok()?;
    Some((client, upstream))
}

async fn socks5(mut client: TcpStream, asked: &Mutex<Asked>) -> Option<(TcpStream, TcpStream)> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await.ok()?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await.ok()?;
    // Username/password (RFC 1929).
    client.write_all(&[5, 2]).await.ok()?;
    let mut version_and_length = [0u8; 2];
    client.read_exact(&mut version_and_length).await.ok()?;
    let mut user = vec![0u8; usize::from(version_and_length[1])];
    client.read_exact(&mut user).await.ok()?;
    let mut length = [0u8; 1];
    client.read_exact(&mut length).await.ok()?;
    let mut pass = vec![0u8; usize::from(length[0])];
    client.read_exact(&mut pass).await.ok()?;
    client.write_all(&[1, 0]).await.ok()?;
    // CONNECT with a domain name (the proxy resolves it) or an IPv4 address.
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await.ok()?;
    let host = match request[3] {
        3 => {
            client.read_exact(&mut length).await.ok()?;
            let mut name = vec![0u8; usize::from(length[0])];
            client.read_exact(&mut name).await.ok()?;
            String::from_utf8(name).ok()?
        }
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await.ok()?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        _ => return None,
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await.ok()?;
    let destination = format!("{host}:{}", u16::from_be_bytes(port));
    {
        let mut asked = asked.lock().unwrap();
        asked.destinations.push(destination.clone());
        asked.credentials.push(format!(
            "{}:{}",
            String::from_utf8_lossy(&user),
            String::from_utf8_lossy(&pass)
        ));
    }
    let upstream = TcpStream::connect(destination).await.ok()?;
    client
        .write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .ok()?;
    Some((client, upstream))
}

/// A provider whose traffic goes through `proxy_url` to the gateway's mock upstream.
async fn gateway_through(proxy_url: &str, host: &str) -> TestGateway {
    let mock = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let base = format!("http://{host}:{}/v1", mock.addr().port());
    TestGateway::build(
        "",
        &format!(
            "[providers.proxied]\nbase_url = \"{base}\"\negress_proxy = \"{proxy_url}\"\n\
             credential_header = \"authorization\"\n"
        ),
        None,
        Some(mock),
    )
    .await
}

async fn chat(gw: &TestGateway) -> reqwest::Response {
    gw.http
        .post(gw.url("/v1/local/default/proxied/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn provider_calls_go_through_an_http_connect_tunnel_with_its_credentials() {
    let (addr, asked) = proxy("http").await;
    let gw = gateway_through(&format!("http://user:secret@{addr}"), "127.0.0.1").await;
    let response = chat(&gw).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let asked = asked.lock().unwrap().clone();
    // The tunnel names the provider's port even for an `http://` provider.
    assert_eq!(
        asked.destinations,
        [format!("127.0.0.1:{}", gw.mock.addr().port())]
    );
    // base64("user:secret")
    assert_eq!(asked.credentials, ["Basic dXNlcjpzZWNyZXQ="]);
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
}

#[tokio::test]
async fn provider_calls_go_through_socks5_and_the_proxy_resolves_the_name() {
    let (addr, asked) = proxy("socks5").await;
    // `localhost` reaches the proxy as a name: this process does not look it up.
    let gw = gateway_through(&format!("socks5h://user:secret@{addr}"), "localhost").await;
    let response = chat(&gw).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let asked = asked.lock().unwrap().clone();
    assert_eq!(
        asked.destinations,
        [format!("localhost:{}", gw.mock.addr().port())]
    );
    assert_eq!(asked.credentials, ["user:secret"]);
}

#[tokio::test]
async fn an_https_proxy_is_refused_at_startup_with_the_setting_named() {
    let text = "[server]\nlisten = \"127.0.0.1:0\"\n[providers.proxied]\n\
                base_url = \"https://example.com/v1\"\negress_proxy = \"https://proxy.example\"\n";
    let Err(error) = tollgate_gateway::config::Config::parse(
        text,
        std::iter::empty(),
        &tollgate_gateway::config::Overrides::default(),
    ) else {
        panic!("an https proxy is refused");
    };
    let message = format!("{error:#}");
    assert!(
        message.contains("providers.proxied.egress_proxy")
            && message.contains("http, socks5 or socks5h"),
        "{message}"
    );
}
