//! `POST …/ai-gateway/dlp/test` (docs/dlp.md, "Testing profiles"): what built-in, saved and
//! unsaved profiles find in a text, as byte offsets (never the text), with the same scanner
//! the proxy uses, and the call's bounds.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestGateway;

const TEST: &str = "/accounts/local/ai-gateway/dlp/test";

async fn matches(gw: &TestGateway, body: Value) -> Vec<Value> {
    let (status, envelope) = gw.admin(Method::POST, TEST, Some(body)).await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["success"], true);
    assert_eq!(envelope["result"]["truncated"], false);
    envelope["result"]["matches"].as_array().unwrap().clone()
}

fn error(envelope: &Value) -> &str {
    envelope["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_card_number_is_found_by_financial_at_its_byte_offsets() {
    let gw = TestGateway::start().await;
    // "€" is three bytes: offsets count bytes of the UTF-8 text.
    let text = "€5 card 4111 1111 1111 1111, order 1234567812345678";
    let found = matches(
        &gw,
        json!({"text": text, "profiles": ["financial", "national_ids"]}),
    )
    .await;
    assert_eq!(
        found,
        vec![json!({"profile": "financial", "entry": "credit_card",
                    "entry_name": "Credit card number", "start": 10, "end": 29})]
    );
    assert_eq!(&text[10..29], "4111 1111 1111 1111");
    // The answer never carries the text.
    let (_, envelope) = gw
        .admin(
            Method::POST,
            TEST,
            Some(json!({"text": text, "profiles": ["financial"]})),
        )
        .await;
    assert!(!envelope.to_string().contains("4111"), "{envelope}");
    // Nothing found is an empty list.
    let found = matches(
        &gw,
        json!({"text": "nothing to see", "profiles": ["credentials"]}),
    )
    .await;
    assert!(found.is_empty());
}

#[tokio::test]
async fn an_unsaved_profile_is_tested_before_it_is_saved() {
    let gw = TestGateway::start().await;
    let draft = json!({"name": "Badges", "entries": [
        {"name": "off", "enabled": false, "pattern": {"regex": "BADGE"}},
        {"id": "kept-id", "name": "badge", "pattern": {"regex": "BADGE-[0-9]{6}"}},
        {"name": "project", "pattern": {"regex": "PRJ-[A-Z]{3}"}},
    ]});
    let text = "BADGE-123456 and PRJ-XYZ";
    let found = matches(&gw, json!({"text": text, "profile": draft})).await;
    assert_eq!(
        found,
        vec![
            json!({"profile": "unsaved", "entry": "kept-id", "entry_name": "badge",
                   "start": 0, "end": 12}),
            json!({"profile": "unsaved", "entry": "entries[2]", "entry_name": "project",
                   "start": 17, "end": 24}),
        ],
        "a disabled entry does not scan"
    );
    // Nothing was saved.
    let (_, listed) = gw
        .admin(Method::GET, "/accounts/local/ai-gateway/dlp/profiles", None)
        .await;
    assert_eq!(listed["result"], json!([]));

    // A bad pattern is refused as a save refuses it, naming the entry.
    let bad = json!({"name": "Badges", "entries": [
        {"name": "fine", "pattern": {"regex": "ID-[0-9]+"}},
        {"name": "bad", "pattern": {"regex": "(unclosed"}},
    ]});
    let (status, envelope) = gw
        .admin(
            Method::POST,
            TEST,
            Some(json!({"text": "x", "profile": bad})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error(&envelope)
            .starts_with("profile: entries[1] (\"bad\"): pattern.regex: is not a valid regex"),
        "{envelope}"
    );

    // A saved profile is tested by its id, with the entries' saved ids.
    let (status, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/dlp/profiles",
            Some(draft),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap();
    let entry = created["result"]["entries"][1]["id"].as_str().unwrap();
    let found = matches(&gw, json!({"text": text, "profiles": [id, "financial"]})).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found[0],
        json!({"profile": id, "entry": entry, "entry_name": "badge", "start": 0, "end": 12})
    );
}

#[tokio::test]
async fn unknown_profiles_and_bad_calls_are_refused_by_name() {
    let gw = TestGateway::start().await;
    let too_many: Vec<String> = (0..17).map(|i| format!("p{i}")).collect();
    for (body, expected) in [
        (
            json!({"text": "x", "profiles": ["financial", "financal"]}),
            "profiles[1]: unknown profile \"financal\"; did you mean financial?",
        ),
        (
            json!({"text": "x", "profiles": ["0190d5c0-0000-7000-8000-000000000000"]}),
            "profiles[0]: unknown profile \"0190d5c0-0000-7000-8000-000000000000\"",
        ),
        (
            json!({"text": "x", "profiles": too_many}),
            "profiles: a list of at most 16",
        ),
        (json!({"text": "x"}), "profiles: name 1 to 16 profiles"),
        (json!({"profiles": ["financial"]}), "text: required"),
        (
            json!({"txt": "x", "profiles": ["financial"]}),
            "txt: unknown field; did you mean text?",
        ),
    ] {
        let (status, envelope) = gw.admin(Method::POST, TEST, Some(body)).await;
        assert_eq!(status, 400, "{envelope}");
        assert!(error(&envelope).starts_with(expected), "{envelope}");
    }
}

#[tokio::test]
async fn a_text_over_one_mebibyte_is_refused() {
    let gw = TestGateway::start().await;
    let longest = "a".repeat(1024 * 1024);
    assert!(
        matches(&gw, json!({"text": longest, "profiles": ["financial"]}))
            .await
            .is_empty()
    );
    let (status, envelope) = gw
        .admin(
            Method::POST,
            TEST,
            Some(json!({"text": format!("{longest}a"), "profiles": ["financial"]})),
        )
        .await;
    assert_eq!(status, 413, "{envelope}");
    assert!(
        error(&envelope).contains("at most 1048576 bytes"),
        "{envelope}"
    );
}
