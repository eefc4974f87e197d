use serde_json::json;

use super::*;
use crate::gateways::Gateway;

fn parse(body: Value) -> Result<SettingsPatch, Vec<FieldError>> {
    let Value::Object(map) = body else {
        unreachable!()
    };
    SettingsPatch::parse(&map)
}

fn messages(body: Value) -> Vec<String> {
    parse(body)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
}

#[test]
fn each_field_kind_is_absent_null_or_a_value() {
    let patch = parse(json!({
        "cache_ttl": null, "collect_logs": false, "rate_limiting_key": "ip",
        "request_timeout_ms": 250, "log_management": null, "log_management_strategy": null,
    }))
    .unwrap_or_default();
    assert_eq!(patch.cache_ttl, Patch::Null);
    assert_eq!(patch.collect_logs, Patch::Value(false));
    assert_eq!(patch.rate_limiting_key, Patch::Value(RateLimitKey::Ip));
    assert_eq!(patch.request_timeout_ms, Patch::Value(Some(250)));
    assert_eq!(patch.log_management, Patch::Null);
    assert_eq!(patch.retry_max_attempts, Patch::Absent);
    assert_eq!(patch.authentication, Patch::Absent);

    let mut settings = GatewaySettings {
        cache_ttl: 60,
        collect_logs: true,
        retry_max_attempts: 3,
        log_management: Some(10),
        ..GatewaySettings::default()
    };
    settings.write(patch);
    // Null restores the default, a value replaces, absent keeps.
    assert_eq!(settings.cache_ttl, 0);
    assert_eq!(settings.log_management, None);
    assert!(!settings.collect_logs);
    assert_eq!(settings.request_timeout_ms, Some(250));
    assert_eq!(settings.retry_max_attempts, 3);
}

#[test]
fn null_is_refused_where_the_field_has_no_empty_value() {
    assert_eq!(
        messages(json!({"collect_logs": null, "authentication": null})),
        [
            "collect_logs: must be true or false",
            "authentication: must be true or false",
        ]
    );
}

/// Cloudflare's schema makes the retry fields nullable: `null` restores the default.
#[test]
fn null_restores_the_retry_defaults() {
    let patch =
        parse(json!({"retry_max_attempts": null, "retry_delay": null, "retry_backoff": null}))
            .unwrap_or_default();
    let mut settings = GatewaySettings {
        retry_max_attempts: 4,
        retry_delay: 900,
        retry_backoff: Backoff::Exponential,
        ..GatewaySettings::default()
    };
    settings.write(patch);
    let default = GatewaySettings::default();
    assert_eq!(settings.retry_max_attempts, default.retry_max_attempts);
    assert_eq!(settings.retry_delay, default.retry_delay);
    assert_eq!(settings.retry_backoff, default.retry_backoff);
}

#[test]
fn bounds_come_from_the_table() {
    for (field, bound) in [
        ("cache_ttl", bounds::CACHE_TTL_S),
        ("request_timeout_ms", bounds::REQUEST_TIMEOUT_MS),
        ("retry_max_attempts", bounds::RETRY_MAX_ATTEMPTS),
        ("retry_delay", bounds::RETRY_DELAY_MS),
        ("rate_limiting_interval", bounds::RATE_LIMIT_INTERVAL_S),
        ("rate_limiting_limit", bounds::RATE_LIMIT_LIMIT),
        ("log_management", bounds::LOG_MANAGEMENT),
    ] {
        assert!(parse(json!({ field: bound.max })).is_ok(), "{field}");
        assert!(parse(json!({ field: bound.min })).is_ok(), "{field}");
        assert_eq!(
            messages(json!({ field: bound.max + 1 })),
            [format!("{field}: {}", bound.must_be())]
        );
    }
}

