use serde_json::json;

use super::*;

#[test]
fn the_field_round_trips_and_errors_name_the_element() {
    let sent = json!({"prompt": {"S1": "BLOCK", "P1": "FLAG"}, "response": {}});
    let settings = GuardrailSettings::parse(&sent).unwrap();
    assert_eq!(serde_json::to_value(&settings).unwrap(), sent);
    assert!(settings.blocks(Direction::Prompt));
    assert!(!settings.blocks(Direction::Response));
    assert!(
        settings.rules(Direction::Response).is_none(),
        "empty is none"
    );
    let only_prompt = json!({"prompt": {"S10": "FLAG"}});
    let settings = GuardrailSettings::parse(&only_prompt).unwrap();
    assert_eq!(serde_json::to_value(&settings).unwrap(), only_prompt);

    for (value, expected) in [
        (
            json!({"prompt": {"S14": "BLOCK"}}),
            "prompt.S14: unknown category",
        ),
        (json!({"prompt": {"s1": "BLOCK"}}), "did you mean S1?"),
        (
            json!({"response": {"S2": "DENY"}}),
            "response.S2: must be \"FLAG\" or \"BLOCK\"",
        ),
        (json!({"responses": {}}), "did you mean response?"),
        (json!({"prompt": ["S1"]}), "prompt: must be an object"),
        (json!("BLOCK"), "must be an object"),
    ] {
        let why = GuardrailSettings::parse(&value).unwrap_err();
        assert!(why.contains(expected), "{value}: {why}");
    }
}

#[test]
fn llama_guard_answers_are_read() {
    assert_eq!(
        parse_answer("safe").unwrap(),
        Verdict {
            safe: true,
            categories: vec![]
        }
    );
    assert_eq!(
        parse_answer("\n\nunsafe\nS10,S1").unwrap(),
        Verdict {
            safe: false,
            categories: vec![Category::S1, Category::S10]
        }
    );
    assert_eq!(
        parse_answer("unsafe\nS14, s2").unwrap().categories,
        vec![Category::S2],
        "an unknown category is dropped"
    );
    assert_eq!(
        parse_answer(r#"{"safe": false, "categories": ["S7"]}"#).unwrap(),
        Verdict {
            safe: false,
            categories: vec![Category::S7]
        }
    );
    assert!(parse_answer("I cannot help with that").is_err());
    assert!(parse_answer("").is_err());
}

#[test]
fn text_is_found_in_every_format() {
    let openai = json!({"model": "gpt", "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": [{"type": "text", "text": "hello"},
            {"type": "image_url", "image_url": {"url": "data:xyz"}}]}]});
    assert_eq!(prompt_text(openai.to_string().as_bytes()), "be nice\nhello");
    let gemini = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    assert_eq!(prompt_text(gemini.to_string().as_bytes()), "hi");
    assert_eq!(prompt_text(b"not json"), "");

    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "yes"}}],
        "usage": {"prompt_tokens": 1}});
    assert_eq!(response_text(answer.to_string().as_bytes(), false), "yes");
    let anthropic =
        json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]});
    assert_eq!(
        response_text(anthropic.to_string().as_bytes(), false),
        "a\nb"
    );
    let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
               data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n";
    assert_eq!(response_text(sse.as_bytes(), true), "Hello");
    let responses = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n\
                     data: {\"type\":\"response.output_text.done\",\"text\":\"Hi\"}\n\n";
    assert_eq!(response_text(responses.as_bytes(), true), "Hi");
}

#[test]
fn long_text_is_cut_into_bounded_chunks() {
    let text = "word ".repeat(100);
    let (cut, left) = chunks(&text, 64, 100);
    assert!(!left);
    assert!(cut.iter().all(|c| c.len() <= 64 && !c.starts_with(' ')));
    assert_eq!(cut.concat().replace(' ', ""), text.replace(' ', ""));
    let (cut, left) = chunks(&text, 64, 2);
    assert_eq!(cut.len(), 2);
    assert!(left);
    // Multi-byte characters are never split.
    let text = "é".repeat(100);
    let (cut, _) = chunks(&text, 33, 100);
    assert!(cut.iter().all(|c| c.len() <= 33));
    assert_eq!(cut.concat(), text);
    assert!(chunks("   ", 10, 4).0.is_empty());
}
