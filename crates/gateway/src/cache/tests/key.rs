//! The cache key: what changes it, what must not.

use crate::cache::{KeyParts, cache_key};

const BODY: &[u8] =
    br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#;

fn base() -> KeyParts<'static> {
    KeyParts {
        account: "acct",
        gateway: "gw",
        generation: 3,
        provider: "openai",
        method: "POST",
        path_and_query: "/v1/chat/completions?x=1",
        credentials: vec![("authorization", b"Bearer sk-one".as_slice())],
        body: BODY,
        custom_key: None,
        custom_key_shared: false,
    }
}

fn key_with<'a>(change: impl FnOnce(&mut KeyParts<'a>)) -> String {
    let mut parts = base();
    change(&mut parts);
    cache_key(&parts)
}

#[test]
fn key_is_lowercase_hex_sha256_and_stable() {
    let key = cache_key(&base());
    assert_eq!(key.len(), 64);
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(key, cache_key(&base()));
}

#[test]
fn different_credential_value_gives_different_key() {
    let other = key_with(|p| p.credentials = vec![("authorization", b"Bearer sk-two".as_slice())]);
    assert_ne!(cache_key(&base()), other);
    let none = key_with(|p| p.credentials = vec![]);
    assert_ne!(cache_key(&base()), none);
    let renamed = key_with(|p| p.credentials = vec![("x-api-key", b"Bearer sk-one".as_slice())]);
    assert_ne!(cache_key(&base()), renamed);
}

#[test]
fn credential_order_does_not_matter() {
    let a = key_with(|p| {
        p.credentials = vec![
            ("x-api-key", b"k".as_slice()),
            ("authorization", b"a".as_slice()),
        ]
    });
    let b = key_with(|p| {
        p.credentials = vec![
            ("authorization", b"a".as_slice()),
            ("x-api-key", b"k".as_slice()),
        ]
    });
    assert_eq!(a, b);
}

#[test]
fn reordered_json_keys_and_whitespace_give_same_key() {
    let reordered: &[u8] = b"{ \"temperature\": 0.5,\n  \"messages\" : [ { \"content\":\"hi\", \"role\":\"user\" } ],\r\n\t\"model\":\"gpt-4o-mini\" }\n";
    assert_eq!(cache_key(&base()), key_with(|p| p.body = reordered));
}

#[test]
fn json_values_are_compared_as_written() {
    // Whitespace inside strings, array order and number spelling are significant.
    let spaced = key_with(|p| {
        p.body = br#"{"model":"gpt-4o-mini ","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#
    });
    let number = key_with(|p| {
        p.body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":0.50}"#
    });
    let arrays = [
        key_with(|p| p.body = b"[1,2]"),
        key_with(|p| p.body = b"[2,1]"),
    ];
    assert_ne!(cache_key(&base()), spaced);
    assert_ne!(cache_key(&base()), number);
    assert_ne!(arrays[0], arrays[1]);
}

#[test]
fn non_json_body_is_hashed_as_bytes() {
    let a = key_with(|p| p.body = b"not json {\"a\": 1}");
    let b = key_with(|p| p.body = b"not json {\"a\":1}");
    assert_ne!(a, b, "whitespace matters outside JSON");
    let binary: Vec<u8> = (0..=255u8).collect();
    let same = binary.clone();
    assert_eq!(key_with(|p| p.body = &binary), key_with(|p| p.body = &same));
    assert_ne!(key_with(|p| p.body = b""), key_with(|p| p.body = b" "));
}

#[test]
fn every_field_changes_the_key() {
    let keys = [
        cache_key(&base()),
        key_with(|p| p.account = "acct2"),
        key_with(|p| p.gateway = "gw2"),
        key_with(|p| p.generation = 4),
        key_with(|p| p.provider = "anthropic"),
        key_with(|p| p.method = "PUT"),
        key_with(|p| p.path_and_query = "/v1/embeddings?x=1"),
        key_with(|p| p.path_and_query = "/v1/chat/completions?x=2"),
        key_with(|p| p.path_and_query = "/v1/chat/completions"),
        key_with(|p| {
            p.body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#
        }),
    ];
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn custom_key_replaces_request_fields_but_keeps_scope_and_credentials() {
    let custom = |change: fn(&mut KeyParts<'static>)| {
        key_with(|p| {
            p.custom_key = Some("my-key");
            change(p);
        })
    };
    let key = custom(|_| {});
    assert_ne!(key, cache_key(&base()));
    // Provider, method, path and body no longer matter…
    assert_eq!(key, custom(|p| p.provider = "anthropic"));
    assert_eq!(key, custom(|p| p.method = "GET"));
    assert_eq!(key, custom(|p| p.path_and_query = "/other"));
    assert_eq!(key, custom(|p| p.body = b"something else"));
    // …but credentials do (a client without the key gets no other client's answer)…
    assert_ne!(
        key,
        custom(|p| p.credentials = vec![("authorization", b"Bearer sk-two".as_slice())])
    );
    assert_ne!(key, custom(|p| p.credentials = Vec::new()));
    // …unless the gateway shares custom keys…
    let shared = custom(|p| p.custom_key_shared = true);
    assert_eq!(
        shared,
        custom(|p| {
            p.custom_key_shared = true;
            p.credentials = Vec::new();
        })
    );
    // …and so do account, gateway, generation and the custom key itself.
    assert_ne!(key, custom(|p| p.account = "acct2"));
    assert_ne!(key, custom(|p| p.gateway = "gw2"));
    assert_ne!(key, custom(|p| p.generation = 4));
    assert_ne!(key, key_with(|p| p.custom_key = Some("my-key2")));
}

#[test]
fn field_boundaries_are_unambiguous() {
    // The same concatenated bytes split differently across fields must not collide.
    assert_ne!(
        key_with(|p| {
            p.path_and_query = "ab";
            p.body = b"c";
        }),
        key_with(|p| {
            p.path_and_query = "a";
            p.body = b"bc";
        })
    );
    assert_ne!(
        key_with(|p| {
            p.account = "ab";
            p.gateway = "c";
        }),
        key_with(|p| {
            p.account = "a";
            p.gateway = "bc";
        })
    );
    assert_ne!(
        key_with(|p| {
            p.provider = "openaiP";
            p.method = "OST";
        }),
        key_with(|p| {
            p.provider = "openai";
            p.method = "POST";
        })
    );
    assert_ne!(
        key_with(|p| p.credentials = vec![
            ("authorization", b"x".as_slice()),
            ("x-api-key", b"".as_slice())
        ]),
        key_with(|p| p.credentials = vec![("authorization", b"xx-api-key".as_slice())])
    );
    // A custom key that spells out a request's fields is still not that request.
    assert_ne!(
        cache_key(&base()),
        key_with(|p| p.custom_key = Some("openai"))
    );
}
