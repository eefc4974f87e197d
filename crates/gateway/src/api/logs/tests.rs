//! Query-string and PATCH-body parsing of the logs API, and the rendering of rows.

use serde_json::{Value, json};

use super::patch;
use super::query::{self, Parsed, filter_keys};
use super::*;
use crate::store::logs::{FilterOp, LogFilter, LogPatch, LogQuery, LogStore};
use crate::store::sqlite::SqliteStore;

fn parse(raw: &str) -> Result<Parsed, String> {
    query::parse(Some(raw))
}

fn filters(raw: &str) -> Vec<LogFilter> {
    match parse(raw) {
        Ok(parsed) => parsed.query.filters,
        Err(e) => vec![LogFilter {
            key: format!("error: {e}"),
            op: FilterOp::Eq,
            values: vec![],
        }],
    }
}

fn f(key: &str, op: FilterOp, values: Value) -> LogFilter {
    LogFilter {
        key: key.into(),
        op,
        values: values.as_array().cloned().unwrap_or_default(),
    }
}

#[test]
fn defaults() -> Result<(), String> {
    for raw in [
        None,
        Some(""),
        Some("meta_info=true&unknown=1&model_type=x"),
    ] {
        let parsed = query::parse(raw)?;
        assert_eq!(
            parsed,
            Parsed {
                query: LogQuery {
                    page: 1,
                    per_page: 20,
                    ..LogQuery::default()
                },
                limit: 10_000,
            }
        );
    }
    Ok(())
}

#[test]
fn sdk_dotted_encoding_pairs_by_position() {
    // Interleaved, as `qs` (the TypeScript SDK) and the Python SDK's own stringify write it.
    let raw = "filters.key=provider&filters.operator=eq&filters.value=openai&filters.value=x+y\
               &filters.value=true&filters.value=1.5&filters.key=cached&filters.operator=eq\
               &filters.value=false&page=2&cached=true";
    assert_eq!(
        filters(raw),
        vec![
            f(
                "provider",
                FilterOp::Eq,
                json!(["openai", "x y", "true", "1.5"])
            ),
            f("cached", FilterOp::Eq, json!([false])),
            f("cached", FilterOp::Eq, json!([true])),
        ]
    );
    // Interleaved parameters do not break the pairing; percent-encoding is decoded.
    let raw = "filters.key=metadata.value&page=3&filters.operator=contains&filters.value=a%26b%3Dc\
               &filters.key=tokens_in&filters.operator=gt&filters.value=100";
    assert_eq!(
        filters(raw),
        vec![
            f("metadata.value", FilterOp::Contains, json!(["a&b=c"])),
            f("tokens_in", FilterOp::Gt, json!([100])),
        ]
    );
}

#[test]
fn python_sdk_grouped_encoding_pairs_by_index() {
    // What cloudflare==5.9.0 puts on the wire for two filters: httpx groups repeated names.
    let raw = "filters.key=provider&filters.key=success&filters.operator=eq&filters.operator=neq\
               &filters.value=openai&filters.value=false&per_page=50";
    assert_eq!(
        filters(raw),
        vec![
            f("provider", FilterOp::Eq, json!(["openai"])),
            f("success", FilterOp::Neq, json!([false])),
        ]
    );
    // One filter: every value is its own, in whatever order the fields come.
    let raw = "filters.operator=eq&filters.key=provider&filters.value=a&filters.value=b";
    assert_eq!(
        filters(raw),
        vec![f("provider", FilterOp::Eq, json!(["a", "b"]))]
    );
}

#[test]
fn bracket_and_json_forms() {
    let raw = "filters[1][key]=model&filters[0][key]=provider&filters[0][operator]=neq\
               &filters[1][operator]=contains&filters[0][value][]=a&filters[0][value][]=b\
               &filters[1][value][0]=gpt";
    assert_eq!(
        filters(raw),
        vec![
            f("provider", FilterOp::Neq, json!(["a", "b"])),
            f("model", FilterOp::Contains, json!(["gpt"])),
        ]
    );
    // Un-indexed brackets pair by position like the dotted form.
    let raw = "filters[][key]=success&filters[][operator]=eq&filters[][value]=1";
    assert_eq!(
        filters(raw),
        vec![f("success", FilterOp::Eq, json!([true]))]
    );
    let json_form = r#"[{"key":"status_code","operator":"gt","value":[499]},{"key":"event_id","operator":"eq","value":"e1"},{"key":"feedback","operator":"eq","value":[null,0]}]"#;
    let raw = format!(
        "filters={}",
        percent_encoding::utf8_percent_encode(json_form, percent_encoding::NON_ALPHANUMERIC)
    );
    assert_eq!(
        filters(&raw),
        vec![
            f("status_code", FilterOp::Gt, json!([499])),
            f("event_id", FilterOp::Eq, json!(["e1"])),
            f("feedback", FilterOp::Eq, json!([null, -1])),
        ]
    );
}

