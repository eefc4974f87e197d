//! Span attributes in OpenTelemetry's GenAI semantic conventions (`gen_ai.*`), with Tollgate's
//! own facts under `tollgate.*` and each `cf-aig-metadata` key as sent (docs/observability.md).

use opentelemetry::{Key, KeyValue, Value};

use crate::logs::{LogEnd, RollupFacts};

/// Bodies on a span are cut at this size: collectors refuse very large attributes.
pub const BODY_ATTRIBUTE_BYTES: usize = 64 * 1024;

const BODY_KEYS: [&str; 4] = [
    "gen_ai.prompt_json",
    "gen_ai.completion_json",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

/// The MCP method whose spans are the GenAI conventions' tool executions.
pub const MCP_TOOLS_CALL: &str = "tools/call";

/// What the request is known to be from its start.
pub fn request(
    account: &str,
    gateway: &str,
    log_id: &str,
    method: &str,
    metadata: Option<&[(String, serde_json::Value)]>,
) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("tollgate.account.id", account.to_owned()),
        KeyValue::new("tollgate.gateway.id", gateway.to_owned()),
        KeyValue::new("tollgate.log_id", log_id.to_owned()),
        KeyValue::new("http.request.method", method.to_owned()),
    ];
    // Metadata is the client's, so it cannot pose as the gateway's own facts.
    for (key, value) in metadata.unwrap_or_default() {
        if key.starts_with("gen_ai.") || key.starts_with("tollgate.") {
            continue;
        }
        attributes.push(KeyValue::new(key.clone(), metadata_value(value)));
    }
    attributes
}

fn metadata_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => Value::I64(int),
            None => Value::F64(number.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(text) => Value::String(text.clone().into()),
        other => Value::String(other.to_string().into()),
    }
}

/// What an attempt (or a cache hit) showed: provider, model, usage, cost, cache status.
pub fn outcome(facts: &RollupFacts, end: &LogEnd) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("gen_ai.provider.name", provider_name(&facts.provider)),
        // Cloudflare's name for the same fact.
        KeyValue::new("gen_ai.model.provider", facts.provider.clone()),
        KeyValue::new(
            "tollgate.cache_status",
            if end.cached { "HIT" } else { "MISS" },
        ),
        KeyValue::new("tollgate.streaming", is_stream(end)),
    ];
    if !facts.model.is_empty() {
        attributes.push(KeyValue::new("gen_ai.request.model", facts.model.clone()));
    }
    if let Some(status) = end.status_code {
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
    }
    let cached = end.cache_read_tokens.unwrap_or(0);
    let tokens = [
        ("gen_ai.usage.input_tokens", end.tokens_in),
        ("gen_ai.usage.output_tokens", end.tokens_out),
        (
            "gen_ai.usage.cache_read.input_tokens",
            Some(cached).filter(|n| *n > 0),
        ),
        (
            "gen_ai.usage.cache_creation.input_tokens",
            end.cache_write_tokens.filter(|n| *n > 0),
        ),
    ];
    for (key, count) in tokens {
        if let Some(count) = count {
            attributes.push(KeyValue::new(key, count));
        }
    }
    // No cost attribute when the cost is unknown: a zero would read as "free".
    if let Some(cost) = end.cost {
        attributes.push(KeyValue::new("gen_ai.usage.cost", cost));
    }
    if let Some(error) = end.error.as_ref().filter(|_| !end.success) {
        attributes.push(KeyValue::new("error.type", error_type(end, error)));
    }
    attributes
}

/// What an MCP request is, in the MCP conventions (and the GenAI ones' `execute_tool` for a
/// tool call), `name` being the tool, prompt or resource as the span's side names it.
pub fn mcp(call: &super::trace::McpCall<'_>, name: &str) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("mcp.method.name", call.target.method),
        KeyValue::new("jsonrpc.request.id", call.request_id.to_owned()),
        KeyValue::new("tollgate.mcp.server", call.target.server.to_owned()),
    ];
    match call.target.method {
        MCP_TOOLS_CALL => {
            attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
            attributes.push(KeyValue::new("gen_ai.tool.name", name.to_owned()));
        }
        "prompts/get" => attributes.push(KeyValue::new("gen_ai.prompt.name", name.to_owned())),
        _ => attributes.push(KeyValue::new("mcp.resource.uri", name.to_owned())),
    }
    attributes
}

/// The MCP conventions' span name: `{mcp.method.name} {target}`, the target a tool's or a
/// prompt's name; a resource's URI is left out (too many distinct names).
pub fn mcp_span_name(method: &str, name: &str) -> String {
    match method {
        MCP_TOOLS_CALL | "prompts/get" => format!("{method} {name}"),
        _ => method.to_owned(),
    }
}

/// The span name the GenAI conventions give a call: `{operation} {model}`.
pub fn span_name(operation: Option<&str>, model: &str) -> Option<String> {
    match (operation, model) {
        (Some(operation), "") => Some(operation.to_owned()),
        (Some(operation), model) => Some(format!("{operation} {model}")),
        (None, _) => None,
    }
}

/// A body as a span attribute, cut at [`BODY_ATTRIBUTE_BYTES`] on a character boundary.
pub fn body(key: &'static str, bytes: &[u8]) -> KeyValue {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_ATTRIBUTE_BYTES)]);
    KeyValue::new(key, text.into_owned())
}

pub fn is_body(key: &Key) -> bool {
    BODY_KEYS.contains(&key.as_str())
}

/// The conventions' well-known provider names where one exists, else the gateway's slug.
fn provider_name(slug: &str) -> String {
    let name = match slug {
        "google-ai-studio" => "gcp.gemini",
        "google-vertex-ai" => "gcp.vertex_ai",
        "aws-bedrock" => "aws.bedrock",
        "azure-openai" => "azure.ai.openai",
        "mistral" => "mistral_ai",
        "groq" => "groq",
        "deepseek" => "deepseek",
        "perplexity-ai" => "perplexity",
        "grok" => "x_ai",
        other => other,
    };
    name.to_owned()
}

fn is_stream(end: &LogEnd) -> bool {
    end.response_content_type
        .as_deref()
        .is_some_and(|kind| kind.starts_with("text/event-stream"))
}

/// The conventions' operation a provider path performs; `None` for paths it has no name for.
pub fn operation(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or_default();
    let operations = [
        ("chat/completions", "chat"),
        ("/messages", "chat"),
        ("/responses", "chat"),
        ("/converse", "chat"),
        ("/converse-stream", "chat"),
        (":generateContent", "generate_content"),
        (":streamGenerateContent", "generate_content"),
        ("/embeddings", "embeddings"),
        (":embedContent", "embeddings"),
        ("/completions", "text_completion"),
    ];
    operations
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map(|(_, operation)| *operation)
}

/// A low-cardinality error class: the status when there was one, else `timeout` or `error`.
fn error_type(end: &LogEnd, error: &str) -> String {
    match end.status_code {
        Some(status) if status >= 400 => status.to_string(),
        _ if error.contains("timed out") || error.contains("timeout") => "timeout".into(),
        _ => "error".into(),
    }
}
