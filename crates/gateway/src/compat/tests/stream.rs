//! Streams: provider SSE fixtures in, OpenAI chunk SSE out; the same output however the input
//! is cut; no `[DONE]` for a stream that breaks off.

use serde_json::Value;

use crate::compat::{Dialect, StreamTranslator};

struct Case {
    name: &'static str,
    dialect: Dialect,
    include_usage: bool,
    input: &'static [u8],
    expected: &'static str,
    /// The upstream ended properly: the output ends with `[DONE]`.
    ends: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "anthropic_text",
        dialect: Dialect::Anthropic,
        include_usage: true,
        input: include_bytes!("../fixtures/anthropic_text.sse"),
        expected: include_str!("../fixtures/anthropic_text.expected.sse"),
        ends: true,
    },
    Case {
        name: "anthropic_tool",
        dialect: Dialect::Anthropic,
        include_usage: false,
        input: include_bytes!("../fixtures/anthropic_tool.sse"),
        expected: include_str!("../fixtures/anthropic_tool.expected.sse"),
        ends: true,
    },
    Case {
        name: "anthropic_error",
        dialect: Dialect::Anthropic,
        include_usage: true,
        input: include_bytes!("../fixtures/anthropic_error.sse"),
        expected: include_str!("../fixtures/anthropic_error.expected.sse"),
        ends: false,
    },
    Case {
        name: "gemini_text",
        dialect: Dialect::Gemini,
        include_usage: true,
        input: include_bytes!("../fixtures/gemini_text.sse"),
        expected: include_str!("../fixtures/gemini_text.expected.sse"),
        ends: true,
    },
    Case {
        name: "gemini_tool",
        dialect: Dialect::Gemini,
        include_usage: false,
        input: include_bytes!("../fixtures/gemini_tool.sse"),
        expected: include_str!("../fixtures/gemini_tool.expected.sse"),
        ends: true,
    },
    Case {
        name: "gemini_blocked",
        dialect: Dialect::Gemini,
        include_usage: true,
        input: include_bytes!("../fixtures/gemini_blocked.sse"),
        expected: include_str!("../fixtures/gemini_blocked.expected.sse"),
        ends: true,
    },
    Case {
        name: "gemini_error",
        dialect: Dialect::Gemini,
        include_usage: true,
        input: include_bytes!("../fixtures/gemini_error.sse"),
        expected: include_str!("../fixtures/gemini_error.expected.sse"),
        ends: false,
    },
];

fn translator(case: &Case) -> StreamTranslator {
    StreamTranslator::new(case.dialect, "requested-model", case.include_usage, "seed1")
}

fn run<'a>(case: &Case, chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut translator = translator(case);
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(&translator.push(chunk));
    }
    out.extend_from_slice(&translator.finish());
    String::from_utf8(out).unwrap()
}

/// The `data:` payloads of an OpenAI stream, parsed (`[DONE]` as a string).
fn events(output: &str) -> Vec<Value> {
    output
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data line: {e}"));
            if data == "[DONE]" {
                Value::from("[DONE]")
            } else {
                serde_json::from_str(data).unwrap()
            }
        })
        .collect()
}

/// Set COMPAT_BLESS=1 to rewrite the expected files from the current output (then review them).
#[test]
fn stream_fixtures_translate_to_the_expected_chunks() {
    let bless = std::env::var_os("COMPAT_BLESS").is_some();
    for case in CASES {
        let output = run(case, [case.input]);
        if bless {
            let path = format!(
                "{}/src/compat/fixtures/{}.expected.sse",
                env!("CARGO_MANIFEST_DIR"),
                case.name
            );
            std::fs::write(path, &output).unwrap();
            continue;
        }
        assert_eq!(output, case.expected, "{}", case.name);
        assert_eq!(
            output.ends_with("data: [DONE]\n\n"),
            case.ends,
            "{}",
            case.name
        );
        // Every event is a JSON chunk (or [DONE]), all with one id, model and created.
        let events = events(&output);
        let chunks: Vec<&Value> = events
            .iter()
            .filter(|e| e.get("object").is_some())
            .collect();
        assert!(!chunks.is_empty(), "{}", case.name);
        for chunk in &chunks {
            assert_eq!(chunk["object"], "chat.completion.chunk", "{}", case.name);
            assert_eq!(chunk["id"], chunks[0]["id"], "{}", case.name);
            assert_eq!(chunk["model"], chunks[0]["model"], "{}", case.name);
            assert_eq!(chunk["created"], chunks[0]["created"], "{}", case.name);
        }
    }
}

