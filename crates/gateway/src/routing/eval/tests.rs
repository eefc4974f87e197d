//! Walking graphs: each element type, fallbacks, limits, and the split's statistics and
//! stickiness.

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use serde_json::{Value, json};

use super::{Limits, Stop, Walk};
use crate::routing::condition::Facts;
use crate::routing::graph::{Graph, LimitNode, parse};

fn out(id: &str) -> Value {
    json!({ "elementId": id })
}

fn graph(elements: Value) -> Graph {
    parse(&elements, &|_| true).unwrap()
}

/// Admits each (element, key) pair up to the element's limit, and remembers what it saw.
#[derive(Default)]
struct Counting {
    seen: Mutex<HashMap<(String, Option<String>), u32>>,
}

#[async_trait::async_trait]
impl Limits for Counting {
    async fn admit(&self, element_id: &str, node: &LimitNode, key: Option<&str>) -> bool {
        let mut seen = self.seen.lock().unwrap();
        let count = seen
            .entry((element_id.to_owned(), key.map(str::to_owned)))
            .or_default();
        if f64::from(*count) < node.limit {
            *count += 1;
            true
        } else {
            false
        }
    }
}

fn facts<'a>(
    body: &'a Value,
    headers: &'a HeaderMap,
    metadata: &'a [(String, Value)],
) -> Facts<'a> {
    Facts {
        body,
        headers,
        metadata: Some(metadata),
    }
}

/// The model ids a walk calls, failing each one, and how it ended.
async fn models_tried(
    graph: &Graph,
    metadata: &[(String, Value)],
    event: Option<&str>,
    limits: &dyn Limits,
) -> (Vec<String>, String) {
    let (body, headers) = (json!({}), HeaderMap::new());
    let facts = facts(&body, &headers, metadata);
    let mut walk = Walk::new(graph, event);
    let mut tried = Vec::new();
    loop {
        match walk.next(&facts, limits).await {
            Stop::Model(at, _) => {
                tried.push(graph.elements[at].id.clone());
                if !walk.failed(at) {
                    return (tried, "no fallback".into());
                }
            }
            Stop::End => return (tried, "end".into()),
            Stop::Limited(id) => return (tried, format!("limited by {id}")),
        }
    }
}

/// The first model a walk calls.
async fn first_model(graph: &Graph, metadata: &[(String, Value)], event: Option<&str>) -> String {
    let (body, headers) = (json!({}), HeaderMap::new());
    let facts = facts(&body, &headers, metadata);
    match Walk::new(graph, event)
        .next(&facts, &Counting::default())
        .await
    {
        Stop::Model(at, _) => graph.elements[at].id.clone(),
        other => panic!("{other:?}"),
    }
}

fn model(id: &str, fallback: Option<&str>) -> Value {
    let mut outputs = json!({"success": out("end")});
    if let Some(fallback) = fallback {
        outputs["fallback"] = out(fallback);
    }
    json!({"id": id, "type": "model", "properties": {"provider": "openai", "model": id},
           "outputs": outputs})
}

fn end() -> Value {
    json!({"id": "end", "type": "end"})
}

#[tokio::test]
async fn conditional_takes_true_or_false() {
    let graph = graph(json!([
        {"id": "s", "type": "start", "outputs": {"next": out("c")}},
        {"id": "c", "type": "conditional",
         "properties": {"conditions": {"metadata.plan": {"$eq": "paid"}}},
         "outputs": {"true": out("paid"), "false": out("free")}},
        model("paid", None), model("free", None), end(),
    ]));
    let paid = [("plan".to_owned(), json!("paid"))];
    assert_eq!(first_model(&graph, &paid, None).await, "paid");
    let free = [("plan".to_owned(), json!("free"))];
    assert_eq!(first_model(&graph, &free, None).await, "free");
    assert_eq!(first_model(&graph, &[], None).await, "free");
}

#[tokio::test]
async fn model_fallbacks_chain_and_the_path_is_recorded() {
    let graph = graph(json!([
        {"id": "s", "type": "start", "outputs": {"next": out("a")}},
        model("a", Some("b")), model("b", Some("c")), model("c", None), end(),
    ]));
    let (tried, ended) = models_tried(&graph, &[], None, &Counting::default()).await;
    assert_eq!(
        (tried, ended.as_str()),
        (vec!["a".into(), "b".into(), "c".into()], "no fallback")
    );
    let mut walk = Walk::new(&graph, None);
    let (body, headers) = (json!({}), HeaderMap::new());
    let facts = facts(&body, &headers, &[]);
    let Stop::Model(at, node) = walk.next(&facts, &Counting::default()).await else {
        panic!()
    };
    assert_eq!(node.model, "a");
    assert!(walk.can_fall_back(at));
    assert!(walk.failed(at));
    walk.next(&facts, &Counting::default()).await;
    assert_eq!(walk.path(), "s>a>b");
}

#[tokio::test]
async fn a_fallback_to_the_end_ends_without_a_model() {
    let graph = graph(json!([
        {"id": "s", "type": "start", "outputs": {"next": out("a")}},
        model("a", Some("end")), end(),
    ]));
    let (tried, ended) = models_tried(&graph, &[], None, &Counting::default()).await;
    assert_eq!((tried, ended.as_str()), (vec!["a".into()], "end"));
    // A start straight to the end has no model at all.
    let graph = super::super::graph::parse(
        &json!([{"id": "s", "type": "start", "outputs": {"next": out("end")}}, end()]),
        &|_| true,
    )
    .unwrap();
    let (tried, ended) = models_tried(&graph, &[], None, &Counting::default()).await;
    assert_eq!((tried.len(), ended.as_str()), (0, "end"));
}

