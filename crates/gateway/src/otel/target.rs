//! Where spans go: an OTLP/HTTP collector's URL, the headers it needs, its encoding and whether
//! it gets prompt and completion bodies. A gateway's `otel` field (Cloudflare's shape) is a list
//! of these; the server's `[otel]` section adds one for every gateway (docs/observability.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How spans are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// OTLP/HTTP JSON: Cloudflare's default.
    #[default]
    Json,
    /// OTLP/HTTP binary protobuf.
    Protobuf,
}

/// One collector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExportTarget {
    /// The full OTLP/HTTP traces URL (`…/v1/traces`), used as given.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Cloudflare's `authorization`: sent as the `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    #[serde(default)]
    pub content_type: ContentType,
    /// Tollgate's extension: add the prompt and completion to the request's span.
    #[serde(default)]
    pub include_bodies: bool,
}

/// At most this many collectors per gateway.
pub const MAX_TARGETS: usize = 5;
const MAX_URL_BYTES: usize = 2048;
const MAX_HEADERS: usize = 32;
const MAX_AUTHORIZATION_BYTES: usize = 256;

impl ExportTarget {
    /// Every header the collector is sent, `authorization` included.
    pub fn all_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain(
                self.authorization
                    .as_deref()
                    .map(|value| ("authorization", value)),
            )
    }
}

/// The gateway field `otel`: a list of collectors (an empty list exports nothing). Every
/// problem is reported, each naming the entry and key (`otel[1].url: …`).
pub fn parse_gateway_field(value: &Value) -> Result<Vec<ExportTarget>, String> {
    let Value::Array(entries) = value else {
        return Err("must be a list of {url, headers, content_type} objects, or null".into());
    };
    if entries.len() > MAX_TARGETS {
        return Err(format!("at most {MAX_TARGETS} collectors"));
    }
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match parse_entry(entry) {
            Ok(target) => targets.push(target),
            Err(why) => problems.push(format!("[{index}]{why}")),
        }
    }
    match problems.is_empty() {
        true => Ok(targets),
        false => Err(problems.join("; ")),
    }
}

fn parse_entry(entry: &Value) -> Result<ExportTarget, String> {
    let Value::Object(fields) = entry else {
        return Err(": must be an object with a url".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !ENTRY_KEYS.contains(&key.as_str()))
    {
        let hint = crate::suggest::nearest(unknown, ENTRY_KEYS.iter().copied())
            .map(|known| format!("; did you mean {known}?"))
            .unwrap_or_default();
        return Err(format!(".{unknown}: unknown key{hint}"));
    }
    let url = match fields.get("url") {
        Some(Value::String(url)) => check_url(url).map_err(|why| format!(".url: {why}"))?,
        _ => return Err(".url: required, an http:// or https:// URL".into()),
    };
    let headers = match fields.get("headers") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => parse_headers(value).map_err(|why| format!(".headers: {why}"))?,
    };
    let authorization = match fields.get("authorization") {
        None | Some(Value::Null) => None,
        Some(Value::String(text))
            if text.len() <= MAX_AUTHORIZATION_BYTES
                && http::HeaderValue::from_str(text).is_ok() =>
        {
            Some(text.clone())
        }
        Some(_) => {
            return Err(format!(
                ".authorization: must be a header value of at most {MAX_AUTHORIZATION_BYTES} bytes"
            ));
        }
    };
    let content_type = match fields.get("content_type") {
        None | Some(Value::Null) => ContentType::Json,
        Some(Value::String(text)) if text == "json" => ContentType::Json,
        Some(Value::String(text)) if text == "protobuf" => ContentType::Protobuf,
        Some(_) => return Err(".content_type: must be \"json\" or \"protobuf\"".into()),
    };
    let include_bodies = match fields.get("include_bodies") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(".include_bodies: must be true or false".into()),
    };
    Ok(ExportTarget {
        url,
        headers,
        authorization,
        content_type,
        include_bodies,
    })
}

const ENTRY_KEYS: [&str; 5] = [
    "url",
    "headers",
    "authorization",
    "content_type",
    "include_bodies",
];

/// An absolute http(s) URL with a host, at most 2048 bytes.
pub fn check_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() > MAX_URL_BYTES {
        return Err(format!("at most {MAX_URL_BYTES} bytes"));
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|_| "not a URL (expected http://host:port/v1/traces)".to_owned())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(text.to_owned()),
        _ => Err("must be an http:// or https:// URL with a host".into()),
    }
}

/// Header names and values as HTTP allows them.
pub fn parse_headers(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(entries) = value else {
        return Err("must be an object of header names to string values".into());
    };
    if entries.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers"));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in entries {
        let Value::String(text) = value else {
            return Err(format!("{name}: must be a string"));
        };
        check_header(name, text)?;
        headers.insert(name.to_ascii_lowercase(), text.clone());
    }
    Ok(headers)
}

/// A header the collector can be sent.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a header name"));
    }
    // The value is not quoted: it is often a credential.
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!("{name}: not a valid header value"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_cloudflare_shape() {
        let targets = parse_gateway_field(&json!([
            {"url": "https://otel.example.com/v1/traces", "headers": {"X-Honeycomb-Team": "k"}},
            {"url": "http://127.0.0.1:4318/v1/traces", "content_type": "protobuf",
             "include_bodies": true, "authorization": "Bearer t"}
        ]))
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].content_type, ContentType::Json);
        assert_eq!(
            targets[0]
                .headers
                .get("x-honeycomb-team")
                .map(String::as_str),
            Some("k")
        );
        assert_eq!(targets[1].content_type, ContentType::Protobuf);
        assert!(targets[1].include_bodies);
        assert!(
            targets[1]
                .all_headers()
                .any(|h| h == ("authorization", "Bearer t"))
        );
    }

    #[test]
    fn names_each_bad_entry_and_key() {
        let error = parse_gateway_field(&json!([
            {"url": "ftp://x/"},
            {"url": "http://ok/v1/traces", "content_type": "xml"},
            {"uri": "http://ok/"},
            {"url": "http://ok/", "headers": {"bad header": "v"}}
        ]))
        .unwrap_err();
        assert!(
            error.contains("[0].url: must be an http:// or https:// URL"),
            "{error}"
        );
        assert!(error.contains("[1].content_type"), "{error}");
        assert!(
            error.contains("[2].uri: unknown key; did you mean url?"),
            "{error}"
        );
        assert!(error.contains("[3].headers"), "{error}");
        assert!(parse_gateway_field(&json!({"url": "http://x/"})).is_err());
        let six = vec![json!({"url": "http://x/"}); MAX_TARGETS + 1];
        assert!(parse_gateway_field(&Value::Array(six)).is_err());
    }
}
