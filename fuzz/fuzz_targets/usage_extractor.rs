//! FZ-02: the usage extractors read any response body (JSON, SSE, NDJSON, AWS event stream) of
//! any provider format without panicking, and the result does not depend on how the body was
//! cut into chunks. The request-model reader takes any request body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::usage::{Extracted, UsageExtractor, UsageFormat, request_model};

const FORMATS: [UsageFormat; 7] = [
    UsageFormat::OpenAi,
    UsageFormat::Anthropic,
    UsageFormat::Gemini,
    UsageFormat::Bedrock,
    UsageFormat::Cohere,
    UsageFormat::WorkersAi,
    UsageFormat::None,
];

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("text/event-stream; charset=utf-8"),
    Some("application/x-ndjson"),
    Some("application/vnd.amazon.eventstream"),
    Some("text/plain"),
    None,
];

/// Paths some formats read the model from (Gemini and Bedrock put it in the URL).
const PROVIDER_PATHS: [&str; 4] = [
    "v1/chat/completions",
    "v1beta/models/gemini-2.0-flash:streamGenerateContent",
    "bedrock-runtime/us-east-1/model/anthropic.claude-3-haiku/invoke",
    "@cf/meta/llama-3.1-8b-instruct",
];

fn extract(format: UsageFormat, content_type: Option<&str>, chunks: &[&[u8]]) -> Extracted {
    let mut extractor = UsageExtractor::new(format, content_type);
    for chunk in chunks {
        extractor.feed(chunk);
    }
    extractor.finish()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let content_type = CONTENT_TYPES[usize::from(selector / 7) % CONTENT_TYPES.len()];
    let whole = extract(format, content_type, &[body]);
    let cut = body.len() / 2 + usize::from(selector) % (body.len() / 2 + 1);
    let (head, tail) = body.split_at(cut.min(body.len()));
    assert_eq!(extract(format, content_type, &[head, tail]), whole);
    let path = PROVIDER_PATHS[usize::from(selector) % PROVIDER_PATHS.len()];
    let _ = request_model(format, path, body);
});
