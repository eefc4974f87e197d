//! Stored provider keys (docs/keys.md): the `provider_configs` API in Cloudflare's shape, keys
//! on the request path (credential order, aliases, `byok_only`), invalid marking, key-encryption
//! key rotation under load, and a canary secret found nowhere but in the upstream's request.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};

const CANARY: &str = "sk-canary-7f3a9c1e5b2d4f6a8c0e";
const KEYS: &str = "/accounts/local/ai-gateway/gateways/gw/provider_configs";

/// A gateway `gw` (authentication on unless said otherwise) and a run token for it.
async fn setup(gw: &TestGateway, settings: Value) -> String {
    let mut body = json!({"id": "gw", "authentication": true});
    if let (Value::Object(body), Value::Object(settings)) = (&mut body, settings) {
        body.extend(settings);
    }
    gw.create_gateway(body).await;
    let (_, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "app"})),
        )
        .await;
    created["result"]["token"].as_str().unwrap().to_owned()
}

async fn add_key(gw: &TestGateway, body: Value) -> Value {
    let (status, envelope) = gw.admin(Method::POST, KEYS, Some(body)).await;
    assert_eq!(status, 200, "{envelope}");
    envelope["result"].clone()
}

/// A chat request through `gw` with the run token and `headers`.
async fn chat(gw: &TestGateway, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url("/v1/local/gw/openai/chat/completions"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&chat_body(false));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn last_upstream_header(gw: &TestGateway, name: &str) -> Option<String> {
    gw.mock
        .requests()
        .last()
        .and_then(|r| r.header(name).map(str::to_owned))
}

#[tokio::test]
async fn provider_configs_are_created_listed_read_changed_and_deleted_in_cloudflares_shape() {
    let gw = TestGateway::start().await;
    setup(&gw, json!({})).await;
    let created = add_key(
        &gw,
        json!({"alias": "prod", "default_config": true, "provider_slug": "openai",
               "secret": CANARY, "secret_id": "ignored"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    for field in [
        "id",
        "alias",
        "default_config",
        "gateway_id",
        "modified_at",
        "provider_slug",
        "secret_id",
        "secret_preview",
        "status",
    ] {
        assert!(created.get(field).is_some(), "{field} missing: {created}");
    }
    assert_eq!(created["alias"], "prod");
    assert_eq!(created["gateway_id"], "gw");
    assert_eq!(created["status"], "active");
    assert_eq!(created["secret_preview"], "sk-c...8c0e");
    assert!(created.get("rate_limit").is_none());

    let (status, listed) = gw.admin(Method::GET, KEYS, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    assert_eq!(listed["result_info"]["total_count"], 1);
    let (status, got) = gw.admin(Method::GET, &format!("{KEYS}/{id}"), None).await;
    assert_eq!((status, &got["result"]), (200, &created));

    let (status, patched) = gw
        .admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"alias": "batch", "rate_limit": 100, "rate_limit_period": 60})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["result"]["alias"], "batch");
    assert_eq!(patched["result"]["rate_limit"], 100);
    assert_eq!(patched["result"]["rate_limit_period"], 60);
    assert_eq!(patched["result"]["secret_id"], created["secret_id"]);

    // A typo is named with the nearest field; half a rate limit is refused.
    let (status, refused) = gw
        .admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"aliass": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["errors"][0]["message"],
        "aliass: unknown field; did you mean alias?"
    );
    let (status, refused) = gw
        .admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"rate_limit_period": null})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");

    // A new secret: a new secret id and preview.
    let (_, rotated) = gw
        .admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"secret": "sk-second-key-000011112222"})),
        )
        .await;
    assert_ne!(rotated["result"]["secret_id"], created["secret_id"]);
    assert_eq!(rotated["result"]["secret_preview"], "sk-s...2222");

    let (status, deleted) = gw
        .admin(Method::DELETE, &format!("{KEYS}/{id}"), None)
        .await;
    assert_eq!(
        (status, deleted["result"]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    let (status, missing) = gw.admin(Method::GET, &format!("{KEYS}/{id}"), None).await;
    assert_eq!(status, 404, "{missing}");
    let (status, _) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/nope/provider_configs",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn keys_are_refused_on_open_gateways_and_for_providers_they_cannot_serve() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "gw"})).await;
    let (status, refused) = gw
        .admin(
            Method::POST,
            KEYS,
            Some(json!({"alias": "a", "provider_slug": "openai", "secret": CANARY})),
        )
        .await;
    assert_eq!(status, 400);
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("authentication"), "{message}");
    assert!(!refused.to_string().contains(CANARY));

    gw.admin(
        Method::PUT,
        "/accounts/local/ai-gateway/gateways/gw",
        Some(json!({"authentication": true})),
    )
    .await;
    for (body, field) in [
        (
            json!({"provider_slug": "openia", "secret": CANARY}),
            "provider_slug: Invalid provider \"openia\"; did you mean openai?",
        ),
        (
            json!({"provider_slug": "google-vertex-ai", "secret": CANARY}),
            "secret: for google-vertex-ai, must be a service account's JSON key file",
        ),
        (
            json!({"provider_slug": "aws-bedrock", "secret": CANARY}),
            "secret: for aws-bedrock, must be a JSON object",
        ),
        (json!({"provider_slug": "openai"}), "secret: required"),
        (
            json!({"provider_slug": "openai", "secret": "two\nlines"}),
            "secret: must be",
        ),
    ] {
        let (status, refused) = gw.admin(Method::POST, KEYS, Some(body)).await;
        assert_eq!(status, 400);
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
        assert!(!message.contains("two\nlines"));
    }
}