#[test]
fn every_two_way_split_and_byte_by_byte_give_identical_output() {
    for case in CASES {
        let whole = run(case, [case.input]);
        for at in 0..=case.input.len() {
            let (a, b) = case.input.split_at(at);
            assert_eq!(run(case, [a, b]), whole, "{} split at {at}", case.name);
        }
        assert_eq!(
            run(case, case.input.chunks(1)),
            whole,
            "{} byte by byte",
            case.name
        );
    }
}

/// A tiny fixed-seed LCG: reproducible random cuts without a dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

#[test]
fn random_multi_splits_give_identical_output() {
    let mut rng = Lcg(0x5eed);
    for case in CASES {
        let whole = run(case, [case.input]);
        for round in 0..300 {
            let mut cuts: Vec<usize> = (0..1 + rng.below(24))
                .map(|_| rng.below(case.input.len() + 1))
                .collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&case.input[from..cut]);
                from = cut;
            }
            chunks.push(&case.input[from..]);
            assert_eq!(run(case, chunks), whole, "{} round {round}", case.name);
        }
    }
}

/// Where the event that ends the stream starts: cut anywhere before it, there is no end.
fn last_event_start(input: &[u8]) -> usize {
    let text = std::str::from_utf8(input).unwrap().trim_end();
    // A stream of one event ends with its first byte.
    text.rfind("\n\n")
        .or_else(|| text.rfind("\r\n\r\n"))
        .map_or(0, |i| i + 1)
}

#[test]
fn a_stream_cut_before_its_end_event_gets_no_done_and_loses_nothing_before() {
    for case in CASES.iter().filter(|c| c.ends) {
        let whole = run(case, [case.input]);
        let end = last_event_start(case.input);
        for cut in 0..end {
            let output = run(case, [&case.input[..cut]]);
            assert!(
                !output.contains("[DONE]"),
                "{} cut at {cut}: {output}",
                case.name
            );
            assert!(whole.starts_with(&output), "{} cut at {cut}", case.name);
        }
    }
}

#[test]
fn an_anthropic_stream_ending_without_message_stop_gets_no_done() {
    // What the mock's end_after_chunks does: a clean end of the body, minus the terminal event.
    let input = std::str::from_utf8(CASES[0].input).unwrap();
    let cut = input.find("event: message_stop").unwrap();
    let output = run(&CASES[0], [&CASES[0].input[..cut]]);
    assert!(output.contains("\"finish_reason\":\"stop\""));
    assert!(!output.contains("[DONE]"));
    assert!(!output.contains("\"choices\":[]"), "no usage chunk either");
}

