//! What a version must be to be saved, each refusal naming the element and the field.

use serde_json::{Value, json};

use super::{Kind, LimitType, parse};

fn out(id: &str) -> Value {
    json!({ "elementId": id })
}

/// start → conditional(metadata.plan == paid) → paid model | split 30/70 → models; a rate
/// limit before the free models; both spellings of the limit element.
fn valid() -> Value {
    json!([
        {"id": "start", "type": "start", "outputs": {"next": out("plan")}},
        {"id": "plan", "type": "conditional",
         "properties": {"conditions": {"metadata.plan": {"$eq": "paid"}}},
         "outputs": {"true": out("big"), "false": out("limit")}},
        {"id": "limit", "type": "rate",
         "properties": {"limitType": "count", "key": "metadata.user", "limit": 10, "window": 60},
         "outputs": {"success": out("split"), "fallback": out("end")}},
        {"id": "split", "type": "percentage",
         "outputs": {"30%": out("small-a"), "70%": out("small-b")}},
        {"id": "big", "type": "model",
         "properties": {"provider": "openai", "model": "gpt-4o", "timeout": 30000, "retries": 2},
         "outputs": {"success": out("end"), "fallback": out("budget")}},
        {"id": "budget", "type": "rate_limit",
         "properties": {"limitType": "cost", "limit": 1.5, "interval": 3600, "technique": "sliding"},
         "outputs": {"success": out("small-a")}},
        {"id": "small-a", "type": "model",
         "properties": {"provider": "anthropic", "model": "claude-3-5-haiku", "timeout": 10000, "retries": 0},
         "outputs": {"success": out("end")}},
        {"id": "small-b", "type": "model",
         "properties": {"provider": "openai", "model": "gpt-4o-mini", "timeout": 10000, "retries": 1},
         "outputs": {"success": out("end"), "fallback": out("small-a")}},
        {"id": "end", "type": "end", "outputs": {}},
    ])
}

fn known(slug: &str) -> bool {
    matches!(slug, "openai" | "anthropic")
}

/// The refusal of `elements`, as `field: message` lines.
fn refused(elements: &Value) -> Vec<String> {
    parse(elements, &known)
        .expect_err("refused")
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
}

fn with(change: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut elements = valid().as_array().unwrap().clone();
    change(&mut elements);
    Value::Array(elements)
}

fn assert_refused(elements: &Value, needle: &str) {
    let errors = refused(elements);
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "{needle:?} not in {errors:#?}"
    );
}

#[test]
fn a_valid_graph_reads_into_typed_elements() {
    let graph = parse(&valid(), &known).unwrap();
    assert_eq!(graph.elements[graph.start].id, "start");
    let Kind::Limit(limit) = &graph.elements[2].kind else {
        panic!("a rate element")
    };
    assert_eq!(
        (limit.limit_type, limit.limit, limit.window_s),
        (LimitType::Count, 10.0, 60)
    );
    let Kind::Limit(budget) = &graph.elements[5].kind else {
        panic!("a rate_limit element")
    };
    assert_eq!(
        (budget.limit_type, budget.window_s),
        (LimitType::Cost, 3600)
    );
    assert_eq!(budget.fallback, None);
    let Kind::Percentage { splits, rest } = &graph.elements[3].kind else {
        panic!("a percentage")
    };
    assert_eq!(splits.iter().map(|s| s.0).sum::<u32>(), 10_000);
    assert_eq!(*rest, None);
    let Kind::Model(model) = &graph.elements[4].kind else {
        panic!("a model")
    };
    assert_eq!((model.timeout_ms, model.retries), (Some(30_000), Some(2)));
}

#[test]
fn outputs_must_point_to_elements_of_the_version() {
    let elements = with(|e| e[1]["outputs"]["true"] = out("nowhere"));
    assert_refused(
        &elements,
        "elements[1].outputs.true.elementId: element \"plan\": points to \"nowhere\"",
    );
    let elements = with(|e| e[1]["outputs"]["true"] = json!("big"));
    assert_refused(
        &elements,
        "elements[1].outputs.true: element \"plan\": expected {\"elementId\"",
    );
    let elements = with(|e| {
        e[1]["outputs"].as_object_mut().unwrap().remove("false");
    });
    assert_refused(
        &elements,
        "elements[1].outputs.false: element \"plan\": is required",
    );
}

#[test]
fn cycles_are_refused() {
    // small-a falls back to small-b, which falls back to small-a.
    let elements = with(|e| e[6]["outputs"]["fallback"] = out("small-b"));
    assert_refused(&elements, "closes a cycle");
    // Back to the start.
    let elements = with(|e| e[7]["outputs"]["fallback"] = out("start"));
    assert_refused(
        &elements,
        "element \"small-b\": an output points to the start element",
    );
}

#[test]
fn exactly_one_start() {
    let elements = with(|e| {
        e.remove(0);
    });
    assert_refused(&elements, "exactly one start element, found 0");
    let elements = with(|e| {
        e.push(json!({"id": "start2", "type": "start", "outputs": {"next": out("end")}}));
    });
    assert_refused(&elements, "exactly one start element, found 2");
}

