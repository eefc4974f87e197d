//! The unified OpenAI-compatible endpoint (docs/compat.md) against the mock's Anthropic and Gemini
//! formats. The Python tests drive the official OpenAI SDK through it too.

use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::TestGateway;

const CHAT: &str = "/v1/local/default/compat/chat/completions";

fn openai_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Translate this request for me please"}
        ],
        "temperature": 0.2,
    })
}

async fn call(gw: &TestGateway, body: &Value) -> reqwest::Response {
    gw.http
        .post(gw.url(CHAT))
        .bearer_auth("sk-compat-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The content and usage of an OpenAI stream.
fn read_stream(text: &str) -> (String, Option<Value>, bool) {
    let mut content = String::new();
    let mut usage = None;
    let mut done = false;
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(line).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk", "{chunk}");
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
        if !chunk["usage"].is_null() {
            usage = Some(chunk["usage"].clone());
        }
    }
    (content, usage, done)
}

#[tokio::test]
async fn anthropic_answers_in_openai_shape() {
    let gw = TestGateway::start().await;
    let response = call(&gw, &openai_request("anthropic/claude-sonnet-4-5", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.starts_with("Hello! You said:"), "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        body["usage"]["total_tokens"].as_u64(),
        Some(
            body["usage"]["prompt_tokens"].as_u64().unwrap()
                + body["usage"]["completion_tokens"].as_u64().unwrap()
        )
    );

    // What the provider got: its own format, its own credential header.
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-compat-key"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Translate this request for me please"}])
    );

    // Logged under the real provider and model, with tokens and cost.
    let row = gw.log_row("default", &log_id).await.unwrap();
    assert_eq!(
        (row.provider.as_str(), row.model.as_deref()),
        ("anthropic", Some("claude-sonnet-4-5"))
    );
    assert!(row.tokens_out.unwrap() > 0 && row.cost.is_some());

    // The stream says the same, event by event.
    let response = call(&gw, &openai_request("anthropic/claude-sonnet-4-5", true)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (streamed, usage, done) = read_stream(&response.text().await.unwrap());
    assert_eq!(streamed, content);
    assert!(done);
    assert_eq!(
        usage.unwrap()["completion_tokens"],
        body["usage"]["completion_tokens"]
    );
}

#[tokio::test]
async fn gemini_answers_in_openai_shape() {
    let gw = TestGateway::start().await;
    let body: Value = call(
        &gw,
        &openai_request("google-ai-studio/gemini-2.5-flash", false),
    )
    .await
    .json()
    .await
    .unwrap();
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.starts_with("Hello! You said:"), "{body}");
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(
        seen.path_and_query,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(seen.header("x-goog-api-key"), Some("sk-compat-key"));
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["generationConfig"]["temperature"], 0.2);

    let response = call(
        &gw,
        &openai_request("google-ai-studio/gemini-2.5-flash", true),
    )
    .await;
    let (streamed, usage, done) = read_stream(&response.text().await.unwrap());
    assert_eq!((streamed, done), (content, true));
    assert!(usage.is_some());
    assert_eq!(
        gw.mock.requests().pop().unwrap().path_and_query,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
}

#[tokio::test]
async fn openai_compatible_providers_get_the_bare_model() {
    let gw = TestGateway::start().await;
    let direct: Value = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.mock.url()))
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "same"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let through: Value = call(
        &gw,
        &json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "same"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(through, direct);
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap()["model"],
        "gpt-4o-mini"
    );
    assert_eq!(seen.header("authorization"), Some("Bearer sk-compat-key"));
}

