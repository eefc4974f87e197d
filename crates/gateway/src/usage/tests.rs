//! End-to-end tests of the extractor over real response shapes, cut at every possible place.

use super::eventstream;
use super::*;

const JSON: Option<&str> = Some("application/json");
const SSE: Option<&str> = Some("text/event-stream; charset=utf-8");
const EVENTSTREAM: Option<&str> = Some("application/vnd.amazon.eventstream");
const NDJSON: Option<&str> = Some("application/stream+json");

struct Case {
    name: &'static str,
    format: UsageFormat,
    content_type: Option<&'static str>,
    bytes: Vec<u8>,
    usage: Usage,
    model: Option<&'static str>,
}

impl Case {
    fn streaming(&self) -> bool {
        self.content_type != JSON || self.name == "gemini_stream_array"
    }

    fn expected(&self) -> Extracted {
        Extracted {
            usage: Some(self.usage),
            response_model: self.model.map(str::to_owned),
            finish_reasons: finish_reasons(self.name)
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
        }
    }
}

/// What each fixture says about why its generation stopped, where the reader looks for it
/// (Bedrock bodies, Bedrock Converse streams, Cohere and Workers AI are not read for it).
fn finish_reasons(case: &str) -> &'static [&'static str] {
    match case {
        name if name.starts_with("anthropic")
            || name.starts_with("vertex_claude")
            || name == "bedrock_invoke_claude_stream" =>
        {
            &["end_turn"]
        }
        name if name.starts_with("gemini") => &["STOP"],
        "openai_chat" | "openai_chat_stream" | "groq_stream" | "vertex_openai_stream" => &["stop"],
        _ => &[],
    }
}

fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
    }
}

fn extract<'a>(
    format: UsageFormat,
    content_type: Option<&str>,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Extracted {
    let mut extractor = UsageExtractor::new(format, content_type);
    for chunk in chunks {
        extractor.feed(chunk);
    }
    extractor.finish()
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name)).to_vec()
    };
}