#[test]
fn values_are_typed_per_key() {
    let cases: &[(&str, Value)] = &[
        (
            "filters.key=created_at&filters.operator=gt&filters.value=1970-01-01T00:00:01Z",
            json!([1000]),
        ),
        (
            "filters.key=created_at&filters.operator=lt&filters.value=2500",
            json!([2500]),
        ),
        (
            "filters.key=cost&filters.operator=lt&filters.value=0.25",
            json!([0.25]),
        ),
        (
            "filters.key=success&filters.operator=eq&filters.value=0",
            json!([false]),
        ),
        (
            "filters.key=model&filters.operator=eq&filters.value=null",
            json!([null]),
        ),
        (
            "filters.key=model&filters.operator=eq&filters.value=12",
            json!(["12"]),
        ),
        (
            "filters.key=feedback&filters.operator=eq&filters.value=0&filters.value=1",
            json!([-1, 1]),
        ),
        (
            "filters.key=feedback&filters.operator=gt&filters.value=0",
            json!([0]),
        ),
        (
            "filters.key=metadata.key&filters.operator=eq&filters.value=user",
            json!(["user"]),
        ),
    ];
    for (raw, expected) in cases {
        let got = filters(raw);
        assert_eq!(got.len(), 1, "{raw}: {got:?}");
        assert_eq!(Value::Array(got[0].values.clone()), *expected, "{raw}");
    }
}

#[test]
fn cloudflare_values_tollgate_has_no_use_for_are_accepted() -> Result<(), String> {
    // Cloudflare's `model_type` order: the default order (Tollgate has no model types).
    assert_eq!(parse("order_by=model_type")?.query.order_by, None);
    let parsed = parse("feedback=-1")?;
    assert_eq!(
        parsed.query.filters,
        [f("feedback", FilterOp::Eq, json!([-1]))]
    );
    Ok(())
}

#[test]
fn deprecated_flat_parameters_become_filters() -> Result<(), String> {
    let parsed = parse(
        "cached=false&success=true&direction=asc&start_date=1970-01-01T00:00:01Z\
         &end_date=1970-01-01T00:00:02.5Z&feedback=0&min_cost=0.5&max_cost=2&min_duration=10\
         &max_tokens_in=5&min_tokens_out=1&max_total_tokens=30&model=gpt-4o&provider=openai\
         &request_content_type=application/json&response_content_type=text/plain&model_type=x",
    )?;
    assert!(parsed.query.ascending);
    let gt = |key: &str, v: f64| f(key, FilterOp::Gt, json!([v]));
    let lt = |key: &str, v: f64| f(key, FilterOp::Lt, json!([v]));
    assert_eq!(
        parsed.query.filters,
        vec![
            f("cached", FilterOp::Eq, json!([false])),
            f("success", FilterOp::Eq, json!([true])),
            f("created_at", FilterOp::Gt, json!([999])),
            f("created_at", FilterOp::Lt, json!([2501])),
            f("feedback", FilterOp::Eq, json!([-1])),
            gt("cost", 0.5f64.next_down()),
            lt("cost", 2f64.next_up()),
            gt("duration", 10f64.next_down()),
            lt("tokens_in", 5f64.next_up()),
            gt("tokens_out", 1f64.next_down()),
            lt("tokens", 30f64.next_up()),
            f("model", FilterOp::Eq, json!(["gpt-4o"])),
            f("provider", FilterOp::Eq, json!(["openai"])),
            f(
                "request_content_type",
                FilterOp::Eq,
                json!(["application/json"])
            ),
            f("response_content_type", FilterOp::Eq, json!(["text/plain"])),
        ]
    );
    // The current parameter wins over the deprecated one.
    assert!(
        !parse("direction=asc&order_by_direction=desc")?
            .query
            .ascending
    );
    Ok(())
}