#[tokio::test]
async fn provider_errors_keep_their_status_in_openai_shape() {
    let gw = TestGateway::start().await;
    gw.mock.push(
        Behavior::status(429)
            .with_body(
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}"#,
            )
            .with_header("content-type", "application/json"),
    );
    let response = call(&gw, &openai_request("anthropic/claude-sonnet-4-5", false)).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Slow down");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_provider() {
    let gw = TestGateway::start().await;
    for (body, status) in [
        (json!({"model": "no-provider", "messages": []}), 400),
        (json!({"model": "nope/model", "messages": []}), 400),
        (
            json!({"model": "anthropic/claude-sonnet-4-5", "n": 3, "messages": [{"role": "user", "content": "x"}]}),
            400,
        ),
    ] {
        assert_eq!(call(&gw, &body).await.status().as_u16(), status, "{body}");
    }
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn models_embeddings_and_the_cache() {
    let gw = TestGateway::start().await;
    let models: Value = gw
        .http
        .get(gw.url("/v1/local/default/compat/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"openai/gpt-4o-mini") && ids.iter().any(|id| id.starts_with("anthropic/")),
        "{}",
        ids.len()
    );

    let embedding = gw
        .http
        .post(gw.url("/v1/local/default/compat/embeddings"))
        .bearer_auth("sk-compat-key")
        .json(&json!({"model": "openai/text-embedding-3-small", "input": "embed me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(embedding.status(), 200);
    assert_eq!(embedding.json::<Value>().await.unwrap()["object"], "list");
    assert_eq!(
        gw.mock.requests().pop().unwrap().path_and_query,
        "/v1/embeddings"
    );

    gw.create_gateway(json!({"id": "cached", "cache_ttl": 60}))
        .await;
    let path = "/v1/local/cached/compat/chat/completions";
    let request = openai_request("anthropic/claude-sonnet-4-5", true);
    let send = || {
        gw.http
            .post(gw.url(path))
            .bearer_auth("sk-compat-key")
            .json(&request)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.headers()["cf-aig-cache-status"], "MISS");
    let first = first.bytes().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.headers()["cf-aig-cache-status"], "HIT");
    assert_eq!(second.headers()["content-type"], "text/event-stream");
    assert_eq!(
        second.bytes().await.unwrap(),
        first,
        "the translated stream is what is replayed"
    );
}

#[tokio::test]
async fn workers_ai_goes_to_its_openai_route() {
    let mock = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let section = format!(
        "[providers.workers-ai]\nbase_url = \"{}/client/v4/accounts/{{cf_account}}/ai/run\"\ncf_account = \"acct1\"\n",
        mock.url()
    );
    let gw = TestGateway::build("", &section, None, Some(mock)).await;
    let body = json!({"model": "workers-ai/@cf/meta/llama-3.1-8b-instruct", "messages": [{"role": "user", "content": "hi"}]});
    let _ = call(&gw, &body).await;
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(
        seen.path_and_query,
        "/client/v4/accounts/acct1/ai/v1/chat/completions"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap()["model"],
        "@cf/meta/llama-3.1-8b-instruct"
    );
}

/// The unified endpoint's fixed path (`v1/chat/completions`) was once read by Azure's URL
/// template as resource `v1`, deployment `chat`: the key and prompt went to someone else's
/// Azure resource. Providers whose URL needs parts only a native path gives are refused.
#[tokio::test]
async fn providers_whose_url_needs_request_parts_are_refused_not_guessed() {
    let mock = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let section = format!(
        "[providers.azure-openai]\nbase_url = \"{}/azure/{{resource}}/openai/deployments/{{deployment}}\"\n",
        mock.url()
    );
    let gw = TestGateway::build("", &section, None, Some(mock)).await;
    for slug in ["azure-openai", "google-vertex-ai", "aws-bedrock"] {
        let body =
            json!({"model": format!("{slug}/x"), "messages": [{"role": "user", "content": "hi"}]});
        let response = call(&gw, &body).await;
        assert_eq!(response.status(), 400, "{slug}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(slug) && message.contains("base_url"),
            "{slug}: {message}"
        );
        let universal = gw
            .http
            .post(gw.url("/v1/local/default"))
            .bearer_auth("sk-compat-key")
            .json(&json!([{"provider": "compat", "endpoint": "chat/completions", "headers": {}, "query": body}]))
            .send()
            .await
            .unwrap();
        assert_eq!(universal.status(), 400, "{slug} as a universal step");
    }
    assert_eq!(gw.mock.request_count(), 0);

    // The native route still fills them from its path (the mock answers such paths 404).
    gw.http
        .post(gw.url(
            "/v1/local/default/azure-openai/myres/gpt4o/chat/completions?api-version=2024-10-21",
        ))
        .header("api-key", "azure-key")
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        gw.mock.requests()[0].path_and_query,
        "/azure/myres/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
    );
}

/// The list is what can be called: the configured providers' models, not the whole price
/// table; `created` is when the instance started, not 0.
#[tokio::test]
async fn models_lists_only_providers_that_can_be_called() {
    let mock = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    // Configured, but its URL needs the resource and deployment only a native path gives.
    let section = format!(
        "[providers.azure-openai]\nbase_url = \"{}/azure/{{resource}}/openai/deployments/{{deployment}}\"\n",
        mock.url()
    );
    let gw = TestGateway::build("", &section, None, Some(mock)).await;
    let models: Value = gw
        .http
        .get(gw.url("/v1/local/default/compat/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = models["data"].as_array().unwrap();
    let providers: std::collections::BTreeSet<&str> = data
        .iter()
        .map(|m| m["owned_by"].as_str().unwrap())
        .collect();
    assert!(
        providers.contains("openai")
            && providers.contains("anthropic")
            && providers.contains("google-ai-studio"),
        "{providers:?}"
    );
    // Not configured: groq, mistral, …
    for absent in ["groq", "mistral", "deepseek", "azure-openai"] {
        assert!(!providers.contains(absent), "{absent} in {providers:?}");
    }
    let started = gw.state.started_at().as_second();
    assert!(started > 1_700_000_000);
    assert!(data.iter().all(|m| m["created"].as_i64() == Some(started)));

    // An Anthropic SDK gets the same models in Anthropic's shape.
    let anthropic: Value = gw
        .http
        .get(gw.url("/v1/local/default/compat/v1/models"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = anthropic["data"].as_array().unwrap();
    assert_eq!(listed.len(), data.len());
    assert_eq!(listed[0]["type"], "model");
    assert_eq!(listed[0]["id"], data[0]["id"]);
    assert_eq!(
        listed[0]["created_at"],
        gw.state.started_at().to_string().as_str()
    );
    assert_eq!(anthropic["has_more"], false);
}
