//! The model a request names (the log row's `model`): in its path for Gemini, Vertex, Bedrock and
//! Workers AI, otherwise the body's top-level `model`.

use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::UsageFormat;

/// The model as the REQUEST names it (the log row's `model`): the JSON body's top-level "model" string
/// for OpenAI-style/Anthropic/Cohere bodies; for Gemini/Vertex the `models/{model}:…` path segment
/// (e.g. path "v1beta/models/gemini-2.5-flash:generateContent" → "gemini-2.5-flash"); Bedrock `model/{id}/invoke[-with-response-stream]|converse[-stream]`
/// (id percent-decoded); Workers AI the path after `run/` or the whole path when it starts with `@cf/`/`@hf/`
/// (e.g. "@cf/meta/llama-3.1-8b-instruct"), else the body's "model". Only the top-level "model" key
/// is read; the rest of the body is skipped without allocating.
pub fn request_model(format: UsageFormat, provider_path: &str, body: &[u8]) -> Option<String> {
    let path = provider_path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_matches('/');
    let from_path = match format {
        UsageFormat::Gemini => gemini(path),
        UsageFormat::Bedrock => bedrock(path),
        UsageFormat::WorkersAi => workers_ai(path),
        _ => None,
    };
    from_path.or_else(|| body_model(body))
}

/// `…/models/{model}:{method}` (AI Studio and Vertex, Claude-on-Vertex's `model@version` too).
fn gemini(path: &str) -> Option<String> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "models" || *s == "tunedModels")?;
    let model = segments.next()?;
    let model = model.split_once(':').map_or(model, |(model, _)| model);
    decoded(model)
}

/// `model/{id}/{action}`: the id is percent-encoded when it is an ARN or has a `:` version.
fn bedrock(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    segments.windows(3).find_map(|w| match w {
        [
            "model",
            id,
            "invoke" | "invoke-with-response-stream" | "converse" | "converse-stream",
        ] => decoded(id),
        _ => None,
    })
}

fn workers_ai(path: &str) -> Option<String> {
    let decoded_path = decoded(path)?;
    if decoded_path.starts_with("@cf/") || decoded_path.starts_with("@hf/") {
        return Some(decoded_path);
    }
    let (_, model) = decoded_path.split_once("run/")?;
    (!model.is_empty()).then(|| model.to_owned())
}

fn decoded(raw: &str) -> Option<String> {
    let text = percent_decode_str(raw).decode_utf8().ok()?;
    (!text.is_empty()).then(|| text.into_owned())
}

/// Only `model` is kept; everything else in the body is skipped without being stored.
#[derive(Deserialize)]
struct ModelOnly {
    model: Option<String>,
}

fn body_model(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ModelOnly>(body)
        .ok()?
        .model
        .filter(|m| !m.is_empty())
}