#[test]
fn an_unknown_field_is_refused_with_the_nearest_known_name() {
    assert_eq!(
        messages(json!({"cach_ttl": 60})),
        ["cach_ttl: unknown field; did you mean cache_ttl?"]
    );
    assert_eq!(
        messages(json!({"Retry_Delay": 1})),
        ["Retry_Delay: unknown field; did you mean retry_delay?"]
    );
    assert_eq!(
        messages(json!({"zd": true})),
        ["zd: unknown field; did you mean zdr?"]
    );
    assert_eq!(
        messages(json!({"colour": "blue"})),
        ["colour: unknown field"]
    );
    // Known fields' errors first, in the table's order, then the unknown ones.
    assert_eq!(
        messages(json!({"zz": 1, "cache_ttl": -1})),
        [
            "cache_ttl: must be an integer from 0 to 2592000",
            "zz: unknown field"
        ]
    );
}

#[test]
fn echoed_read_only_fields_are_accepted_and_ignored() {
    let body = json!({
        "id": "gw", "account_id": "local", "account_tag": "local", "internal_id": "x",
        "is_default": false, "created_at": "2026-01-01T00:00:00Z",
        "modified_at": "2026-01-01T00:00:00Z", "cache_generation": 9, "cache_ttl": 5,
    });
    let patch = parse(body).unwrap_or_default();
    assert_eq!(patch.cache_ttl, Patch::Value(5));
    assert!(patch.cloudflare.is_empty());
}

#[test]
fn cloudflare_fields_are_stored_and_returned() {
    let guardrails = json!({"prompt": {"S1": "BLOCK"}});
    let mut settings = GatewaySettings::default();
    let first = parse(json!({"guardrails": guardrails, "zdr": true, "logpush_public_key": null}));
    settings.write(first.unwrap_or_default());
    // A later update keeps what it does not mention.
    settings.write(parse(json!({"zdr": false})).unwrap_or_default());
    let gateway = Gateway {
        account_id: "local".into(),
        id: "gw".into(),
        settings,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        modified_at: jiff::Timestamp::UNIX_EPOCH,
    };
    let object = gateway.to_json();
    assert_eq!(object["guardrails"], guardrails);
    assert_eq!(object["zdr"], false);
    assert_eq!(object.get("logpush_public_key"), Some(&Value::Null));
    // Stored as JSON and read back (the stores keep settings as JSON).
    let text = serde_json::to_string(&gateway.settings).unwrap_or_default();
    let back: Option<GatewaySettings> = serde_json::from_str(&text).ok();
    assert_eq!(back.as_ref(), Some(&gateway.settings));
}

#[test]
fn every_stored_setting_is_settable_or_read_only() {
    let stored = serde_json::to_value(GatewaySettings::default()).unwrap_or_default();
    let names: Vec<&str> = stored
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for name in &names {
        assert!(
            SETTABLE.contains(name) || READ_ONLY.contains(name),
            "{name} is stored but no update can set it"
        );
    }
    for name in SETTABLE {
        assert!(names.contains(name), "{name}");
    }
}

#[test]
fn dlp_is_parsed_not_stored_opaque_and_a_bad_one_names_the_field() {
    let dlp = json!({"enabled": true, "action": "BLOCK", "profiles": ["financial"]});
    let patch = parse(json!({"dlp": dlp})).unwrap_or_default();
    assert!(patch.cloudflare.is_empty());
    assert!(matches!(patch.dlp, Patch::Value(Some(_))));
    let mut settings = GatewaySettings::default();
    settings.write(patch);
    let stored = serde_json::to_value(&settings).unwrap_or_default();
    assert_eq!(stored["dlp"], dlp);
    assert_eq!(
        parse(json!({"dlp": null})).unwrap_or_default().dlp,
        Patch::Null
    );
    assert_eq!(
        messages(json!({"dlp": {"enabled": true, "action": "FLAG", "profiles": ["pii"]}})),
        [
            "dlp: profiles[0]: unknown profile \"pii\"; known: financial, national_ids, \
             credentials, or a custom profile's id"
        ]
    );
}