#[tokio::test]
async fn the_upstream_gets_the_stored_key_and_a_key_the_request_carries_wins() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    add_key(
        &gw,
        json!({"alias": "prod", "default_config": true, "provider_slug": "openai", "secret": CANARY}),
    )
    .await;
    add_key(
        &gw,
        json!({"alias": "prod", "default_config": true, "provider_slug": "anthropic",
               "secret": "sk-ant-stored-0123456789"}),
    )
    .await;

    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 200);
    let authorization = last_upstream_header(&gw, "authorization");
    assert_eq!(authorization, Some(format!("Bearer {CANARY}")));
    // Named by alias too.
    let response = chat(&gw, &token, &[("cf-aig-byok-alias", "prod")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization"),
        Some(format!("Bearer {CANARY}"))
    );
    // The request's own key wins.
    let response = chat(&gw, &token, &[("authorization", "Bearer sk-own")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization").as_deref(),
        Some("Bearer sk-own")
    );

    // Anthropic's key goes in x-api-key, on the native route and through the unified endpoint.
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/anthropic/v1/messages"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&json!({"model": "claude-3-haiku", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "x-api-key").as_deref(),
        Some("sk-ant-stored-0123456789")
    );
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/compat/chat/completions"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&json!({"model": "anthropic/claude-3-haiku",
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "x-api-key").as_deref(),
        Some("sk-ant-stored-0123456789")
    );
    // And on the universal endpoint's steps.
    let response = gw
        .http
        .post(gw.url("/v1/local/gw"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(
            &json!([{"provider": "openai", "endpoint": "chat/completions",
                       "headers": {}, "query": chat_body(false)}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization"),
        Some(format!("Bearer {CANARY}"))
    );
}

#[tokio::test]
async fn an_unknown_alias_is_refused_naming_the_configured_ones() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    for alias in ["prod", "batch"] {
        add_key(
            &gw,
            json!({"alias": alias, "provider_slug": "openai", "secret": CANARY}),
        )
        .await;
    }
    let response = chat(&gw, &token, &[("cf-aig-byok-alias", "staging")]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2040);
    assert_eq!(
        body["message"],
        "Provider 'openai' has no BYOK credential named 'staging'. Configured aliases: 'batch', 'prod'"
    );
    assert_eq!(gw.mock.request_count(), 0);
    // Without an alias and without a default key, the request goes without a credential.
    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(last_upstream_header(&gw, "authorization"), None);
}

#[tokio::test]
async fn byok_only_refuses_a_request_no_key_covers() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({"byok_only": true})).await;
    let (_, gateway) = gw
        .admin(Method::GET, "/accounts/local/ai-gateway/gateways/gw", None)
        .await;
    assert_eq!(gateway["result"]["byok_only"], true);
    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2102, "{body}");
    assert_eq!(gw.mock.request_count(), 0);
    // The request's own key, or a stored default key, satisfies it.
    let response = chat(&gw, &token, &[("authorization", "Bearer sk-own")]).await;
    assert_eq!(response.status(), 200);
    add_key(
        &gw,
        json!({"alias": "default", "provider_slug": "openai", "secret": CANARY}),
    )
    .await;
    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization"),
        Some(format!("Bearer {CANARY}"))
    );
}