#[test]
fn each_delta_goes_out_as_soon_as_its_event_is_complete() {
    let case = &CASES[0];
    let input = std::str::from_utf8(case.input).unwrap();
    let mut translator = translator(case);
    let start_end = input.find("event: content_block_start").unwrap();
    let first = translator.push(&case.input[..start_end]);
    let first = std::str::from_utf8(&first).unwrap();
    assert!(
        first.contains(r#""delta":{"role":"assistant","content":""}"#),
        "{first}"
    );

    let delta = input.find("event: content_block_delta").unwrap();
    let text_at = delta + input[delta..].find("Okay").unwrap();
    assert!(translator.push(&case.input[start_end..text_at]).is_empty());
    let event_end = delta + input[delta..].find("\n\n").unwrap() + 2;
    let out = translator.push(&case.input[text_at..event_end]);
    assert!(
        std::str::from_utf8(&out)
            .unwrap()
            .contains(r#""content":"Okay, let's count: ""#)
    );
}

/// Rebuilds the message from the chunks the way OpenAI's SDKs do.
fn assemble(output: &str) -> (String, Vec<(String, String, String)>, Option<String>) {
    let mut content = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finish = None;
    for event in events(output) {
        let Some(choice) = event.get("choices").and_then(|c| c.get(0)) else {
            continue;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            content.push_str(text);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
            if index == calls.len() {
                calls.push((
                    call["id"].as_str().unwrap().to_owned(),
                    call["function"]["name"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
            }
            calls[index]
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap());
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = Some(reason.to_owned());
        }
    }
    (content, calls, finish)
}

#[test]
fn streamed_tool_calls_assemble_into_whole_calls() {
    let call = |id: &str, name: &str, args: &str| (id.to_owned(), name.to_owned(), args.to_owned());
    let (content, calls, finish) = assemble(&run(&CASES[1], [CASES[1].input]));
    assert_eq!(content, "Let me check.");
    assert_eq!(
        calls,
        vec![
            call("toolu_01A", "get_weather", r#"{"city": "Paris"}"#),
            call("toolu_01B", "get_time", "{}"),
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));

    let (content, calls, finish) = assemble(&run(&CASES[4], [CASES[4].input]));
    assert_eq!(content, "Checking.");
    assert_eq!(
        calls,
        vec![
            call("call_0", "get_weather", r#"{"city":"Paris"}"#),
            call("call_1", "get_time", "{}"),
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
}

#[test]
fn the_usage_chunk_counts_cached_prompt_tokens() {
    let events = events(&run(&CASES[0], [CASES[0].input]));
    let usage = &events[events.len() - 2];
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(
        usage["usage"],
        serde_json::json!({"prompt_tokens": 2620, "completion_tokens": 15, "total_tokens": 2635,
            "prompt_tokens_details": {"cached_tokens": 2048}})
    );
    let events = events_of(&CASES[3]);
    let usage = &events[events.len() - 2];
    assert_eq!(
        usage["usage"],
        serde_json::json!({"prompt_tokens": 9, "completion_tokens": 50, "total_tokens": 59,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 38}})
    );
}

fn events_of(case: &Case) -> Vec<Value> {
    events(&run(case, [case.input]))
}

#[test]
fn without_include_usage_there_is_no_usage_field() {
    let case = Case {
        include_usage: false,
        ..copy(&CASES[0])
    };
    let output = run(&case, [case.input]);
    assert!(!output.contains("usage"), "{output}");
    assert!(output.ends_with("data: [DONE]\n\n"));
}

fn copy(case: &Case) -> Case {
    Case {
        name: case.name,
        dialect: case.dialect,
        include_usage: case.include_usage,
        input: case.input,
        expected: case.expected,
        ends: case.ends,
    }
}

#[test]
fn finish_is_idempotent_and_created_can_be_given() {
    let case = &CASES[0];
    let mut translator = translator(case).with_created(1_700_000_000);
    let out = translator.push(case.input);
    assert!(
        std::str::from_utf8(&out)
            .unwrap()
            .contains(r#""created":1700000000"#)
    );
    assert!(translator.finish().ends_with(b"data: [DONE]\n\n"));
    assert!(translator.finish().is_empty());
}

#[test]
fn without_a_provider_id_the_seed_names_the_stream() {
    let mut translator = StreamTranslator::new(Dialect::Gemini, "g", false, "abc");
    let out = translator.push(b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"STOP\"}]}\n\n");
    let out = std::str::from_utf8(&out).unwrap();
    assert!(out.contains(r#""id":"chatcmpl-abc""#), "{out}");
    assert!(out.contains(r#""model":"g""#), "{out}");
}

#[test]
fn openai_streams_pass_through_unchanged() {
    let mut translator = StreamTranslator::new(Dialect::OpenAi, "gpt-4o", true, "s");
    let input = b"data: {\"id\":\"c\",\"choices\":[]}\n\ndata: [DONE]\n\n";
    assert_eq!(&translator.push(&input[..10])[..], &input[..10]);
    assert_eq!(&translator.push(&input[10..])[..], &input[10..]);
    assert!(translator.finish().is_empty());
}