#[test]
fn paging_ordering_search_and_limit() -> Result<(), String> {
    let p = parse(
        "page=3&per_page=500&order_by=cost&order_by_direction=asc&search=hello+w%C3%B6rld&limit=25",
    )?;
    assert_eq!(
        (
            p.query.page,
            p.query.per_page,
            p.query.order_by.as_deref(),
            p.query.ascending
        ),
        (3, 50, Some("cost"), true)
    );
    assert_eq!(
        (p.query.search.as_deref(), p.limit),
        (Some("hello wörld"), 25)
    );
    let p = parse("page=0&per_page=-4&search=")?;
    assert_eq!(
        (p.query.page, p.query.per_page, p.query.search),
        (1, 1, None)
    );
    Ok(())
}

#[test]
fn bad_inputs_are_refused_naming_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "filters.key=model_type&filters.operator=eq&filters.value=x",
            "model_type",
        ),
        (
            "filters.key=provider&filters.operator=like&filters.value=x",
            "like",
        ),
        ("filters.key=provider&filters.value=x", "no operator"),
        ("filters.key=provider&filters.operator=eq", "no value"),
        ("filters.operator=eq&filters.key=provider", "no value"),
        ("filters.value=x", "without any filters.key"),
        (
            "filters.key=a&filters.key=b&filters.operator=eq&filters.value=x&filters.value=y",
            "1 filters.operator",
        ),
        (
            "filters.key=provider&filters.key=model&filters.operator=eq&filters.operator=eq&filters.value=x",
            "1 filters.value",
        ),
        (
            "filters.key=provider&filters.operator=eq&filters.operator=neq&filters.value=x",
            "twice",
        ),
        ("filters.key=provider&filters.op=eq", "op"),
        (
            "filters.key=status_code&filters.operator=eq&filters.value=abc",
            "status_code",
        ),
        (
            "filters.key=status_code&filters.operator=contains&filters.value=2",
            "contains",
        ),
        (
            "filters.key=provider&filters.operator=gt&filters.value=a",
            "gt",
        ),
        (
            "filters.key=success&filters.operator=lt&filters.value=1",
            "success",
        ),
        (
            "filters.key=success&filters.operator=eq&filters.value=yes",
            "true or false",
        ),
        (
            "filters.key=cost&filters.operator=lt&filters.value=null",
            "null",
        ),
        (
            "filters.key=created_at&filters.operator=gt&filters.value=yesterday",
            "created_at",
        ),
        (
            "filters.key=cost&filters.operator=lt&filters.value=NaN",
            "cost",
        ),
        ("filters=not-json", "filters"),
        ("filters=%5B1%5D", "object"),
        ("filters=%5B%7B%22operator%22%3A%22eq%22%7D%5D", "no key"),
        ("page=two", "page"),
        ("per_page=1.5", "per_page"),
        ("order_by=id", "order_by"),
        ("order_by_direction=up", "order_by_direction"),
        ("direction=sideways", "direction"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("cached=maybe", "cached"),
        ("feedback=2", "feedback"),
        ("start_date=now", "start_date"),
        ("min_cost=cheap", "min_cost"),
        ("max_total_tokens=inf", "max_total_tokens"),
    ];
    for (raw, needle) in cases {
        let outcome = parse(raw);
        assert!(
            outcome.as_ref().is_err_and(|m| m.contains(needle)),
            "{raw}: {outcome:?}"
        );
    }
}

/// The API's keys and the store's whitelist agree: whatever the API lets through, the store
/// can run, for every key and every operator the API allows on it.
#[tokio::test]
async fn every_accepted_filter_runs_in_the_store() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("t.db"))?;
    let mut accepted = 0;
    let keys = filter_keys();
    for key in &keys {
        for op in ["eq", "neq", "contains", "lt", "gt"] {
            let raw = format!("filters.key={key}&filters.operator={op}&filters.value=1");
            let Ok(parsed) = parse(&raw) else { continue };
            accepted += 1;
            store.list_logs("local", "gw", &parsed.query).await?;
            store.delete_logs("local", "gw", &parsed.query, 1).await?;
        }
    }
    assert!(accepted > keys.len() * 2, "only {accepted} accepted");
    for order_by in [
        "created_at",
        "provider",
        "model",
        "success",
        "cached",
        "cost",
        "tokens_in",
        "tokens_out",
        "duration",
        "feedback",
        "status_code",
    ] {
        let parsed = parse(&format!("order_by={order_by}")).map_err(anyhow::Error::msg)?;
        store.list_logs("local", "gw", &parsed.query).await?;
    }
    Ok(())
}