#[tokio::test]
async fn stored_keys_are_not_used_once_authentication_is_off() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    add_key(
        &gw,
        json!({"default_config": true, "provider_slug": "openai", "secret": CANARY}),
    )
    .await;
    gw.admin(
        Method::PUT,
        "/accounts/local/ai-gateway/gateways/gw",
        Some(json!({"authentication": false})),
    )
    .await;
    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(last_upstream_header(&gw, "authorization"), None);
}

#[tokio::test]
async fn keys_of_an_alias_take_turns_and_one_the_provider_refuses_is_skipped_until_edited() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    let first = add_key(
        &gw,
        json!({"alias": "prod", "provider_slug": "openai", "secret": "sk-first-0000000000"}),
    )
    .await;
    add_key(
        &gw,
        json!({"alias": "prod", "provider_slug": "openai", "secret": "sk-second-000000000"}),
    )
    .await;
    let alias = [("cf-aig-byok-alias", "prod")];
    let mut used = Vec::new();
    for _ in 0..4 {
        assert_eq!(chat(&gw, &token, &alias).await.status(), 200);
        used.push(last_upstream_header(&gw, "authorization").unwrap());
    }
    assert_eq!(
        used,
        [
            "Bearer sk-first-0000000000",
            "Bearer sk-second-000000000",
            "Bearer sk-first-0000000000",
            "Bearer sk-second-000000000"
        ]
    );

    // The provider refuses the first key: the client gets the provider's 401, and the key is
    // marked invalid, in the API and in the store.
    gw.mock.push(Behavior::status(401));
    assert_eq!(chat(&gw, &token, &alias).await.status(), 401);
    let id = first["id"].as_str().unwrap();
    let (_, shown) = gw.admin(Method::GET, &format!("{KEYS}/{id}"), None).await;
    assert_eq!(shown["result"]["status"], "invalid");
    let stored = gw.state.store().list_provider_keys().await.unwrap();
    assert_eq!(
        stored.iter().find(|k| k.id == id).map(|k| k.status),
        Some(tollgate_gateway::store::KeyStatus::Invalid)
    );
    for _ in 0..3 {
        assert_eq!(chat(&gw, &token, &alias).await.status(), 200);
        assert_eq!(
            last_upstream_header(&gw, "authorization").as_deref(),
            Some("Bearer sk-second-000000000")
        );
    }
    // A new secret makes it active again.
    let (_, edited) = gw
        .admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"secret": "sk-first-renewed-00"})),
        )
        .await;
    assert_eq!(edited["result"]["status"], "active");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2 {
        chat(&gw, &token, &alias).await;
        seen.insert(last_upstream_header(&gw, "authorization").unwrap());
    }
    assert!(seen.contains("Bearer sk-first-renewed-00"), "{seen:?}");
}

#[tokio::test]
async fn a_key_at_its_rate_limit_is_skipped_and_all_at_their_limit_is_429() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    add_key(
        &gw,
        json!({"provider_slug": "openai", "secret": "sk-limited-00000000",
               "rate_limit": 1, "rate_limit_period": 3600}),
    )
    .await;
    assert_eq!(chat(&gw, &token, &[]).await.status(), 200);
    let response = chat(&gw, &token, &[]).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2003);
    assert_eq!(gw.mock.request_count(), 1);
}

