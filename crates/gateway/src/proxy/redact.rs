//! What may be stored or shown of a request: credential headers and key-bearing query
//! parameters are replaced, never kept (docs/security.md).

use http::{HeaderMap, HeaderName};

pub const REDACTED: &str = "[REDACTED]";

/// Headers that carry credentials whatever the provider.
const ALWAYS_SECRET: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "cf-aig-authorization",
    "x-api-key",
];

/// Query parameters that carry keys (Gemini's `?key=`, Azure's `api-key`, …).
const SECRET_QUERY_PARAMS: [&str; 5] = ["key", "api-key", "api_key", "access_token", "token"];

/// Words of a `-`-separated header name that mark it as a credential whichever provider the
/// request is for (`x-goog-api-key`, `xi-api-key`, `x-amz-security-token`, `x-client-secret`).
/// Whole words, so `x-ratelimit-remaining-tokens` stays readable.
const SECRET_NAME_WORDS: [&str; 9] = [
    "key",
    "apikey",
    "token",
    "secret",
    "auth",
    "password",
    "passwd",
    "credential",
    "signature",
];

/// `[[name, value], …]` with every credential value replaced: the names of
/// `credential_headers` (every provider's, not only the target's, since a client may send a
/// key in another provider's header), and any name that looks like one.
pub fn headers(headers: &HeaderMap, credential_headers: &[HeaderName]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let secret = ALWAYS_SECRET.contains(&name.as_str())
                || credential_headers.contains(name)
                || name
                    .as_str()
                    .split(['-', '_'])
                    .any(|word| SECRET_NAME_WORDS.contains(&word));
            let shown = if secret {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect()
}

/// `path?query` with the values of key-bearing parameters replaced.
pub fn path_and_query(path: &str, query: Option<&str>) -> String {
    let Some(query) = query else {
        return path.to_owned();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            let decoded = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            if SECRET_QUERY_PARAMS.contains(&decoded.as_str()) {
                format!("{name}={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn credentials_never_survive() {
        let mut map = HeaderMap::new();
        map.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-canary"),
        );
        map.insert("x-goog-api-key", HeaderValue::from_static("canary"));
        map.insert("x-custom-llm", HeaderValue::from_static("canary-custom"));
        map.insert("x-my-secret", HeaderValue::from_static("canary-by-name"));
        map.insert(
            "x-session-token",
            HeaderValue::from_static("canary-by-name"),
        );
        map.insert("content-type", HeaderValue::from_static("application/json"));
        map.insert("user-agent", HeaderValue::from_static("sdk/1"));
        map.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("99"),
        );
        let shown = headers(&map, &[HeaderName::from_static("x-custom-llm")]);
        assert!(!format!("{shown:?}").contains("canary"));
        assert!(shown.contains(&("content-type".into(), "application/json".into())));
        assert!(shown.contains(&("user-agent".into(), "sdk/1".into())));
        assert!(shown.contains(&("x-ratelimit-remaining-tokens".into(), "99".into())));
        assert_eq!(
            path_and_query(
                "v1beta/models/g:generateContent",
                Some("alt=sse&key=canary&KEY=x&%6Bey=y")
            ),
            "v1beta/models/g:generateContent?alt=sse&key=[REDACTED]&KEY=[REDACTED]&%6Bey=[REDACTED]"
        );
        assert_eq!(path_and_query("p", None), "p");
    }
}
