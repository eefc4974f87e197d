//! Every operator, over each source (body, headers, metadata), with a missing field.

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::{Condition, Facts};

fn check(condition: Value) -> bool {
    let body = json!({
        "model": "dynamic/support",
        "temperature": 0.7,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "user": {"tier": "gold"},
    });
    let mut headers = HeaderMap::new();
    headers.insert("x-tier", HeaderValue::from_static("paid"));
    headers.insert("x-priority", HeaderValue::from_static("5"));
    let metadata = vec![
        ("plan".to_owned(), json!("free")),
        ("seats".to_owned(), json!(12)),
        ("beta".to_owned(), json!(true)),
    ];
    let facts = Facts {
        body: &body,
        headers: &headers,
        metadata: Some(&metadata),
    };
    Condition::parse(&condition)
        .unwrap_or_else(|why| panic!("{condition}: {why}"))
        .matches(&facts)
}

#[test]
fn eq_and_ne() {
    assert!(check(json!({"metadata.plan": {"$eq": "free"}})));
    assert!(
        check(json!({"metadata.plan": "free"})),
        "a bare value is $eq"
    );
    assert!(!check(json!({"metadata.plan": {"$eq": "paid"}})));
    assert!(check(json!({"metadata.plan": {"$ne": "paid"}})));
    assert!(!check(json!({"metadata.plan": {"$ne": "free"}})));
    assert!(check(json!({"metadata.beta": true})));
    assert!(
        check(json!({"body.max_tokens": {"$eq": 100.0}})),
        "numbers by value"
    );
    assert!(
        check(json!({"headers.x-priority": {"$eq": 5}})),
        "a numeric header"
    );
    assert!(
        check(json!({"body.user": {"tier": "gold"}})),
        "an object as a whole"
    );
    // A missing field is not equal to anything, and so is "not equal".
    assert!(!check(json!({"metadata.nope": {"$eq": null}})));
    assert!(check(json!({"metadata.nope": {"$ne": "x"}})));
}

#[test]
fn ordering_operators() {
    assert!(check(json!({"body.temperature": {"$gt": 0.5}})));
    assert!(!check(json!({"body.temperature": {"$gt": 0.7}})));
    assert!(check(json!({"body.temperature": {"$gte": 0.7}})));
    assert!(check(json!({"body.temperature": {"$lt": 1}})));
    assert!(!check(json!({"body.temperature": {"$lt": 0.7}})));
    assert!(check(json!({"body.temperature": {"$lte": 0.7}})));
    assert!(
        check(json!({"metadata.seats": {"$gte": 10, "$lt": 20}})),
        "a range"
    );
    assert!(!check(json!({"metadata.seats": {"$gte": 10, "$lt": 12}})));
    assert!(check(json!({"headers.x-priority": {"$gt": 3}})));
    assert!(
        check(json!({"metadata.plan": {"$gt": "basic"}})),
        "strings by characters"
    );
    // Different kinds do not compare; a missing field never does.
    assert!(!check(json!({"metadata.beta": {"$gt": 0}})));
    assert!(!check(json!({"metadata.nope": {"$lt": 10}})));
}

#[test]
fn in_nin_and_exists() {
    assert!(check(
        json!({"headers.x-tier": {"$in": ["paid", "enterprise"]}})
    ));
    assert!(!check(json!({"headers.x-tier": {"$in": ["free"]}})));
    assert!(check(json!({"headers.x-tier": {"$nin": ["free"]}})));
    assert!(!check(json!({"headers.x-tier": {"$nin": ["paid"]}})));
    assert!(check(json!({"metadata.nope": {"$nin": ["x"]}})));
    assert!(!check(json!({"metadata.nope": {"$in": ["x"]}})));
    assert!(
        check(json!({"body.messages.0.role": {"$exists": true}})),
        "array index"
    );
    assert!(check(json!({"body.messages.5": {"$exists": false}})));
    assert!(!check(json!({"headers.x-missing": {"$exists": true}})));
    assert!(
        check(json!({"headers.X-Tier": {"$exists": true}})),
        "header names ignore case"
    );
}

#[test]
fn and_or_and_several_fields() {
    assert!(check(
        json!({"$and": [{"metadata.plan": "free"}, {"headers.x-tier": "paid"}]})
    ));
    assert!(!check(
        json!({"$and": [{"metadata.plan": "free"}, {"headers.x-tier": "free"}]})
    ));
    assert!(check(
        json!({"$or": [{"metadata.plan": "paid"}, {"headers.x-tier": "paid"}]})
    ));
    assert!(!check(
        json!({"$or": [{"metadata.plan": "paid"}, {"headers.x-tier": "free"}]})
    ));
    assert!(check(
        json!({"metadata.plan": "free", "body.max_tokens": {"$lte": 100}})
    ));
    assert!(!check(
        json!({"metadata.plan": "free", "body.max_tokens": {"$lt": 100}})
    ));
    assert!(check(
        json!({"$or": [{"$and": [{"metadata.seats": 12}, {"metadata.beta": true}]},
                                 {"metadata.plan": "x"}]})
    ));
}

#[test]
fn bad_conditions_are_refused_naming_the_part() {
    for (condition, needle) in [
        (json!("free"), "must be an object"),
        (json!({}), "must not be empty"),
        (json!({"plan": "free"}), "plan: expected body."),
        (
            json!({"metadata.plan": {"$like": "f%"}}),
            "$like: unknown operator",
        ),
        (
            json!({"$not": [{"metadata.plan": "x"}]}),
            "$not: unknown operator",
        ),
        (
            json!({"$and": {"metadata.plan": "x"}}),
            "$and: expected a list",
        ),
        (json!({"$or": []}), "$or: expected at least one"),
        (
            json!({"metadata.plan": {"$in": "free"}}),
            "$in: expected a list",
        ),
        (
            json!({"metadata.seats": {"$gt": [1]}}),
            "$gt: expected a number or a string",
        ),
        (
            json!({"metadata.beta": {"$exists": "yes"}}),
            "$exists: expected true or false",
        ),
        (
            json!({"$and": [{"$or": [{"metadata.plan": {"$bad": 1}}]}]}),
            "$and[0]: $or[0]: metadata.plan: $bad",
        ),
    ] {
        let why = Condition::parse(&condition).unwrap_err();
        assert!(why.contains(needle), "{condition}: {why}");
    }
    let mut deep = json!({"metadata.plan": "x"});
    for _ in 0..20 {
        deep = json!({"$and": [deep]});
    }
    assert!(
        Condition::parse(&deep)
            .unwrap_err()
            .contains("nested deeper")
    );
}