/// Every file under `dir`, read whole (the data directory is small in a test).
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                stack.push(entry.path());
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn the_canary_secret_is_in_no_response_and_no_file_under_the_data_dir() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    let mut responses = Vec::new();
    let created = add_key(
        &gw,
        json!({"alias": "prod", "default_config": true, "provider_slug": "openai", "secret": CANARY}),
    )
    .await;
    responses.push(created.to_string());
    let id = created["id"].as_str().unwrap().to_owned();
    for stream in [false, true] {
        let response = gw
            .http
            .post(gw.url("/v1/local/gw/openai/chat/completions"))
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .json(&chat_body(stream))
            .send()
            .await
            .unwrap();
        responses.push(format!("{:?}", response.headers()));
        responses.push(response.text().await.unwrap());
    }
    // The provider refuses it too: the refusal path (logs, warnings) must not leak it either.
    gw.mock.push(Behavior::status(401));
    responses.push(chat(&gw, &token, &[]).await.text().await.unwrap());
    assert!(
        gw.mock
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {CANARY}"))),
        "the upstream got the key"
    );
    gw.logs_flushed().await;
    let (_, logs) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/gw/logs",
            None,
        )
        .await;
    for log in logs["result"].as_array().unwrap() {
        let log_id = log["id"].as_str().unwrap();
        for part in ["", "/request", "/response"] {
            let path =
                format!("/client/v4/accounts/local/ai-gateway/gateways/gw/logs/{log_id}{part}");
            let response = gw
                .http
                .get(gw.url(&path))
                .bearer_auth(crate::support::ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            responses.push(format!("{:?}", response.headers()));
            responses.push(response.text().await.unwrap());
        }
    }
    responses.push(logs.to_string());
    for path in [KEYS.to_owned(), format!("{KEYS}/{id}")] {
        responses.push(gw.admin(Method::GET, &path, None).await.1.to_string());
    }
    responses.push(
        gw.admin(
            Method::PATCH,
            &format!("{KEYS}/{id}"),
            Some(json!({"alias": "x"})),
        )
        .await
        .1
        .to_string(),
    );
    responses.push(gw.metrics().await);
    responses.push(format!("{:?}", gw.state.keys()));
    for response in &responses {
        assert!(!response.contains(CANARY), "leaked in {response}");
    }
    assert!(responses.iter().any(|r| r.contains("sk-c...8c0e")));
    let files = files_under(&gw.data_dir);
    assert!(files.iter().any(|(p, _)| p.ends_with("tollgate.db")));
    for (path, bytes) in files {
        assert!(
            !holds(&bytes, CANARY),
            "{} holds the secret",
            path.display()
        );
        assert!(
            !holds(&bytes, &CANARY[3..]),
            "{} holds part of the secret",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own load tasks, joined before it ends"
)]
async fn rotating_the_key_encryption_key_under_load_fails_no_request() {
    use tollgate_gateway::config::KekSource;
    use tollgate_gateway::keys::{Kek, crypto, kek};

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("kek");
    let old = Kek::generate().unwrap();
    kek::replace_file(&key_file, &[&old]).unwrap();
    let section = format!("[secrets]\nkey_file = \"{}\"\n", key_file.display());
    let gw = std::sync::Arc::new(TestGateway::with_config("", &section).await);
    let token = setup(&gw, json!({})).await;
    let created = add_key(
        &gw,
        json!({"default_config": true, "provider_slug": "openai", "secret": CANARY}),
    )
    .await;
    gw.mock.set_recording(false);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (gw, token, stop) = (gw.clone(), token.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0, 0);
            // At least a few requests each, however fast the rotation is.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || ok + failed < 5 {
                match chat(&gw, &token, &[]).await.status().as_u16() {
                    200 => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let rotation = tollgate_gateway::keys::rotate_kek(
        gw.state.store().as_ref(),
        &KekSource::File(key_file.clone()),
        None,
    )
    .await
    .unwrap();
    // A key added after the rotation is sealed under the new key.
    let later = add_key(
        &gw,
        json!({"alias": "later", "provider_slug": "openai", "secret": "sk-after-rotation-0"}),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for task in load {
        let (ok, failed) = task.await.unwrap();
        assert_eq!(failed, 0, "requests failed during the rotation");
        total += ok;
    }
    assert!(total >= 20);
    assert_eq!(rotation.rewrapped, 1);
    assert_ne!(rotation.new_kek_id, old.id());

    // The file holds the new key alone; every row is under it and opens with it only.
    let ring = kek::load(&KekSource::File(key_file.clone())).unwrap();
    assert_eq!(ring.all().len(), 1);
    let new = ring.current();
    assert_eq!(new.id(), rotation.new_kek_id);
    let rows = gw.state.store().list_provider_keys().await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row.sealed.kek_id, new.id());
        let identity = crypto::Row {
            account_id: &row.account_id,
            gateway_id: &row.gateway_id,
            id: &row.id,
        };
        let plain = crypto::open(new, identity, &row.sealed).unwrap();
        let expected = if row.id == created["id"] {
            CANARY
        } else {
            "sk-after-rotation-0"
        };
        assert_eq!(plain.as_slice(), expected.as_bytes());
        assert!(crypto::open(&old, identity, &row.sealed).is_err());
        assert!(row.id == later["id"] || row.id == created["id"]);
    }
    // Requests still get the key after the rotation.
    gw.mock.set_recording(true);
    assert_eq!(chat(&gw, &token, &[]).await.status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization"),
        Some(format!("Bearer {CANARY}"))
    );
}

/// A provider with a stored key can be called through the unified endpoint, so its models are
/// listed there, on that gateway only (docs/compat.md).
#[tokio::test]
async fn the_unified_model_list_includes_providers_with_a_stored_key() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    let listed = || async {
        let response = gw
            .http
            .get(gw.url("/v1/local/gw/compat/models"))
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|model| model["id"].as_str().map(str::to_owned))
            .collect::<Vec<String>>()
    };
    assert!(!listed().await.iter().any(|id| id.starts_with("mistral/")));
    add_key(
        &gw,
        json!({"alias": "default", "default_config": true, "provider_slug": "mistral",
               "secret": "mistral-key-0123456789"}),
    )
    .await;
    assert!(listed().await.iter().any(|id| id.starts_with("mistral/")));
}

