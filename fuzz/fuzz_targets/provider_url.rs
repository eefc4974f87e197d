//! FZ-03 (URL part): for every built-in provider, building the upstream URL from any provider
//! path never panics, and never yields a host other than the provider's own: a native route
//! fills a placeholder with one DNS label at most, and the unified endpoint (compat) never takes
//! any part of the host from the request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::providers::BUILTIN;
use tollgate_gateway::providers::url::{compat_url, upstream_url};

/// `https://host` of a URL or base URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// Whether `host` is `pattern` with each `{placeholder}` replaced by one DNS label.
fn fills(pattern: &str, host: &str) -> bool {
    let Some((before, after)) = pattern.split_once('{') else {
        return pattern == host;
    };
    let after = after.split_once('}').map_or("", |(_, rest)| rest);
    let Some(middle) = host
        .strip_prefix(before)
        .and_then(|rest| rest.strip_suffix(after))
    else {
        return false;
    };
    !middle.is_empty()
        && middle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(path) = std::str::from_utf8(rest) else {
        return;
    };
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let provider = &BUILTIN[usize::from(pick) % BUILTIN.len()];
    let base = authority(provider.base_url);
    for account in [None, Some("acct")] {
        if let Ok(url) = upstream_url(provider.base_url, provider.template, account, path, query) {
            assert!(url.starts_with("https://"), "{url}");
            assert!(fills(base, authority(&url)), "{} → {url}", provider.slug);
        }
        if let Ok(url) = compat_url(
            provider.slug,
            provider.base_url,
            provider.template,
            provider.compat_base,
            account,
            path,
            query,
        ) {
            // The host is the base's, with no placeholder left in it (the path may hold anything).
            assert_eq!(authority(&url), base, "{} → {url}", provider.slug);
            assert!(!base.contains(['{', '}']), "{} → {url}", provider.slug);
        }
    }
});
