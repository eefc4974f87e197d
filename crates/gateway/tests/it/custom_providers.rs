//! Custom providers created through the management API (docs/configuration.md, "Custom
//! providers through the API"): Cloudflare's CRUD and errors, requests through one to the mock
//! upstream (behind TLS: such a provider must be `https://`), stored keys for one, and one
//! created through one instance used through another on a shared PostgreSQL.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{TestGateway, chat_body, gateway_error_code};

const API: &str = "/accounts/local/ai-gateway/custom-providers";
/// A certificate for `localhost` and 127.0.0.1 from the test CA of proxy/client.rs's tests.
const CERT: &[u8] = include_bytes!("../../src/proxy/testdata/provider-cert.pem");
const KEY: &[u8] = include_bytes!("../../src/proxy/testdata/provider-key.pem");

/// `[server]` lines that trust the test CA for provider TLS.
fn trusting_the_test_ca() -> String {
    format!(
        "upstream_ca_file = \"{}/src/proxy/testdata/ca-cert.pem\"",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// TLS in front of `upstream` (the plain-HTTP mock): each connection is decrypted and piped.
#[expect(
    clippy::disallowed_methods,
    reason = "the TLS front lives as long as the test's runtime"
)]
async fn tls_front(upstream: SocketAddr) -> SocketAddr {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_slice(CERT).unwrap()],
        PrivateKeyDer::from_pem_slice(KEY).unwrap(),
    )
    .unwrap();
    // Bytes are piped as they are: the mock speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

/// A gateway trusting the test CA, with the mock behind TLS at the returned base URL.
async fn gateway_with_tls_mock(sections: &str) -> (TestGateway, String) {
    let gw = TestGateway::with_config(&trusting_the_test_ca(), sections).await;
    let front = tls_front(gw.mock.addr()).await;
    (gw, format!("https://localhost:{}/v1", front.port()))
}

async fn create(gw: &TestGateway, body: Value) -> (u16, Value) {
    gw.admin(Method::POST, API, Some(body)).await
}

fn error(envelope: &Value) -> (u64, &Value, &Value) {
    let first = &envelope["errors"][0];
    (
        first["code"].as_u64().unwrap(),
        &first["message"],
        &first["path"],
    )
}

