//! Scanning a whole body (a request, a response that is not streamed): in a JSON body every
//! string a person or a tool wrote (message contents, tool-call arguments and results), not
//! the names and ids around them; any other UTF-8 body as it is (docs/dlp.md). REDACT rewrites
//! the matched ranges to `[REDACTED:<entry>]`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::report::{Report, SideScan};

/// Keys whose string values are protocol, not content: never scanned.
const PROTOCOL_KEYS: [&str; 12] = [
    "model",
    "role",
    "type",
    "id",
    "object",
    "media_type",
    "mime_type",
    "finish_reason",
    "stop_reason",
    "system_fingerprint",
    "tool_call_id",
    "tool_use_id",
];

/// What a body's scan found, and the body to use instead when something was redacted.
pub struct BodyScan {
    pub report: Report,
    pub redacted: Option<Bytes>,
}

/// Scans `body` on the side `scan` checks.
pub fn scan_body(scan: &SideScan, body: &[u8]) -> BodyScan {
    let mut report = Report::default();
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        let mut changed = false;
        walk(&mut value, &mut |text: &mut String| {
            let mut redact = Vec::new();
            scan.scan(text.as_bytes(), &mut report, &mut redact);
            if let Some(rewritten) = redacted(text.as_bytes(), redact) {
                // Ranges come from whole regex matches, so the rewrite is UTF-8 again.
                *text = String::from_utf8_lossy(&rewritten).into_owned();
                changed = true;
            }
        });
        let redacted = changed
            .then(|| serde_json::to_vec(&value).ok().map(Bytes::from))
            .flatten();
        return BodyScan { report, redacted };
    }
    let Ok(text) = std::str::from_utf8(body) else {
        // Binary (an upload): not text, not scanned.
        return BodyScan {
            report,
            redacted: None,
        };
    };
    let mut redact = Vec::new();
    scan.scan(text.as_bytes(), &mut report, &mut redact);
    BodyScan {
        report,
        redacted: redacted(text.as_bytes(), redact).map(Bytes::from),
    }
}

/// Calls `visit` on every content string of `value`.
pub(super) fn walk(value: &mut Value, visit: &mut impl FnMut(&mut String)) {
    match value {
        Value::String(text) if !text.starts_with("data:") => visit(text),
        Value::Array(items) => {
            for item in items {
                walk(item, visit);
            }
        }
        Value::Object(map) => {
            // A base64 source (`{"type":"base64","media_type":…,"data":…}`) is not text.
            let binary_data = map.contains_key("media_type")
                || map.get("type").and_then(Value::as_str) == Some("base64");
            for (key, child) in map.iter_mut() {
                if PROTOCOL_KEYS.contains(&key.as_str()) || (key == "data" && binary_data) {
                    continue;
                }
                walk(child, visit);
            }
        }
        _ => {}
    }
}