#[test]
fn patch_bodies() {
    let parse = |body: Value| match body {
        Value::Object(map) => patch::parse(&map).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        }),
        _ => Err("not an object".into()),
    };
    assert_eq!(parse(json!({})), Ok(LogPatch::default()));
    assert_eq!(
        parse(json!({"feedback": 1.0, "score": 100, "metadata": {"a": 1, "b": true, "c": "x"}})),
        Ok(LogPatch {
            feedback: Some(Some(1)),
            score: Some(Some(100.0)),
            metadata: Some(Some(r#"{"a":1,"b":true,"c":"x"}"#.into())),
        })
    );
    assert_eq!(
        parse(json!({"feedback": null, "score": null, "metadata": null, "other": 1})),
        Ok(LogPatch {
            feedback: Some(None),
            score: Some(None),
            metadata: Some(None),
        })
    );
    assert_eq!(
        parse(json!({"feedback": -1, "metadata": "{\"k\":\"v\"}"})),
        Ok(LogPatch {
            feedback: Some(Some(-1)),
            metadata: Some(Some(r#"{"k":"v"}"#.into())),
            ..LogPatch::default()
        })
    );
    // Thumbs down as Cloudflare's binding writes it.
    assert_eq!(
        parse(json!({"feedback": 0})).map(|p| p.feedback),
        Ok(Some(Some(-1)))
    );
    // Like the header: six entries keep the first five.
    let six = json!({"metadata": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}});
    assert_eq!(
        parse(six).map(|p| p.metadata),
        Ok(Some(Some(r#"{"a":1,"b":2,"c":3,"d":4,"e":5}"#.into())))
    );
    let long_key = "k".repeat(65);
    for (body, needle) in [
        (json!({"feedback": 2}), "feedback"),
        (json!({"feedback": "1"}), "feedback"),
        (json!({"score": "high"}), "score"),
        (json!({"metadata": [1]}), "metadata"),
        (json!({"metadata": "not json"}), "metadata"),
        (json!({"metadata": {"a": {"nested": 1}}}), "metadata"),
        (json!({"metadata": {"a": null}}), "metadata"),
        (json!({"metadata": {long_key: 1}}), "64"),
        (json!({"metadata": {"a": "v".repeat(513)}}), "512"),
    ] {
        let outcome = parse(body.clone());
        assert!(
            outcome.as_ref().is_err_and(|m| m.contains(needle)),
            "{body}: {outcome:?}"
        );
    }
    // All problems at once.
    let both = parse(json!({"feedback": 5, "score": []}));
    assert!(
        both.as_ref()
            .is_err_and(|m| m.contains("feedback") && m.contains("score")),
        "{both:?}"
    );
}

#[test]
fn rows_render_in_cloudflare_shape() {
    let row = LogRow {
        id: "01".into(),
        created_at_ms: 1_700_000_000_123,
        provider: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        metadata: Some(r#"{"a":1}"#.into()),
        status_code: Some(200),
        success: true,
        cost: Some(0.25),
        completed: true,
        ..LogRow::default()
    };
    let json = Value::Object(row_json(&row));
    assert_eq!(json["created_at"], "2023-11-14T22:13:20.123Z");
    assert_eq!(json["metadata"], r#"{"a":1}"#, "metadata is a JSON string");
    assert_eq!(
        (json["cost"].clone(), json["tokens_in"].clone()),
        (json!(0.25), Value::Null)
    );
    for key in [
        "id",
        "created_at",
        "provider",
        "model",
        "path",
        "method",
        "status_code",
        "success",
        "cached",
        "duration",
        "ttfb",
        "tokens_in",
        "tokens_out",
        "cost",
        "custom_cost",
        "metadata",
        "step",
        "event_id",
        "attempts",
        "request_content_type",
        "response_content_type",
        "request_size",
        "response_size",
        "feedback",
        "score",
        "client_ip",
        "user_agent",
        "error",
        "cache_read_tokens",
        "cache_write_tokens",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    // Internal fields stay inside.
    for key in ["account_id", "gateway_id", "completed", "instance_id"] {
        assert!(json.get(key).is_none(), "leaks {key}");
    }
    let info = page_info(
        &LogPageInfo {
            total_count: 41,
            ..LogPageInfo::default()
        },
        2,
        20,
        20,
    );
    assert_eq!(
        (
            info["total_pages"].clone(),
            info["count"].clone(),
            info["min_cost"].clone()
        ),
        (json!(3), json!(20), Value::Null)
    );
}