#[tokio::test]
async fn custom_providers_are_created_listed_read_changed_and_deleted_in_cloudflares_shape() {
    let gw = TestGateway::start().await;
    let (status, created) = create(
        &gw,
        json!({"name": "Neon", "slug": "neon", "base_url": "https://api.neon.example/v1/",
               "description": "Postgres", "link": "https://neon.example", "enable": true}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let neon = &created["result"];
    let id = neon["id"].as_str().unwrap().to_owned();
    assert_eq!(neon["slug"], "neon");
    assert_eq!(neon["base_url"], "https://api.neon.example/v1");
    assert_eq!(neon["enable"], true);
    assert_eq!(neon["beta"], false);
    assert_eq!(neon["account_id"], "local");
    assert!(
        neon["logo"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    assert!(neon["created_at"].is_string() && neon["modified_at"].is_string());
    assert!(
        neon.get("curl_example").is_none(),
        "unset fields are absent: {neon}"
    );

    // Cloudflare's default is disabled.
    let (status, salad) = create(
        &gw,
        json!({"name": "SaladCloud", "slug": "saladcloud", "base_url": "https://salad.example"}),
    )
    .await;
    assert_eq!(status, 200, "{salad}");
    assert_eq!(salad["result"]["enable"], false);

    let (status, list) = gw.admin(Method::GET, API, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["result_info"]["total_count"], 2);
    assert_eq!(list["result"][0]["slug"], "neon", "by name");
    let (_, found) = gw
        .admin(
            Method::GET,
            &format!("{API}?search=SALAD&enable=false"),
            None,
        )
        .await;
    assert_eq!(found["result"].as_array().unwrap().len(), 1);
    assert_eq!(found["result"][0]["slug"], "saladcloud");

    let (status, changed) = gw
        .admin(
            Method::PATCH,
            &format!("{API}/{id}"),
            Some(json!({"name": "Neon DB", "description": null, "position": 1})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["result"]["name"], "Neon DB");
    assert_eq!(changed["result"]["slug"], "neon");
    assert!(changed["result"].get("description").is_none());
    let (_, read) = gw.admin(Method::GET, &format!("{API}/{id}"), None).await;
    assert_eq!(read["result"], changed["result"]);

    let (status, deleted) = gw.admin(Method::DELETE, &format!("{API}/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["result"]["id"], id.as_str());
    let (status, gone) = gw.admin(Method::GET, &format!("{API}/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(error(&gone).0, 1004);
    let (status, _) = gw
        .admin(
            Method::PATCH,
            &format!("{API}/{id}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_cloudflares_codes_and_paths() {
    let gw = TestGateway::start().await;
    let body =
        |slug: &str, base_url: &str| json!({"name": "P", "slug": slug, "base_url": base_url});

    // Plain http is for the configuration file only.
    let (status, refused) = create(&gw, body("plain", "http://api.example.com")).await;
    assert_eq!(status, 400, "{refused}");
    let (code, message, path) = error(&refused);
    assert_eq!(code, 1002);
    assert_eq!(
        message,
        "base_url must be a valid HTTPS URL starting with https://"
    );
    assert_eq!(path, &json!(["body", "base_url"]));

    for slug in ["Upper", "under_score", "-lead", "", "a/b"] {
        let (status, refused) = create(&gw, body(slug, "https://h.example")).await;
        assert_eq!(status, 400, "{slug}: {refused}");
        assert_eq!(error(&refused).0, 1001);
        assert_eq!(error(&refused).2, &json!(["body", "slug"]));
    }
    let (status, refused) =
        create(&gw, json!({"slug": "x", "base_url": "https://h.example"})).await;
    assert_eq!(status, 400);
    assert_eq!(error(&refused).2, &json!(["body", "name"]));
    let (status, refused) = create(
        &gw,
        json!({"name": "P", "slug": "hdr", "base_url": "https://h.example", "headers": "{}"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(error(&refused).2, &json!(["body", "headers"]));

    // A built-in or configured provider's slug is taken, and so is a slug made twice.
    for taken in ["openai", "my-llm"] {
        let (status, refused) = create(&gw, body(taken, "https://h.example")).await;
        assert_eq!(status, 409, "{taken}: {refused}");
        let (code, message, _) = error(&refused);
        assert_eq!(code, 1003);
        assert!(message.as_str().unwrap().contains(taken), "{message}");
    }
    assert_eq!(create(&gw, body("twice", "https://h.example")).await.0, 200);
    let (status, refused) = create(&gw, body("twice", "https://other.example")).await;
    assert_eq!(status, 409);
    assert_eq!(
        error(&refused).1,
        "A custom provider with this slug already exists"
    );
}

#[tokio::test]
async fn a_provider_made_through_the_api_serves_requests_at_once_until_deleted() {
    let (gw, base_url) = gateway_with_tls_mock("").await;
    gw.create_gateway(json!({"id": "gw"})).await;
    let path = "/v1/local/gw/custom-acme/chat/completions";
    let call = |auth: &'static str| {
        gw.http
            .post(gw.url(path))
            .header("authorization", auth)
            .json(&chat_body(false))
            .send()
    };
    // Unknown before it is made.
    let before = call("Bearer sk-acme").await.unwrap();
    assert_eq!(before.status(), 400);

    let (status, created) = create(
        &gw,
        json!({"name": "Acme", "slug": "acme", "base_url": base_url, "enable": true}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let response = call("Bearer sk-acme").await.unwrap();
    assert_eq!(response.status(), 200);
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert!(body["choices"].is_array(), "{body}");
    let sent = gw.mock.requests().last().unwrap().clone();
    assert_eq!(sent.path_and_query, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-acme"));
    let row = gw.log_row("gw", &log_id).await.unwrap();
    assert_eq!(row.provider, "custom-acme");

    // The unified endpoint takes it as `custom-{slug}/{model}`.
    let compat = gw
        .http
        .post(gw.url("/v1/local/gw/compat/chat/completions"))
        .header("authorization", "Bearer sk-acme")
        .json(&json!({"model": "custom-acme/gpt-4o-mini",
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(compat.status(), 200);

    // Disabled, then deleted: requests naming it are refused again.
    let (status, _) = gw
        .admin(
            Method::PATCH,
            &format!("{API}/{id}"),
            Some(json!({"enable": false})),
        )
        .await;
    assert_eq!(status, 200);
    let disabled = call("Bearer sk-acme").await.unwrap();
    assert_eq!(disabled.status(), 400);
    let disabled: Value = disabled.json().await.unwrap();
    assert!(disabled.to_string().contains("disabled"), "{disabled}");
    let (status, _) = gw.admin(Method::DELETE, &format!("{API}/{id}"), None).await;
    assert_eq!(status, 200);
    let after = call("Bearer sk-acme").await.unwrap();
    assert_eq!(after.status(), 400);
    assert_eq!(gateway_error_code(&after.json().await.unwrap()), 2008);

    // Another account does not see this account's providers.
    let (status, _) = create(
        &gw,
        json!({"name": "Acme", "slug": "acme", "base_url": base_url, "enable": true}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(
            Method::POST,
            "/accounts/other/ai-gateway/gateways",
            Some(json!({"id": "gw"})),
        )
        .await;
    assert_eq!(status, 200);
    let elsewhere = gw
        .http
        .post(gw.url("/v1/other/gw/custom-acme/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);
}

#[tokio::test]
async fn a_stored_key_is_put_on_requests_to_a_provider_made_through_the_api() {
    let kek = tollgate_gateway::keys::Kek::generate().unwrap().encode();
    let (gw, base_url) =
        gateway_with_tls_mock(&format!("[secrets]\nkey = \"{}\"\n", kek.as_str())).await;
    gw.create_gateway(json!({"id": "gw", "authentication": true}))
        .await;
    let token = gw.create_token(json!({"name": "app"})).await;
    let (status, _) = create(
        &gw,
        json!({"name": "Acme", "slug": "acme", "base_url": base_url, "enable": true}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, key) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/gw/provider_configs",
            Some(
                json!({"default_config": true, "provider_slug": "custom-acme",
                        "secret": "sk-stored-acme"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{key}");
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/custom-acme/chat/completions"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent = gw.mock.requests().last().unwrap().clone();
    assert_eq!(sent.header("authorization"), Some("Bearer sk-stored-acme"));
}

/// A client behind a load balancer makes a provider through one instance and uses it through
/// the other at once: the miss is read from the shared store before the request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_made_through_one_instance_is_used_through_the_other_at_once() {
    let database = TestDatabase::create().await.unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config(&trusting_the_test_ca(), &storage).await;
    let two = TestGateway::with_config(&trusting_the_test_ca(), &storage).await;
    let front = tls_front(two.mock.addr()).await;
    let base_url = format!("https://localhost:{}/v1", front.port());
    one.create_gateway(json!({"id": "shared"})).await;

    let (status, created) = create(
        &one,
        json!({"name": "Acme", "slug": "acme", "base_url": base_url, "enable": true}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let call = || {
        two.http
            .post(two.url("/v1/local/shared/custom-acme/chat/completions"))
            .header("authorization", "Bearer sk-acme")
            .json(&chat_body(false))
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(
        two.mock.requests().last().unwrap().path_and_query,
        "/v1/chat/completions"
    );
    // Management reads on two answer from the store of record.
    let (status, read) = two.admin(Method::GET, &format!("{API}/{id}"), None).await;
    assert_eq!(status, 200, "{read}");

    // Deleted through one: two stops serving it once the change is heard.
    let (status, _) = one
        .admin(Method::DELETE, &format!("{API}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    two.state
        .reloads()
        .wait_for(|_| {
            two.state
                .providers()
                .for_account("local")
                .get("custom-acme")
                .is_none()
        })
        .await
        .unwrap();
    assert_eq!(call().await.unwrap().status(), 400);
    drop((one, two));
    drop(database);
}

/// Changing a provider made through the API leaves its cached answers behind (Cloudflare
/// clears them): the next identical request goes upstream again.
#[tokio::test]
async fn a_change_to_the_provider_leaves_its_cached_answers_behind() {
    let (gw, base_url) = gateway_with_tls_mock("").await;
    gw.create_gateway(json!({"id": "gw", "cache_ttl": 600}))
        .await;
    let (status, created) = create(
        &gw,
        json!({"name": "Acme", "slug": "acme", "base_url": base_url, "enable": true}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let cache_status = || async {
        let response = gw
            .http
            .post(gw.url("/v1/local/gw/custom-acme/chat/completions"))
            .header("authorization", "Bearer sk-acme")
            .json(&chat_body(false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let status = response.headers()["cf-aig-cache-status"]
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.bytes().await;
        status
    };
    assert_eq!(cache_status().await, "MISS");
    assert_eq!(cache_status().await, "HIT");
    let (status, _) = gw
        .admin(
            Method::PATCH,
            &format!("{API}/{id}"),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cache_status().await, "MISS");
    assert_eq!(cache_status().await, "HIT");
}