#[tokio::test]
async fn a_limit_passes_then_falls_back_or_stops_per_key() {
    let limited = |fallback: bool| {
        let mut outputs = json!({"success": out("main")});
        if fallback {
            outputs["fallback"] = out("cheap");
        }
        graph(json!([
            {"id": "s", "type": "start", "outputs": {"next": out("quota")}},
            {"id": "quota", "type": "rate", "outputs": outputs,
             "properties": {"limitType": "count", "key": "metadata.user", "limit": 2, "window": 60}},
            model("main", None), model("cheap", None), end(),
        ]))
    };
    let with_fallback = limited(true);
    let limits = Counting::default();
    let alice = [("user".to_owned(), json!("alice"))];
    let bob = [("user".to_owned(), json!("bob"))];
    for _ in 0..2 {
        assert_eq!(
            models_tried(&with_fallback, &alice, None, &limits).await.0,
            ["main"]
        );
    }
    assert_eq!(
        models_tried(&with_fallback, &alice, None, &limits).await.0,
        ["cheap"]
    );
    // Another key has its own count.
    assert_eq!(
        models_tried(&with_fallback, &bob, None, &limits).await.0,
        ["main"]
    );

    let without = limited(false);
    let limits = Counting::default();
    for _ in 0..2 {
        assert_eq!(
            models_tried(&without, &alice, None, &limits).await.0,
            ["main"]
        );
    }
    let (tried, ended) = models_tried(&without, &alice, None, &limits).await;
    assert_eq!((tried.len(), ended.as_str()), (0, "limited by quota"));
}

#[tokio::test]
async fn a_limit_behind_a_fallback_counts_only_requests_that_reach_it() {
    let graph = graph(json!([
        {"id": "s", "type": "start", "outputs": {"next": out("a")}},
        model("a", Some("quota")),
        {"id": "quota", "type": "rate", "outputs": {"success": out("b")},
         "properties": {"limitType": "count", "limit": 1, "window": 60}},
        model("b", None), end(),
    ]));
    let limits = Counting::default();
    let (body, headers) = (json!({}), HeaderMap::new());
    let facts = facts(&body, &headers, &[]);
    // Ten requests whose first model answers never reach the limit.
    for _ in 0..10 {
        assert!(matches!(
            Walk::new(&graph, None).next(&facts, &limits).await,
            Stop::Model(_, _)
        ));
    }
    assert!(limits.seen.lock().unwrap().is_empty());
    assert_eq!(models_tried(&graph, &[], None, &limits).await.0, ["a", "b"]);
    let (tried, ended) = models_tried(&graph, &[], None, &limits).await;
    assert_eq!(
        (tried, ended.as_str()),
        (vec!["a".into()], "limited by quota")
    );
}

fn split(else_too: bool) -> Graph {
    let outputs = if else_too {
        json!({"20%": out("a"), "30%": out("b"), "else": out("c")})
    } else {
        json!({"20%": out("a"), "30%": out("b"), "50%": out("c")})
    };
    graph(json!([
        {"id": "s", "type": "start", "outputs": {"next": out("p")}},
        {"id": "p", "type": "percentage", "outputs": outputs},
        model("a", None), model("b", None), model("c", None), end(),
    ]))
}

/// Counts of each branch over 1,000 event ids.
async fn tally(graph: &Graph, event: impl Fn(usize) -> Option<String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..1000 {
        *counts
            .entry(first_model(graph, &[], event(i).as_deref()).await)
            .or_default() += 1;
    }
    counts
}

/// Each share within 4.5 standard deviations of its expectation (binomial, n = 1,000): a
/// correct split fails this about once in 100,000 runs; the hashed draws never vary.
fn within_bounds(counts: &HashMap<String, usize>, shares: &[(&str, f64)]) {
    for (branch, p) in shares {
        let expected = 1000.0 * p;
        let sd = (1000.0 * p * (1.0 - p)).sqrt();
        let got = f64::from(u32::try_from(counts.get(*branch).copied().unwrap_or(0)).unwrap());
        assert!(
            (got - expected).abs() <= 4.5 * sd,
            "{branch}: {got} of 1000, expected {expected} ± {}",
            4.5 * sd
        );
    }
}

#[tokio::test]
async fn a_split_by_event_id_is_within_bounds_and_sticky() {
    for else_too in [false, true] {
        let graph = split(else_too);
        let counts = tally(&graph, |i| Some(format!("event-{i}"))).await;
        within_bounds(&counts, &[("a", 0.2), ("b", 0.3), ("c", 0.5)]);
        // The same id takes the same branch, every time.
        for i in (0..1000).step_by(37) {
            let id = format!("event-{i}");
            let first = first_model(&graph, &[], Some(&id)).await;
            for _ in 0..5 {
                assert_eq!(first_model(&graph, &[], Some(&id)).await, first);
            }
        }
    }
}

#[tokio::test]
async fn a_split_without_an_event_id_is_random_within_bounds() {
    let graph = split(true);
    let counts = tally(&graph, |_| None).await;
    within_bounds(&counts, &[("a", 0.2), ("b", 0.3), ("c", 0.5)]);
}
