//! What may be stored or shown of a request: credential headers and key-bearing query
//! parameters are replaced, never kept (SPEC §12).

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

/// `[[name, value], …]` with every credential value replaced.
pub fn headers(headers: &HeaderMap, credential_headers: &[HeaderName]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let secret =
                ALWAYS_SECRET.contains(&name.as_str()) || credential_headers.contains(name);
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
        map.insert("content-type", HeaderValue::from_static("application/json"));
        let shown = headers(&map, &[HeaderName::from_static("x-goog-api-key")]);
        assert!(!format!("{shown:?}").contains("canary"));
        assert!(shown.contains(&("content-type".into(), "application/json".into())));
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
