//! Custom DLP profiles (docs/dlp.md, "Custom profiles"): the `…/ai-gateway/dlp/profiles` API in
//! Cloudflare One's shape, patterns checked on save with errors naming the entry, a gateway's
//! `dlp` using a profile by id next to the built-ins, a profile compiled once per version, and a
//! change made through one instance applying on another sharing its PostgreSQL database.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::{Clock, ManualClock, SharedClock, SystemClock};
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{TestGateway, chat_saying, gateway_error_code, send_chat};

const PROFILES: &str = "/accounts/local/ai-gateway/dlp/profiles";

fn badges() -> Value {
    json!({"name": "Badges", "description": "employee badge numbers", "entries": [
        {"name": "badge", "enabled": true, "pattern": {"regex": "BADGE-[0-9]{6}"}},
        {"name": "card", "enabled": true, "pattern": {"regex": "[0-9]{16}", "validation": "luhn"},
         "context": ["card"]},
    ]})
}

async fn create_profile(gw: &TestGateway, body: Value) -> Value {
    let (status, created) = gw.admin(Method::POST, PROFILES, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    created["result"].clone()
}

async fn send(gw: &TestGateway, gateway: &str, text: &str) -> reqwest::Response {
    send_chat(gw, gateway, &chat_saying(text, false)).await
}

fn blocking(profile_id: &str) -> Value {
    json!({"enabled": true, "action": "BLOCK", "profiles": ["credentials", profile_id]})
}

#[tokio::test]
async fn profiles_are_created_read_updated_and_deleted() {
    let gw = TestGateway::start().await;
    let created = create_profile(&gw, badges()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(
        (&created["name"], &created["version"], &created["type"]),
        (&json!("Badges"), &json!(1), &json!("custom"))
    );
    let entries = created["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["pattern"]["validation"], "luhn");
    assert_eq!(entries[1]["context"], json!(["card"]));
    let badge_entry = entries[0]["id"].as_str().unwrap().to_owned();

    let (status, listed) = gw.admin(Method::GET, PROFILES, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    let (status, got) = gw
        .admin(Method::GET, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!((status, &got["result"]), (200, &created));

    // An entry sent back with its id keeps it; a new one gets its own.
    let mut changed = created.clone();
    changed["entries"] = json!([
        {"id": badge_entry, "name": "badge", "enabled": false, "pattern": {"regex": "BADGE-[0-9]{7}"}},
        {"name": "project", "pattern": {"regex": "PRJ-[A-Z]{3}"}},
    ]);
    let (status, updated) = gw
        .admin(Method::PUT, &format!("{PROFILES}/{id}"), Some(changed))
        .await;
    assert_eq!(status, 200, "{updated}");
    let updated = &updated["result"];
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["entries"][0]["id"], badge_entry.as_str());
    assert_eq!(updated["entries"][0]["enabled"], false);
    assert_ne!(updated["entries"][1]["id"], badge_entry.as_str());
    assert_eq!(updated["entries"][1]["enabled"], true);

    let (status, _) = gw
        .admin(Method::DELETE, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(Method::GET, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = gw
        .admin(Method::DELETE, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn patterns_are_checked_on_save_and_errors_name_the_entry() {
    let gw = TestGateway::start().await;
    let entry = |name: &str, pattern: Value| json!({"name": name, "pattern": pattern});
    let ok = entry("fine", json!({"regex": "ID-[0-9]+"}));
    let too_many: Vec<Value> = (0..65)
        .map(|i| entry(&format!("e{i}"), json!({"regex": "x[0-9]"})))
        .collect();
    for (body, expected) in [
        (
            json!({"name": "p", "entries": [ok.clone(), entry("bad", json!({"regex": "(unclosed"}))]}),
            "entries[1] (\"bad\"): pattern.regex: is not a valid regex",
        ),
        (
            json!({"name": "p", "entries": [entry("empty", json!({"regex": "a*"}))]}),
            "entries[0] (\"empty\"): pattern.regex: matches empty text",
        ),
        (
            json!({"name": "p", "entries": [entry("long", json!({"regex": "a".repeat(1025)}))]}),
            "entries[0] (\"long\"): pattern.regex: must be 1 to 1024 bytes",
        ),
        (
            json!({"name": "p", "entries": [entry("huge", json!({"regex": "\\w{1000}"}))]}),
            "entries[0] (\"huge\"): pattern.regex: is too large once compiled",
        ),
        (
            json!({"name": "p", "entries": [entry("v", json!({"regex": "x[0-9]", "validation": "luhnn"}))]}),
            "entries[0] (\"v\"): pattern.validation: must be one of luhn",
        ),
        (
            json!({"name": "p", "entries": too_many}),
            "entries: 1 to 64 entries",
        ),
        (
            json!({"name": "p", "entires": [ok.clone()]}),
            "entires: unknown field; did you mean entries?",
        ),
        (json!({"entries": [ok.clone()]}), "name: required"),
    ] {
        let (status, envelope) = gw.admin(Method::POST, PROFILES, Some(body)).await;
        assert_eq!(status, 400, "{envelope}");
        let message = envelope["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
    let (_, listed) = gw.admin(Method::GET, PROFILES, None).await;
    assert_eq!(listed["result"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_gateway_blocks_with_a_custom_profile_compiled_once_per_version() {
    let gw = TestGateway::start().await;
    let profile = create_profile(&gw, badges()).await;
    let id = profile["id"].as_str().unwrap().to_owned();
    let entry = profile["entries"][0]["id"].as_str().unwrap().to_owned();
    gw.create_gateway(json!({"id": "custom", "dlp": blocking(&id)}))
        .await;

    let response = send(&gw, "custom", "my badge is BADGE-123456").await;
    assert_eq!(response.status(), 400);
    let header: Value =
        serde_json::from_slice(response.headers()["cf-aig-dlp"].as_bytes()).unwrap();
    assert_eq!(header["findings"][0]["profile"]["profile_id"], id.as_str());
    assert_eq!(
        header["findings"][0]["profile"]["entry_ids"],
        json!([entry])
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2029);
    assert_eq!(send(&gw, "custom", "nothing to see").await.status(), 200);
    // A card number counts only near the word "card" (the entry's context words).
    assert_eq!(
        send(&gw, "custom", "order 4111111111111111").await.status(),
        200
    );
    assert_eq!(
        send(&gw, "custom", "card 4111111111111111").await.status(),
        400
    );
    assert_eq!(
        gw.mock.request_count(),
        2,
        "blocked requests never went upstream"
    );
    assert_eq!(
        gw.state.dlp_profiles().compiled(),
        1,
        "one version, compiled once"
    );

    // An update applies to the next request; the new version is compiled once.
    let mut changed = badges();
    changed["entries"] = json!([{"name": "project", "pattern": {"regex": "PRJ-[A-Z]{3}"}}]);
    let (status, _) = gw
        .admin(Method::PUT, &format!("{PROFILES}/{id}"), Some(changed))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        send(&gw, "custom", "my badge is BADGE-123456")
            .await
            .status(),
        200
    );
    assert_eq!(send(&gw, "custom", "see PRJ-ABC").await.status(), 400);
    assert_eq!(gw.state.dlp_profiles().compiled(), 2);

    // In use: it cannot be deleted until no gateway names it.
    let (status, envelope) = gw
        .admin(Method::DELETE, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!(status, 409, "{envelope}");
    assert!(envelope.to_string().contains("custom"), "{envelope}");
    let (status, _) = gw
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/custom",
            Some(json!({"dlp": null})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(Method::DELETE, &format!("{PROFILES}/{id}"), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_gateway_may_name_only_profiles_that_exist() {
    let gw = TestGateway::start().await;
    let missing = "0190c4a2-0000-7000-8000-000000000000";
    for (profile, expected) in [
        (missing, "has no DLP profile"),
        ("badges", "unknown profile \"badges\""),
    ] {
        let (status, envelope) = gw
            .admin(
                Method::POST,
                "/accounts/local/ai-gateway/gateways",
                Some(json!({"id": "gw", "dlp": blocking(profile)})),
            )
            .await;
        assert_eq!(status, 400, "{envelope}");
        let message = envelope["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
    // Another account's profile is not this account's.
    let (status, created) = gw
        .admin(
            Method::POST,
            "/accounts/other/ai-gateway/dlp/profiles",
            Some(badges()),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let foreign = created["result"]["id"].as_str().unwrap();
    let (status, _) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways",
            Some(json!({"id": "gw", "dlp": blocking(foreign)})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_applies_on_another() {
    let database = TestDatabase::create().await.unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config("", &storage).await;
    // The other instance's clock is the test's, so its profiles go stale when the test says.
    let clock = ManualClock::new(SystemClock.now_ms());
    let two = TestGateway::build("", &storage, Some(clock.clone() as SharedClock), None).await;

    let profile = create_profile(&one, badges()).await;
    let id = profile["id"].as_str().unwrap().to_owned();
    one.create_gateway(json!({"id": "shared", "dlp": blocking(&id)}))
        .await;
    let mut reloads = two.state.reloads();
    reloads
        .wait_for(|_| two.state.gateways().get("local", "shared").is_some())
        .await
        .unwrap();
    assert_eq!(send(&two, "shared", "BADGE-123456").await.status(), 400);

    let mut changed = badges();
    changed["entries"] = json!([{"name": "project", "pattern": {"regex": "PRJ-[A-Z]{3}"}}]);
    let (status, _) = one
        .admin(Method::PUT, &format!("{PROFILES}/{id}"), Some(changed))
        .await;
    assert_eq!(status, 200);
    // Within a second the other instance reads the profiles again.
    clock.advance(Duration::from_millis(1_001));
    assert_eq!(send(&two, "shared", "BADGE-123456").await.status(), 200);
    assert_eq!(send(&two, "shared", "PRJ-XYZ").await.status(), 400);
}
