//! Gateway credentials never leave the gateway: a request bound upstream that carries the admin
//! token or any account's run token, in any header or query value, is refused (docs/security.md).
//!
//! `cf-aig-authorization` itself is dropped with every `cf-aig-*` header; this catches a token
//! put where a provider key goes (`Authorization`, `x-api-key`, `?key=`, a universal step's
//! headers), which an open gateway would otherwise forward to the provider.

use std::borrow::Cow;

use http::HeaderMap;

use crate::error::{ErrorCode, GatewayError};
use crate::state::AppState;

/// 401 (code 2009) when a header or query value bound upstream is a gateway token.
pub(super) fn refuse_gateway_tokens(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), GatewayError> {
    let is_gateway_token = |value: &str| {
        words(value).any(|word| state.admin_token().is(word) || state.tokens().is_run_token(word))
    };
    for (name, value) in headers {
        if value.to_str().is_ok_and(is_gateway_token) {
            return Err(refusal(&format!("The {name} header")));
        }
    }
    for (name, value) in query_pairs(query.unwrap_or("")) {
        if is_gateway_token(&value) {
            return Err(refusal(&format!("The query parameter {name}")));
        }
    }
    Ok(())
}

fn refusal(place: &str) -> GatewayError {
    GatewayError::new(
        ErrorCode::Unauthorized,
        format!(
            "{place} carries a Tollgate token (admin or run token), which never leaves the \
             gateway: send it in cf-aig-authorization and the provider's own key where the \
             provider expects it"
        ),
    )
}

/// The value itself and each of its space- or comma-separated words (`Bearer <token>`).
fn words(value: &str) -> impl Iterator<Item = &str> {
    let value = value.trim();
    std::iter::once(value).chain(
        value
            .split([' ', ',', '\t'])
            .filter(move |word| !word.is_empty() && word.len() != value.len()),
    )
}

/// `(name, percent-decoded value)` of each `name=value` pair; a value without `%` or `+` (the
/// usual case) is borrowed, not copied.
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    query.split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let decoded = match value.contains('+') {
            true => Cow::Owned(decoded(&value.replace('+', " ")).into_owned()),
            false => decoded(value),
        };
        Some((name, decoded))
    })
}

fn decoded(value: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(value).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_cover_schemes_and_lists() {
        let all: Vec<&str> = words(" Bearer tgr_x ").collect();
        assert_eq!(all, ["Bearer tgr_x", "Bearer", "tgr_x"]);
        let all: Vec<&str> = words("a,b").collect();
        assert_eq!(all, ["a,b", "a", "b"]);
        let all: Vec<&str> = words("single").collect();
        assert_eq!(all, ["single"]);
    }

    #[test]
    fn query_values_are_decoded() {
        let pairs: Vec<(&str, String)> = query_pairs("key=tga%5Fabc&alt=sse&flag&x=a+b")
            .map(|(name, value)| (name, value.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("key", "tga_abc".into()),
                ("alt", "sse".into()),
                ("x", "a b".into())
            ]
        );
    }
}