/// `text` with the ranges replaced by `[REDACTED:<entry>]`; `None` when there are none.
/// Overlapping ranges (two entries on the same digits) become one replacement.
pub fn redacted(text: &[u8], mut ranges: Vec<(Range<usize>, Arc<str>)>) -> Option<Vec<u8>> {
    if ranges.is_empty() {
        return None;
    }
    ranges.sort_by_key(|(range, _)| (range.start, std::cmp::Reverse(range.end)));
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for (range, entry) in ranges {
        if range.start < at {
            // Inside (or overlapping) the previous replacement: widen it to cover this one.
            at = at.max(range.end);
            continue;
        }
        out.extend_from_slice(&text[at..range.start]);
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(entry.as_bytes());
        out.push(b']');
        at = range.end;
    }
    out.extend_from_slice(&text[at.min(text.len())..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dlp::DlpSettings;
    use crate::dlp::policy::Check;

    fn scan(settings: Value, body: &Value) -> BodyScan {
        let settings = DlpSettings::parse(&settings).ok();
        let scan = SideScan::for_settings(settings.as_ref(), Check::Request);
        let body = serde_json::to_vec(body).unwrap_or_default();
        match scan {
            Some(scan) => scan_body(&scan, &body),
            None => unreachable!("no active policy"),
        }
    }

    #[test]
    fn redacts_contents_and_tool_arguments_not_protocol() {
        let body = json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": "my card is 4111 1111 1111 1111, thanks"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "pay", "arguments": "{\"card\":\"5555555555554444\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "charged 378282246310005"}
        ]});
        let result = scan(
            json!({"action": "REDACT", "profiles": ["financial"]}),
            &body,
        );
        assert_eq!(result.report.entry_ids(), ["financial.credit_card"]);
        let sent: Value = result
            .redacted
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        assert_eq!(
            sent["messages"][0]["content"],
            "my card is [REDACTED:credit_card], thanks"
        );
        assert_eq!(
            sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
            "{\"card\":\"[REDACTED:credit_card]\"}"
        );
        assert_eq!(
            sent["messages"][2]["content"],
            "charged [REDACTED:credit_card]"
        );
        assert_eq!(sent["model"], "gpt-4o");
    }

    #[test]
    fn flag_and_block_leave_the_body_alone() {
        let body = json!({"messages": [{"role": "user", "content": "SSN 078-05-1120"}]});
        for action in ["FLAG", "BLOCK"] {
            let result = scan(
                json!({"action": action, "profiles": ["national_ids"]}),
                &body,
            );
            assert!(result.redacted.is_none());
            assert_eq!(result.report.action.map(|a| a.as_str()), Some(action));
            assert_eq!(result.report.entry_ids(), ["national_ids.us_ssn"]);
        }
    }

    #[test]
    fn the_strongest_action_wins_and_the_header_names_policies() {
        let body = json!({"messages": [{"role": "user",
            "content": "AKIAIOSFODNN7EXAMPLE and 4111111111111111"}]});
        let result = scan(
            json!({"enabled": true, "policies": [
                {"id": "cards", "action": "FLAG", "check": ["REQUEST"], "enabled": true, "profiles": ["financial"]},
                {"id": "keys", "action": "BLOCK", "check": ["REQUEST"], "enabled": true, "profiles": ["credentials"]}]}),
            &body,
        );
        assert_eq!(result.report.action.map(|a| a.as_str()), Some("BLOCK"));
        assert_eq!(
            result.report.to_json(),
            json!({"findings": [
                {"profile": {"context": null, "entry_ids": ["aws_access_key_id"], "profile_id": "credentials"},
                 "policy_ids": ["keys"], "check": "REQUEST"},
                {"profile": {"context": null, "entry_ids": ["credit_card"], "profile_id": "financial"},
                 "policy_ids": ["cards"], "check": "REQUEST"}],
             "action": "BLOCK"})
        );
    }

    #[test]
    fn base64_sources_and_data_urls_are_not_text() {
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                "data": "AKIAIOSFODNN7EXAMPLE"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AKIAIOSFODNN7EXAMPLE"}}]}]});
        let result = scan(
            json!({"action": "BLOCK", "profiles": ["credentials"]}),
            &body,
        );
        assert!(result.report.is_empty());
    }

    #[test]
    fn plain_text_bodies_are_scanned_and_redacted() {
        let settings =
            DlpSettings::parse(&json!({"action": "REDACT", "profiles": ["credentials"]})).ok();
        let Some(scan) = SideScan::for_settings(settings.as_ref(), Check::Request) else {
            unreachable!()
        };
        let result = scan_body(&scan, b"key=AKIAIOSFODNN7EXAMPLE;");
        assert_eq!(
            result.redacted.as_deref(),
            Some(&b"key=[REDACTED:aws_access_key_id];"[..])
        );
    }

    #[test]
    fn overlapping_ranges_become_one_replacement() {
        let entry: Arc<str> = "a".into();
        let other: Arc<str> = "b".into();
        let out = redacted(b"0123456789", vec![(2..6, entry), (4..8, other)]);
        assert_eq!(out.as_deref(), Some(&b"01[REDACTED:a]89"[..]));
    }
}