/// An SDK must send some API key (the OpenAI SDK refuses to run without one): its run token may
/// go there instead of `cf-aig-authorization`. It authenticates, is never sent upstream, and a
/// stored key takes its place; without one the request is refused, not sent keyless.
#[tokio::test]
async fn a_run_token_in_the_key_slot_authenticates_and_a_stored_key_takes_its_place() {
    let gw = TestGateway::start().await;
    let token = setup(&gw, json!({})).await;
    let as_api_key = || {
        gw.http
            .post(gw.url("/v1/local/gw/openai/chat/completions"))
            .bearer_auth(&token)
            .json(&chat_body(false))
            .send()
    };
    let refused = as_api_key().await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2102, "{body}");
    assert!(body.to_string().contains("stored key"), "{body}");
    assert_eq!(gw.mock.request_count(), 0);

    add_key(
        &gw,
        json!({"alias": "default", "default_config": true, "provider_slug": "openai",
               "secret": "sk-stored-0123456789"}),
    )
    .await;
    assert_eq!(as_api_key().await.unwrap().status(), 200);
    assert_eq!(
        last_upstream_header(&gw, "authorization").as_deref(),
        Some("Bearer sk-stored-0123456789")
    );
    let sent = gw.mock.requests().pop().unwrap();
    assert!(!sent.headers.iter().any(|(_, value)| value.contains(&token)));

    // A token that is not valid is 401, as in cf-aig-authorization.
    let forged = format!("tgr_{}", "0".repeat(token.len() - 4));
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/openai/chat/completions"))
        .bearer_auth(&forged)
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