fn cases() -> Vec<Case> {
    use UsageFormat as F;
    let case = |name, format, content_type, bytes, usage, model| Case {
        name,
        format,
        content_type,
        bytes,
        usage,
        model,
    };
    vec![
        case(
            "openai_chat",
            F::OpenAi,
            JSON,
            fixture!("openai_chat.json"),
            usage(93, 46, 1024, 0),
            Some("gpt-4o-2024-08-06"),
        ),
        case(
            "openai_chat_stream",
            F::OpenAi,
            SSE,
            fixture!("openai_chat_stream.sse"),
            usage(86, 9, 1920, 0),
            Some("gpt-4o-mini-2024-07-18"),
        ),
        case(
            "openai_responses",
            F::OpenAi,
            JSON,
            fixture!("openai_responses.json"),
            usage(72, 52, 256, 0),
            Some("gpt-4o-2024-08-06"),
        ),
        case(
            "openai_responses_stream",
            F::OpenAi,
            SSE,
            fixture!("openai_responses_stream.sse"),
            usage(129, 18, 1408, 0),
            Some("gpt-4.1-2025-04-14"),
        ),
        case(
            "openai_embeddings",
            F::OpenAi,
            JSON,
            fixture!("openai_embeddings.json"),
            usage(8, 0, 0, 0),
            Some("text-embedding-3-small"),
        ),
        case(
            "groq_stream",
            F::OpenAi,
            SSE,
            fixture!("groq_stream.sse"),
            usage(45, 4, 0, 0),
            Some("llama-3.3-70b-versatile"),
        ),
        case(
            "anthropic_message",
            F::Anthropic,
            JSON,
            fixture!("anthropic_message.json"),
            usage(21, 393, 0, 188_086),
            Some("claude-sonnet-4-20250514"),
        ),
        case(
            "anthropic_stream",
            F::Anthropic,
            SSE,
            fixture!("anthropic_stream.sse"),
            usage(472, 15, 2048, 0),
            Some("claude-3-5-haiku-20241022"),
        ),
        case(
            "anthropic_stream_delta_counts",
            F::Anthropic,
            SSE,
            fixture!("anthropic_stream_delta_counts.sse"),
            usage(310, 42, 5000, 1200),
            Some("claude-opus-4-1-20250805"),
        ),
        case(
            "gemini_generate",
            F::Gemini,
            JSON,
            fixture!("gemini_generate.json"),
            usage(3842, 526, 8192, 0),
            Some("gemini-2.5-flash"),
        ),
        case(
            "gemini_stream",
            F::Gemini,
            SSE,
            fixture!("gemini_stream.sse"),
            usage(9, 50, 0, 0),
            Some("gemini-2.0-flash"),
        ),
        case(
            "gemini_stream_array",
            F::Gemini,
            JSON,
            fixture!("gemini_stream_array.json"),
            usage(100, 7, 4000, 0),
            Some("gemini-1.5-pro-002"),
        ),
        case(
            "vertex_claude",
            F::Gemini,
            JSON,
            fixture!("anthropic_message.json"),
            usage(21, 393, 0, 188_086),
            Some("claude-sonnet-4-20250514"),
        ),
        case(
            "vertex_claude_stream",
            F::Gemini,
            SSE,
            fixture!("anthropic_stream.sse"),
            usage(472, 15, 2048, 0),
            Some("claude-3-5-haiku-20241022"),
        ),
        case(
            "vertex_openai_stream",
            F::Gemini,
            SSE,
            fixture!("openai_chat_stream.sse"),
            usage(86, 9, 1920, 0),
            Some("gpt-4o-mini-2024-07-18"),
        ),
        case(
            "bedrock_converse",
            F::Bedrock,
            JSON,
            fixture!("bedrock_converse.json"),
            usage(27, 9, 1536, 64),
            None,
        ),
        case(
            "bedrock_invoke_claude",
            F::Bedrock,
            JSON,
            fixture!("bedrock_invoke_claude.json"),
            usage(14, 6, 700, 0),
            Some("claude-3-haiku-20240307"),
        ),
        case(
            "bedrock_converse_stream",
            F::Bedrock,
            EVENTSTREAM,
            bedrock_converse_stream(),
            usage(11, 12, 400, 0),
            None,
        ),
        case(
            "bedrock_invoke_claude_stream",
            F::Bedrock,
            EVENTSTREAM,
            bedrock_invoke_claude_stream(),
            usage(14, 22, 700, 0),
            Some("claude-3-haiku-20240307"),
        ),
        case(
            "bedrock_invoke_llama_stream",
            F::Bedrock,
            EVENTSTREAM,
            bedrock_invoke_llama_stream(),
            usage(18, 3, 0, 0),
            None,
        ),
        case(
            "cohere_v2_chat",
            F::Cohere,
            JSON,
            fixture!("cohere_v2_chat.json"),
            usage(71, 418, 0, 0),
            None,
        ),
        case(
            "cohere_v1_chat",
            F::Cohere,
            JSON,
            fixture!("cohere_v1_chat.json"),
            usage(67, 9, 0, 0),
            None,
        ),
        case(
            "cohere_embed",
            F::Cohere,
            JSON,
            fixture!("cohere_embed.json"),
            usage(2, 0, 0, 0),
            None,
        ),
        case(
            "cohere_v2_stream",
            F::Cohere,
            SSE,
            fixture!("cohere_v2_stream.sse"),
            usage(69, 5, 0, 0),
            None,
        ),
        case(
            "cohere_v1_stream",
            F::Cohere,
            NDJSON,
            fixture!("cohere_v1_stream.ndjson"),
            usage(66, 2, 0, 0),
            None,
        ),
        case(
            "workers_ai_run",
            F::WorkersAi,
            JSON,
            fixture!("workers_ai_run.json"),
            usage(31, 12, 0, 0),
            None,
        ),
        case(
            "workers_ai_stream",
            F::WorkersAi,
            SSE,
            fixture!("workers_ai_stream.sse"),
            usage(22, 3, 0, 0),
            None,
        ),
        case(
            "workers_ai_openai",
            F::WorkersAi,
            JSON,
            fixture!("workers_ai_openai.json"),
            usage(40, 3, 0, 0),
            Some("@cf/meta/llama-3.1-8b-instruct"),
        ),
    ]
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// ConverseStream as F::Bedrock frames it: JSON events, each padded with a random `p`.
fn bedrock_converse_stream() -> Vec<u8> {
    [
        ("messageStart", r#"{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS","role":"assistant"}"#),
        ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hello! I'm doing well."},"p":"abcdefghijklm"}"#),
        ("contentBlockStop", r#"{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCD"}"#),
        ("messageStop", r#"{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN","stopReason":"end_turn"}"#),
        ("metadata", r#"{"metrics":{"latencyMs":384},"p":"abcdefghij","usage":{"cacheReadInputTokens":400,"cacheWriteInputTokens":0,"inputTokens":11,"outputTokens":12,"totalTokens":423}}"#),
    ]
    .iter()
    .flat_map(|(kind, payload)| eventstream::event(kind, payload))
    .collect()
}

fn chunk_frame(inner: &str) -> Vec<u8> {
    eventstream::event(
        "chunk",
        &format!(r#"{{"bytes":"{}","p":"abcdefgh"}}"#, b64(inner.as_bytes())),
    )
}

/// InvokeModelWithResponseStream for Claude: each chunk a base64 Messages event; the last one
/// carries Bedrock's invocation metrics.
fn bedrock_invoke_claude_stream() -> Vec<u8> {
    [
        r#"{"type":"message_start","message":{"id":"msg_bdrk_01Tb8pWQy4QUmQXQgYXovg9c","type":"message","role":"assistant","model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":700,"output_tokens":1}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour, \u00e7a va ?"}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":22}}"#,
        r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":14,"outputTokenCount":22,"invocationLatency":1025,"firstByteLatency":392}}"#,
    ]
    .iter()
    .flat_map(|inner| chunk_frame(inner))
    .collect()
}

/// InvokeModelWithResponseStream for Llama: running counts, then the invocation metrics.
fn bedrock_invoke_llama_stream() -> Vec<u8> {
    [
        r#"{"generation":"Hi","prompt_token_count":18,"generation_token_count":1,"stop_reason":null}"#,
        r#"{"generation":" there","prompt_token_count":null,"generation_token_count":2,"stop_reason":null}"#,
        r#"{"generation":"!","prompt_token_count":null,"generation_token_count":3,"stop_reason":"stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":18,"outputTokenCount":3,"invocationLatency":270,"firstByteLatency":143}}"#,
    ]
    .iter()
    .flat_map(|inner| chunk_frame(inner))
    .collect()
}

#[test]
fn every_fixture_gives_its_usage_and_model() {
    for case in cases() {
        let found = extract(case.format, case.content_type, [&case.bytes[..]]);
        assert_eq!(found, case.expected(), "{}", case.name);
    }
}

#[test]
fn streaming_fixtures_read_the_same_when_split_at_every_byte() {
    for case in cases().iter().filter(|c| c.streaming()) {
        let expected = case.expected();
        for at in 0..=case.bytes.len() {
            let (a, b) = case.bytes.split_at(at);
            let found = extract(case.format, case.content_type, [a, b]);
            assert_eq!(found, expected, "{} split at {at}", case.name);
        }
        let bytes = case.bytes.chunks(1);
        assert_eq!(
            extract(case.format, case.content_type, bytes),
            expected,
            "{} byte by byte",
            case.name
        );
    }
}

/// A tiny deterministic generator: enough to vary the cuts without a dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[test]
fn every_fixture_reads_the_same_under_random_multi_splits() {
    let mut rng = Lcg(0x7011_6a7e);
    for case in cases() {
        let expected = case.expected();
        for pattern in 0..24 {
            let mut chunks = Vec::new();
            let mut rest = &case.bytes[..];
            while !rest.is_empty() {
                // Mostly small cuts, sometimes empty chunks, sometimes large ones.
                let len = match rng.below(8) {
                    0 => 0,
                    1 => rng.below(512),
                    _ => 1 + rng.below(7),
                };
                let (chunk, tail) = rest.split_at(len.min(rest.len()));
                chunks.push(chunk);
                rest = tail;
            }
            let found = extract(case.format, case.content_type, chunks);
            assert_eq!(found, expected, "{} pattern {pattern}", case.name);
        }
    }
}

#[test]
fn total_input_adds_the_cache_counts() {
    assert_eq!(usage(10, 5, 100, 7).total_input(), 117);
    assert_eq!(usage(u64::MAX, 0, 1, 0).total_input(), u64::MAX);
}

#[test]
fn a_json_body_over_the_cap_gives_nothing() {
    let mut body = br#"{"usage":{"prompt_tokens":5,"completion_tokens":1},"pad":""#.to_vec();
    body.resize(MAX_JSON_BYTES + 1, b'x');
    body.extend_from_slice(br#""}"#);
    let found = extract(UsageFormat::OpenAi, JSON, body.chunks(256 * 1024));
    assert_eq!(found, Extracted::default());
}

#[test]
fn a_json_body_just_under_the_cap_is_read() {
    let head = br#"{"usage":{"prompt_tokens":5,"completion_tokens":1},"pad":""#;
    let mut body = head.to_vec();
    body.resize(MAX_JSON_BYTES - 2, b'x');
    body.extend_from_slice(br#""}"#);
    let found = extract(UsageFormat::OpenAi, JSON, body.chunks(256 * 1024));
    assert_eq!(found.usage, Some(usage(5, 1, 0, 0)));
}

#[test]
fn an_oversize_stream_event_is_dropped_and_later_usage_still_read() {
    let mut stream =
        b"data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"".to_vec();
    stream.extend(std::iter::repeat_n(b'x', sse::MAX_EVENT_BYTES + 10));
    stream.extend_from_slice(b"\"}}]}\n\n");
    stream.extend_from_slice(
        b"data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n",
    );
    let found = extract(UsageFormat::OpenAi, SSE, stream.chunks(100_000));
    assert_eq!(found.usage, Some(usage(3, 4, 0, 0)));
    assert_eq!(found.response_model.as_deref(), Some("gpt-4o"));
}

#[test]
fn a_stream_under_a_json_content_type_is_still_read() {
    let sse = fixture!("openai_chat_stream.sse");
    let found = extract(UsageFormat::OpenAi, JSON, [&sse[..]]);
    assert_eq!(found.usage, Some(usage(86, 9, 1920, 0)));
    let ndjson = fixture!("cohere_v1_stream.ndjson");
    let found = extract(UsageFormat::Cohere, None, [&ndjson[..]]);
    assert_eq!(found.usage, Some(usage(66, 2, 0, 0)));
}

#[test]
fn a_bom_and_crlf_split_across_chunks_do_not_lose_events() {
    let mut stream = b"\xEF\xBB\xBF".to_vec();
    stream.extend_from_slice(&fixture!("anthropic_stream.sse"));
    let cut = stream.windows(2).position(|w| w == b"\r\n").unwrap() + 1;
    let found = extract(
        UsageFormat::Anthropic,
        SSE,
        [&stream[..1], &stream[1..cut], &stream[cut..]],
    );
    assert_eq!(found.usage, Some(usage(472, 15, 2048, 0)));
}

#[test]
fn responses_without_usage_or_unreadable_ones_give_none() {
    let error = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
    for format in [
        UsageFormat::OpenAi,
        UsageFormat::Anthropic,
        UsageFormat::Gemini,
        UsageFormat::Bedrock,
        UsageFormat::Cohere,
        UsageFormat::WorkersAi,
    ] {
        assert_eq!(
            extract(format, JSON, [&error[..]]).usage,
            None,
            "{format:?}"
        );
        assert_eq!(extract(format, JSON, [&b"not json"[..]]).usage, None);
        assert_eq!(extract(format, SSE, [&b"data: [DONE]\n\n"[..]]).usage, None);
    }
    let body = fixture!("openai_chat.json");
    assert_eq!(
        extract(UsageFormat::OpenAi, Some("audio/mpeg"), [&body[..]]),
        Extracted::default()
    );
    assert_eq!(
        extract(UsageFormat::None, JSON, [&body[..]]),
        Extracted::default()
    );
}

#[test]
fn sloppy_counts_and_an_empty_first_model_are_tolerated() {
    // Azure opens with a content-filter chunk whose model is empty.
    let stream = concat!(
        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[]}\n\n",
        "data: {\"model\":\"gpt-4o-2024-11-20\",\"choices\":[],\"usage\":{\"prompt_tokens\":12.0,\"completion_tokens\":\"3\",\"prompt_tokens_details\":null}}\n\n",
    );
    let found = extract(UsageFormat::OpenAi, SSE, [stream.as_bytes()]);
    assert_eq!(found.usage, Some(usage(12, 3, 0, 0)));
    assert_eq!(found.response_model.as_deref(), Some("gpt-4o-2024-11-20"));
}

#[test]
fn deepseek_cache_hits_are_cache_reads() {
    let body = br#"{"model":"deepseek-chat","usage":{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}"#;
    let found = extract(UsageFormat::OpenAi, JSON, [&body[..]]);
    assert_eq!(found.usage, Some(usage(36, 7, 64, 0)));
}

#[test]
fn request_model_reads_path_or_body_per_format() {
    use UsageFormat as F;
    let body =
        br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini","stream":true}"#;
    assert_eq!(
        request_model(F::OpenAi, "v1/chat/completions", body).as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        request_model(
            F::Anthropic,
            "v1/messages",
            br#"{"model":"claude-sonnet-4-20250514","max_tokens":1024}"#
        )
        .as_deref(),
        Some("claude-sonnet-4-20250514")
    );
    assert_eq!(
        request_model(
            F::Cohere,
            "v2/chat",
            br#"{"model":"command-r-plus-08-2024"}"#
        )
        .as_deref(),
        Some("command-r-plus-08-2024")
    );
    assert_eq!(
        request_model(
            F::Gemini,
            "v1beta/models/gemini-2.5-flash:generateContent",
            b"{}"
        )
        .as_deref(),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        request_model(
            F::Gemini,
            "v1/projects/p-1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent?alt=sse",
            b""
        )
        .as_deref(),
        Some("gemini-2.0-flash-001")
    );
    assert_eq!(
        request_model(
            F::Gemini,
            "v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-sonnet-v2@20241022:streamRawPredict",
            b"{}"
        )
        .as_deref(),
        Some("claude-3-5-sonnet-v2@20241022")
    );
    assert_eq!(
        request_model(
            F::Gemini,
            "v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
            br#"{"model":"google/gemini-2.0-flash-001"}"#
        )
        .as_deref(),
        Some("google/gemini-2.0-flash-001")
    );
    assert_eq!(
        request_model(
            F::Bedrock,
            "bedrock-runtime/us-east-1/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
            b"{}"
        )
        .as_deref(),
        Some("anthropic.claude-3-haiku-20240307-v1:0")
    );
    for action in ["invoke-with-response-stream", "converse", "converse-stream"] {
        let path = format!("bedrock-runtime/eu-west-1/model/meta.llama3-8b-instruct-v1:0/{action}");
        assert_eq!(
            request_model(F::Bedrock, &path, b"").as_deref(),
            Some("meta.llama3-8b-instruct-v1:0"),
            "{action}"
        );
    }
    assert_eq!(
        request_model(F::Bedrock, "bedrock-runtime/us-east-1/model/x/other", b""),
        None
    );
    assert_eq!(
        request_model(F::WorkersAi, "@cf/meta/llama-3.1-8b-instruct", b"{}").as_deref(),
        Some("@cf/meta/llama-3.1-8b-instruct")
    );
    assert_eq!(
        request_model(F::WorkersAi, "%40hf/thebloke/zephyr-7b-beta-awq", b"{}").as_deref(),
        Some("@hf/thebloke/zephyr-7b-beta-awq")
    );
    assert_eq!(
        request_model(F::WorkersAi, "ai/run/@cf/baai/bge-base-en-v1.5", b"{}").as_deref(),
        Some("@cf/baai/bge-base-en-v1.5")
    );
    assert_eq!(
        request_model(
            F::WorkersAi,
            "v1/chat/completions",
            br#"{"model":"@cf/qwen/qwq-32b"}"#
        )
        .as_deref(),
        Some("@cf/qwen/qwq-32b")
    );
}

#[test]
fn request_model_reads_only_a_top_level_string() {
    let nested = br#"{"messages":[{"model":"inner"}],"metadata":{"model":"x"}}"#;
    assert_eq!(
        request_model(UsageFormat::OpenAi, "v1/chat/completions", nested),
        None
    );
    assert_eq!(
        request_model(UsageFormat::OpenAi, "v1/x", br#"{"model":7}"#),
        None
    );
    assert_eq!(
        request_model(UsageFormat::OpenAi, "v1/x", b"\x00binary"),
        None
    );
    assert_eq!(
        request_model(UsageFormat::OpenAi, "v1/x", br#"{"model":""}"#),
        None
    );
}

#[test]
fn bedrock_exception_frames_are_skipped() {
    let mut stream = bedrock_converse_stream();
    let throttled = eventstream::encode(
        &[
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"message":"Too many requests","usage":{"inputTokens":999}}"#,
    );
    stream.extend_from_slice(&throttled);
    let found = extract(UsageFormat::Bedrock, EVENTSTREAM, [&stream[..]]);
    assert_eq!(found.usage, Some(usage(11, 12, 400, 0)));
}

#[test]
fn request_model_of_other_providers_is_the_body_model() {
    let body = br#"{"version":"x","model":"black-forest-labs/flux-schnell"}"#;
    assert_eq!(
        request_model(UsageFormat::None, "v1/predictions", body).as_deref(),
        Some("black-forest-labs/flux-schnell")
    );
}

#[test]
fn the_extractor_can_move_between_threads() {
    fn assert_send<T: Send + Sync + 'static>() {}
    assert_send::<UsageExtractor>();
    assert_send::<Extracted>();
}
