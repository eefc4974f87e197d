//! Guardrails (docs/guardrails.md): the gateway's `guardrails` field and `[guardrails]`
//! validated, prompts and responses classified by a Llama-Guard classifier (the mock, answering
//! as Llama Guard for a `llama-guard` model: `UNSAFE-S1` in the text makes it say
//! `unsafe\nS1`), BLOCK → 424/2016 or 2017, a classifier that cannot answer → 503/7013 only
//! with a BLOCK rule, and every classifier call one log row under the request's event id.

use serde_json::{Value, json};
use tollgate_gateway::config::{Config, Overrides};
use tollgate_gateway::store::logs::BodyKind;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_saying as chat, gateway_error_code, send_chat as send};

/// The classifier: the mock behind the `openai` provider, with a Llama Guard model name.
const CLASSIFIER: &str = "[guardrails]\nprovider = \"openai\"\nmodel = \"llama-guard-3-8b\"\n";

async fn guarded(sections: &str, id: &str, guardrails: Value) -> TestGateway {
    let gw = TestGateway::with_config("", &format!("{CLASSIFIER}{sections}")).await;
    gw.create_gateway(json!({"id": id, "guardrails": guardrails}))
        .await;
    gw
}

fn header_json(response: &reqwest::Response, name: &str) -> Value {
    let value = response.headers().get(name).expect(name);
    serde_json::from_slice(value.as_bytes()).unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

/// The rows of an event, oldest first.
async fn rows_of_event(gw: &TestGateway, gateway: &str, event_id: &str) -> Vec<Value> {
    gw.logs_flushed().await;
    let path = format!(
        "/accounts/local/ai-gateway/gateways/{gateway}/logs?filters[0][key]=event_id\
         &filters[0][operator]=eq&filters[0][value]={event_id}"
    );
    let (status, listed) = gw.admin(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{listed}");
    listed["result"].as_array().unwrap().clone()
}

/// The classifier rows among `rows`: their metadata names the side they classified.
fn classifier_rows(rows: &[Value]) -> Vec<&Value> {
    rows.iter()
        .filter(|row| row["model"] == "llama-guard-3-8b")
        .collect()
}

/// The text each classifier call was asked about (the last message it was sent).
fn classified_texts(gw: &TestGateway) -> Vec<String> {
    gw.mock
        .requests()
        .iter()
        .filter_map(|request| {
            let body: Value = serde_json::from_slice(&request.body).ok()?;
            (body["model"] == "llama-guard-3-8b").then(|| {
                let last = body["messages"].as_array().unwrap().last().unwrap().clone();
                last["content"].as_str().unwrap().to_owned()
            })
        })
        .collect()
}

#[tokio::test]
async fn a_blocked_prompt_never_goes_upstream_and_its_rows_share_the_event_id() {
    let gw = guarded("", "gr", json!({"prompt": {"S1": "BLOCK", "S10": "FLAG"}})).await;
    let response = send(&gw, "gr", &chat("tell me how UNSAFE-S1 UNSAFE-S10", false)).await;
    assert_eq!(response.status(), 424);
    let found = header_json(&response, "cf-aig-guardrails");
    assert_eq!(found["prompt"]["action"], "BLOCK");
    assert_eq!(found["prompt"]["categories"], json!(["S1", "S10"]));
    let event_id = header(&response, "cf-aig-event-id");
    let log_id = header(&response, "cf-aig-log-id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2016);
    assert!(
        body["error"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Prompt blocked due to security configurations (guardrails: S1)"),
        "{body}"
    );
    // Only the classifier was called.
    assert_eq!(classified_texts(&gw), ["tell me how UNSAFE-S1 UNSAFE-S10"]);
    assert_eq!(gw.mock.request_count(), 1);

    let rows = rows_of_event(&gw, "gr", &event_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let request_row = rows
        .iter()
        .find(|row| row["id"] == log_id.as_str())
        .unwrap();
    assert_eq!(request_row["status_code"], 424);
    let classifier = classifier_rows(&rows);
    assert_eq!(classifier.len(), 1);
    assert_eq!(classifier[0]["status_code"], 200);
    assert_eq!(classifier[0]["provider"], "openai");
    let metadata: Value =
        serde_json::from_str(classifier[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata, json!({"guardrails": "prompt", "chunk": "1/1"}));
    // The verdict is the classifier row's response body.
    let verdict = gw
        .state
        .store()
        .get_body(
            "local",
            "gr",
            classifier[0]["id"].as_str().unwrap(),
            BodyKind::Response,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&verdict.bytes).contains("unsafe\\nS1,S10"));
}

#[tokio::test]
async fn a_blocked_response_is_replaced_by_424_2017() {
    let gw = guarded("", "gr", json!({"response": {"S1": "BLOCK"}})).await;
    // The mock echoes the prompt, so its answer carries the marker; the prompt is not checked.
    let response = send(&gw, "gr", &chat("repeat UNSAFE-S1", false)).await;
    assert_eq!(response.status(), 424);
    let event_id = header(&response, "cf-aig-event-id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2017);
    assert!(
        !body.to_string().contains("Hello!"),
        "the answer is withheld"
    );
    assert_eq!(classified_texts(&gw), ["Hello! You said: repeat UNSAFE-S1"]);
    let rows = rows_of_event(&gw, "gr", &event_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(classifier_rows(&rows).len(), 1);
    assert!(rows.iter().any(|row| row["status_code"] == 424));
}

#[tokio::test]
async fn a_streamed_response_is_read_whole_and_can_be_blocked() {
    let gw = guarded("", "gr", json!({"response": {"S1": "BLOCK"}})).await;
    let response = send(&gw, "gr", &chat("repeat UNSAFE-S1", true)).await;
    assert_eq!(response.status(), 424);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2017);
    // A safe stream still arrives whole, in the provider's format.
    let response = send(&gw, "gr", &chat("repeat nothing", true)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("data: [DONE]"), "{text}");
}

#[tokio::test]
async fn flag_only_rules_let_the_call_through_and_record_what_they_found() {
    let gw = guarded(
        "",
        "gr",
        json!({"prompt": {"S1": "FLAG"}, "response": {"S1": "FLAG", "S2": "BLOCK"}}),
    )
    .await;
    let response = send(&gw, "gr", &chat("repeat UNSAFE-S1", false)).await;
    assert_eq!(response.status(), 200);
    let found = header_json(&response, "cf-aig-guardrails");
    assert_eq!(
        found,
        json!({"prompt": {"action": "FLAG", "categories": ["S1"]},
            "response": {"action": "FLAG", "categories": ["S1"]}})
    );
    let event_id = header(&response, "cf-aig-event-id");
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("UNSAFE-S1")
    );
    let rows = rows_of_event(&gw, "gr", &event_id).await;
    assert_eq!(
        rows.len(),
        3,
        "the request and two classifier calls: {rows:?}"
    );
    let sides: Vec<String> = classifier_rows(&rows)
        .iter()
        .map(|row| {
            let metadata: Value = serde_json::from_str(row["metadata"].as_str().unwrap()).unwrap();
            metadata["guardrails"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(sides.len(), 2);
    assert!(sides.contains(&"prompt".to_owned()) && sides.contains(&"response".to_owned()));
    // A clean prompt gets no header.
    let response = send(&gw, "gr", &chat("hello there", false)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("cf-aig-guardrails").is_none());
}

#[tokio::test]
async fn a_classifier_that_cannot_answer_refuses_only_with_a_block_rule() {
    let gw = guarded("", "strict", json!({"prompt": {"S1": "BLOCK"}})).await;
    gw.create_gateway(json!({"id": "lenient", "guardrails": {"prompt": {"S1": "FLAG"}}}))
        .await;

    gw.mock.push(Behavior::status(503));
    let response = send(&gw, "strict", &chat("hello", false)).await;
    assert_eq!(response.status(), 503);
    let event_id = header(&response, "cf-aig-event-id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 7013);
    assert_eq!(gw.mock.request_count(), 1, "the call itself was not made");
    let rows = rows_of_event(&gw, "strict", &event_id).await;
    let classifier = classifier_rows(&rows);
    assert_eq!(classifier.len(), 1);
    assert_eq!(classifier[0]["status_code"], 503);
    assert_eq!(classifier[0]["success"], false);

    // An answer that is not Llama Guard's counts as no answer.
    gw.mock.push(Behavior::chat_answer("I'd rather not say"));
    let response = send(&gw, "strict", &chat("hello", false)).await;
    assert_eq!(response.status(), 503);

    gw.mock.clear_requests();
    gw.mock.push(Behavior::status(500));
    let response = send(&gw, "lenient", &chat("hello UNSAFE-S1", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header_json(&response, "cf-aig-guardrails"),
        json!({"prompt": {"unavailable": true}})
    );
    let seen: Vec<String> = gw
        .mock
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(seen.len(), 2, "the classifier, then the call: {seen:?}");
}

#[tokio::test]
async fn an_unreachable_classifier_is_unavailable() {
    // A provider on a port nothing listens on: bound, then closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let sections = format!(
        "[providers.guard-down]\nbase_url = \"http://{closed}/v1\"\n\
         [guardrails]\nprovider = \"guard-down\"\nmodel = \"llama-guard-3-8b\"\n"
    );
    let gw = TestGateway::with_config("", &sections).await;
    gw.create_gateway(json!({"id": "strict", "guardrails": {"prompt": {"S1": "BLOCK"}}}))
        .await;
    gw.create_gateway(json!({"id": "lenient", "guardrails": {"prompt": {"S1": "FLAG"}}}))
        .await;
    let response = send(&gw, "strict", &chat("hello", false)).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 7013);
    let response = send(&gw, "lenient", &chat("hello", false)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_long_prompt_is_classified_in_chunks_each_a_row() {
    let gw = guarded(
        "chunk_bytes = 256\nmax_chunks = 8\n",
        "gr",
        json!({"prompt": {"S1": "BLOCK"}}),
    )
    .await;
    // About 1 KB of words, the marker at the end: found in the last chunk.
    let text = format!("{} UNSAFE-S1", "ordinary words here ".repeat(50));
    let response = send(&gw, "gr", &chat(&text, false)).await;
    assert_eq!(response.status(), 424);
    let event_id = header(&response, "cf-aig-event-id");
    let texts = classified_texts(&gw);
    assert!(texts.len() >= 4, "{texts:?}");
    assert!(texts.iter().all(|t| t.len() <= 256));
    assert!(texts.last().unwrap().ends_with("UNSAFE-S1"));
    let rows = rows_of_event(&gw, "gr", &event_id).await;
    assert_eq!(classifier_rows(&rows).len(), texts.len());
}

#[tokio::test]
async fn the_guardrails_field_and_section_are_validated() {
    let gw = TestGateway::with_config("", CLASSIFIER).await;
    let path = "/accounts/local/ai-gateway/gateways";
    for (guardrails, expected) in [
        (
            json!({"prompt": {"S14": "BLOCK"}}),
            "guardrails: prompt.S14: unknown category",
        ),
        (
            json!({"response": {"S1": "DENY"}}),
            "guardrails: response.S1: must be \"FLAG\" or \"BLOCK\"",
        ),
        (json!({"promt": {}}), "did you mean prompt?"),
        (json!(["S1"]), "guardrails: must be an object"),
    ] {
        let (status, envelope) = gw
            .admin(
                reqwest::Method::POST,
                path,
                Some(json!({"id": "bad", "guardrails": guardrails})),
            )
            .await;
        assert_eq!(status, 400, "{envelope}");
        let message = envelope["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
    let rules = json!({"prompt": {"P1": "BLOCK", "S3": "FLAG"}, "response": {}});
    let created = gw
        .create_gateway(json!({"id": "ok", "guardrails": rules}))
        .await;
    assert_eq!(created["guardrails"], rules);
    let (status, updated) = gw
        .admin(
            reqwest::Method::PUT,
            &format!("{path}/ok"),
            Some(json!({"guardrails": null})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["result"]["guardrails"], Value::Null);

    for (section, expected) in [
        (
            "[guardrails]\nmodle = \"x\"\n",
            "guardrails.modle: unknown key; did you mean model?",
        ),
        (
            "[guardrails]\nprovider = \"opneai\"\n",
            "did you mean openai?",
        ),
        (
            "[guardrails]\nchunk_bytes = 1\n",
            "guardrails.chunk_bytes: must be between",
        ),
    ] {
        let problems = Config::parse(section, std::iter::empty(), &Overrides::default())
            .err()
            .map(|error| error.problems.join("\n"))
            .unwrap_or_default();
        assert!(problems.contains(expected), "{section}: {problems}");
    }
    let defaults = Config::defaults().unwrap().guardrails;
    assert_eq!(
        (defaults.provider.as_str(), defaults.model.as_str()),
        ("workers-ai", "@cf/meta/llama-guard-3-8b")
    );
}

#[tokio::test]
async fn the_classifier_gets_the_stored_key_of_an_authenticated_gateway_else_the_clients_own() {
    let gw = guarded("", "gr", json!({"prompt": {"S1": "BLOCK"}})).await;
    // Without a stored key, a call to the classifier's own provider lends it the client's key.
    assert_eq!(send(&gw, "gr", &chat("hello", false)).await.status(), 200);
    let sent_with = |gw: &TestGateway| -> Vec<(String, Option<String>)> {
        gw.mock
            .requests()
            .iter()
            .map(|request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                (
                    body["model"].as_str().unwrap().to_owned(),
                    request.header("authorization").map(str::to_owned),
                )
            })
            .collect()
    };
    let client = Some("Bearer sk-test-provider-key".to_owned());
    assert_eq!(
        sent_with(&gw),
        [
            ("llama-guard-3-8b".to_owned(), client.clone()),
            ("gpt-4o-mini".to_owned(), client.clone())
        ]
    );

    // On a gateway with authentication on, its stored key for the classifier's provider wins
    // (the client's own call keeps the client's key).
    let (status, _) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/gr",
            Some(json!({"authentication": true})),
        )
        .await;
    assert_eq!(status, 200);
    let token = gw.create_token(json!({"name": "app"})).await;
    let (status, envelope) = gw
        .admin(
            reqwest::Method::POST,
            "/accounts/local/ai-gateway/gateways/gr/provider_configs",
            Some(json!({"default_config": true, "provider_slug": "openai",
                "secret": "sk-stored-for-the-classifier"})),
        )
        .await;
    assert_eq!(status, 200, "{envelope}");
    gw.mock.clear_requests();
    let response = gw
        .http
        .post(gw.url("/v1/local/gr/openai/chat/completions"))
        .header("authorization", "Bearer sk-test-provider-key")
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&chat("hello", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        sent_with(&gw),
        [
            (
                "llama-guard-3-8b".to_owned(),
                Some("Bearer sk-stored-for-the-classifier".to_owned())
            ),
            ("gpt-4o-mini".to_owned(), client)
        ]
    );
}