#[test]
fn percentages_total_exactly_100_without_else_and_at_most_100_with_it() {
    let elements =
        with(|e| e[3]["outputs"] = json!({"30%": out("small-a"), "60%": out("small-b")}));
    assert_refused(
        &elements,
        "elements[3].outputs: element \"split\": the shares add up to 90%",
    );
    let elements =
        with(|e| e[3]["outputs"] = json!({"30%": out("small-a"), "80%": out("small-b")}));
    assert_refused(&elements, "add up to 110%");
    let elements = with(|e| {
        e[3]["outputs"] = json!({"30%": out("small-a"), "60%": out("small-b"), "else": out("end")});
    });
    assert!(parse(&elements, &known).is_ok(), "with else, 90% is fine");
    let elements = with(|e| {
        e[3]["outputs"] = json!({"30%": out("small-a"), "80%": out("small-b"), "else": out("end")});
    });
    assert_refused(&elements, "add up to 110%, more than 100%");
    // Two equal shares, told apart by a label; decimals.
    let elements = with(|e| {
        e[3]["outputs"] =
            json!({"49.5% a": out("small-a"), "49.5% b": out("small-b"), "1%": out("end")});
    });
    assert!(parse(&elements, &known).is_ok());
    let elements = with(|e| e[3]["outputs"] = json!({"half": out("small-a"), "100%": out("end")}));
    assert_refused(
        &elements,
        "elements[3].outputs.half: element \"split\": expected a share",
    );
}

#[test]
fn a_model_needs_a_configured_provider_and_bounded_settings() {
    let elements = with(|e| e[4]["properties"]["provider"] = json!("openia"));
    assert_refused(
        &elements,
        "elements[4].properties.provider: element \"big\": \"openia\" is not a configured provider",
    );
    let elements = with(|e| {
        e[4]["properties"]["retries"] = json!(2.0);
        e[4]["properties"]["timeout"] = json!(30000.0);
    });
    assert!(
        parse(&elements, &known).is_ok(),
        "whole numbers written as floats"
    );
    let elements = with(|e| e[4]["properties"]["retries"] = json!(1.5));
    assert_refused(&elements, "elements[4].properties.retries: element \"big\"");
    let elements = with(|e| e[4]["properties"]["retries"] = json!(9));
    assert_refused(&elements, "elements[4].properties.retries: element \"big\"");
    let elements = with(|e| e[4]["properties"]["timeout"] = json!(0));
    assert_refused(&elements, "elements[4].properties.timeout");
    let elements = with(|e| {
        e[4]["properties"].as_object_mut().unwrap().remove("model");
    });
    assert_refused(
        &elements,
        "elements[4].properties.model: element \"big\": expected a string of 1 to 256",
    );
    let elements = with(|e| e[4]["properties"]["model"] = json!("m".repeat(257)));
    assert_refused(&elements, "elements[4].properties.model");
    // A model's success is the answer: it leads to the end only.
    let elements = with(|e| e[4]["outputs"]["success"] = out("small-a"));
    assert_refused(
        &elements,
        "elements[4].outputs.success: element \"big\": must point to an end",
    );
}

#[test]
fn limits_are_checked_field_by_field() {
    let elements = with(|e| e[2]["properties"]["limitType"] = json!("tokens"));
    assert_refused(
        &elements,
        "elements[2].properties.limitType: element \"limit\"",
    );
    let elements = with(|e| e[2]["properties"]["limit"] = json!(1.5));
    assert_refused(&elements, "a count limit is a whole number");
    let elements = with(|e| e[2]["properties"]["key"] = json!("user"));
    assert_refused(
        &elements,
        "elements[2].properties.key: element \"limit\": expected body.",
    );
    let elements = with(|e| {
        e[2]["properties"].as_object_mut().unwrap().remove("window");
    });
    assert_refused(
        &elements,
        "elements[2].properties.window: element \"limit\": is required",
    );
    let elements = with(|e| e[2]["properties"]["technique"] = json!("leaky"));
    assert_refused(&elements, "properties.technique");
    let elements = with(|e| e[2]["outputs"]["overflow"] = out("end"));
    assert_refused(
        &elements,
        "elements[2].outputs.overflow: element \"limit\": unknown output",
    );
}

#[test]
fn ids_types_and_every_problem_at_once() {
    let elements = with(|e| {
        e[1]["id"] = json!("big");
        e[8]["type"] = json!("finish");
        e[4]["properties"]["provider"] = json!("nope");
    });
    let errors = refused(&elements);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("element \"big\": the id is used by another")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("unknown type \"finish\"")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"nope\" is not a configured provider")),
        "{errors:#?}"
    );
    assert_refused(&json!({}), "elements: expected a list");
    assert_refused(&json!([]), "expected 1 to 100 elements");
    assert_refused(
        &json!([{"type": "end"}]),
        "elements[0].id: expected a string",
    );
}
