//! A route version's graph (docs/routing.md): its `elements` read into typed nodes and checked
//! as a whole when the version is saved. Every problem is reported at once, each naming the
//! element (its id and position) and the field. A graph that parses here is safe to walk: one
//! start, every output pointing at an element, no cycle, percentages that add up.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::condition::{Condition, Field};
use crate::gateways::bounds::{self, Bound};
use crate::gateways::{FieldError, RateLimitTechnique};

/// Elements one version may have.
pub const MAX_ELEMENTS: usize = 100;
/// Characters of an element id.
pub const MAX_ID_CHARS: usize = 64;
/// Weighted outputs of one percentage element (besides `else`).
pub const MAX_SPLITS: usize = 5;
/// A limit element's window.
pub const WINDOW_S: Bound = Bound::new(1, 31_536_000, "seconds");
/// A model element's retries (the attempts are one more, at most the gateway's maximum of 5).
pub const RETRIES: Bound = Bound::new(0, 4, "");

/// Characters of a model element's `provider` and `model`.
pub const MAX_NAME_CHARS: usize = 256;

/// Hundredths of a percent: a split of 100 % is 10,000.
pub const WHOLE: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct Graph {
    pub elements: Vec<Element>,
    /// The start element's index.
    pub start: usize,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Start {
        next: usize,
    },
    Conditional {
        condition: Condition,
        then: usize,
        otherwise: usize,
    },
    Percentage {
        /// Each output's share in hundredths of a percent, in the order written.
        splits: Vec<(u32, usize)>,
        /// `else`: what the shares leave.
        rest: Option<usize>,
    },
    Model(ModelNode),
    Limit(LimitNode),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelNode {
    pub provider: String,
    pub model: String,
    pub timeout_ms: Option<u64>,
    pub retries: Option<u8>,
    /// Where the answer goes (an end element), if written.
    pub success: Option<usize>,
    /// Where to go when the model fails (after its retries, or its timeout).
    pub fallback: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitType {
    /// Requests.
    Count,
    /// USD spent.
    Cost,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LimitNode {
    pub limit_type: LimitType,
    /// `metadata.user`, `headers.x-team`, `body.user`: a counter per value; `None`: one for
    /// every request.
    pub key: Option<Field>,
    pub limit: f64,
    pub window_s: u64,
    pub technique: RateLimitTechnique,
    pub success: usize,
    pub fallback: Option<usize>,
}

/// Checks a version's `elements`. `provider_exists` says whether a model element's provider is
/// configured.
pub fn parse(
    elements: &Value,
    provider_exists: &dyn Fn(&str) -> bool,
) -> Result<Graph, Vec<FieldError>> {
    let Value::Array(items) = elements else {
        return Err(vec![error("elements", "expected a list of elements")]);
    };
    if items.is_empty() || items.len() > MAX_ELEMENTS {
        return Err(vec![error(
            "elements",
            format!("expected 1 to {MAX_ELEMENTS} elements"),
        )]);
    }
    let mut errors = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (at, item) in items.iter().enumerate() {
        match item.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && id.chars().count() <= MAX_ID_CHARS => {
                if index.insert(id, at).is_some() {
                    errors.push(error(
                        format!("elements[{at}].id"),
                        format!("element \"{id}\": the id is used by another element"),
                    ));
                }
            }
            _ => errors.push(error(
                format!("elements[{at}].id"),
                format!("expected a string of 1 to {MAX_ID_CHARS} characters"),
            )),
        }
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (at, item) in items.iter().enumerate() {
        let mut reader = Reader {
            at,
            id: item.get("id").and_then(Value::as_str).unwrap_or(""),
            item,
            index: &index,
            errors: &mut errors,
        };
        if let Some(element) = reader.element(provider_exists) {
            parsed.push(element);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let starts: Vec<usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, Kind::Start { .. }))
        .map(|(at, _)| at)
        .collect();
    let [start] = starts[..] else {
        return Err(vec![error(
            "elements",
            format!("expected exactly one start element, found {}", starts.len()),
        )]);
    };
    let graph = Graph {
        elements: parsed,
        start,
    };
    graph.check_shape()?;
    Ok(graph)
}

fn error(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// One element being read, collecting its problems.
struct Reader<'r> {
    at: usize,
    id: &'r str,
    item: &'r Value,
    index: &'r HashMap<&'r str, usize>,
    errors: &'r mut Vec<FieldError>,
}

impl Reader<'_> {
    fn fail(&mut self, field: &str, message: impl std::fmt::Display) {
        self.errors.push(error(
            format!("elements[{}].{field}", self.at),
            format!("element \"{}\": {message}", self.id),
        ));
    }

    fn element(&mut self, provider_exists: &dyn Fn(&str) -> bool) -> Option<Element> {
        let before = self.errors.len();
        let Some(kind) = self.item.get("type").and_then(Value::as_str) else {
            self.fail(
                "type",
                "expected start, conditional, percentage, model, rate or end",
            );
            return None;
        };
        let empty = Map::new();
        let properties = match self.item.get("properties") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.fail("properties", "expected an object");
                &empty
            }
        };
        let outputs = match self.item.get("outputs") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.fail("outputs", "expected an object");
                &empty
            }
        };
        let kind = match kind {
            "start" => self.only_outputs(outputs, &["next"]).then(|| Kind::Start {
                next: self.output(outputs, "next", true).unwrap_or(0),
            }),
            "conditional" => self.conditional(properties, outputs),
            "percentage" => self.percentage(outputs),
            "model" => self.model(properties, outputs, provider_exists),
            // Cloudflare's documentation says `rate_limit`, its API schema `rate`.
            "rate" | "rate_limit" => self.limit(properties, outputs),
            "end" => Some(Kind::End),
            other => {
                self.fail(
                    "type",
                    format!(
                        "unknown type \"{other}\" (expected start, conditional, percentage, \
                         model, rate or end)"
                    ),
                );
                None
            }
        };
        (self.errors.len() == before).then(|| Element {
            id: self.id.to_owned(),
            kind: kind.unwrap_or(Kind::End),
        })
    }

    /// Refuses outputs other than `known`.
    fn only_outputs(&mut self, outputs: &Map<String, Value>, known: &[&str]) -> bool {
        let mut fine = true;
        for name in outputs.keys() {
            if !known.contains(&name.as_str()) {
                self.fail(
                    &format!("outputs.{name}"),
                    format!("unknown output (expected {})", known.join(", ")),
                );
                fine = false;
            }
        }
        fine
    }

    /// The element an output points at: `{"elementId": "<id>"}`.
    fn output(
        &mut self,
        outputs: &Map<String, Value>,
        name: &str,
        required: bool,
    ) -> Option<usize> {
        let Some(output) = outputs.get(name) else {
            if required {
                self.fail(&format!("outputs.{name}"), "is required");
            }
            return None;
        };
        let Some(target) = output.get("elementId").and_then(Value::as_str) else {
            self.fail(
                &format!("outputs.{name}"),
                "expected {\"elementId\": \"<id of an element>\"}",
            );
            return None;
        };
        match self.index.get(target) {
            Some(&at) => Some(at),
            None => {
                self.fail(
                    &format!("outputs.{name}.elementId"),
                    format!("points to \"{target}\", which is not an element of this version"),
                );
                None
            }
        }
    }

    fn conditional(
        &mut self,
        properties: &Map<String, Value>,
        outputs: &Map<String, Value>,
    ) -> Option<Kind> {
        // The API schema says `conditions`, the documentation `condition`.
        let (field, value) = match (properties.get("conditions"), properties.get("condition")) {
            (Some(value), _) => ("conditions", value),
            (None, Some(value)) => ("condition", value),
            (None, None) => {
                self.fail("properties.conditions", "is required");
                return None;
            }
        };
        let condition = Condition::parse(value)
            .map_err(|why| self.fail(&format!("properties.{field}"), why))
            .ok();
        self.only_outputs(outputs, &["true", "false"]);
        let then = self.output(outputs, "true", true);
        let otherwise = self.output(outputs, "false", true);
        Some(Kind::Conditional {
            condition: condition?,
            then: then?,
            otherwise: otherwise?,
        })
    }

    fn percentage(&mut self, outputs: &Map<String, Value>) -> Option<Kind> {
        let mut splits = Vec::new();
        let mut rest = None;
        let mut total: u32 = 0;
        for name in outputs.keys() {
            if name == "else" {
                rest = self.output(outputs, "else", true);
                continue;
            }
            match share(name) {
                Some(share) => {
                    total = total.saturating_add(share);
                    if let Some(target) = self.output(outputs, name, true) {
                        splits.push((share, target));
                    }
                }
                None => self.fail(
                    &format!("outputs.{name}"),
                    "expected a share such as \"25%\" (up to two decimals, above 0), optionally \
                     followed by a label (\"50% b\"), or \"else\"",
                ),
            }
        }
        if splits.len() > MAX_SPLITS {
            self.fail(
                "outputs",
                format!("at most {MAX_SPLITS} shares besides else"),
            );
        }
        let has_else = outputs.contains_key("else");
        if !has_else && total != WHOLE {
            self.fail(
                "outputs",
                format!(
                    "the shares add up to {}%; without else they must total exactly 100%",
                    shown(total)
                ),
            );
        } else if has_else && total > WHOLE {
            self.fail(
                "outputs",
                format!("the shares add up to {}%, more than 100%", shown(total)),
            );
        }
        Some(Kind::Percentage { splits, rest })
    }

    fn model(
        &mut self,
        properties: &Map<String, Value>,
        outputs: &Map<String, Value>,
        provider_exists: &dyn Fn(&str) -> bool,
    ) -> Option<Kind> {
        let provider = self.text(properties, "provider");
        let model = self.text(properties, "model");
        if let Some(slug) = &provider
            && !provider_exists(slug)
        {
            self.fail(
                "properties.provider",
                format!("\"{slug}\" is not a configured provider"),
            );
        }
        let timeout_ms = self.number(properties, "timeout", bounds::REQUEST_TIMEOUT_MS);
        let retries = self
            .number(properties, "retries", RETRIES)
            .and_then(|n| u8::try_from(n).ok());
        self.only_outputs(outputs, &["success", "fallback"]);
        let success = self.output(outputs, "success", false);
        let fallback = self.output(outputs, "fallback", false);
        Some(Kind::Model(ModelNode {
            provider: provider?,
            model: model?,
            timeout_ms,
            retries,
            success,
            fallback,
        }))
    }

    fn limit(
        &mut self,
        properties: &Map<String, Value>,
        outputs: &Map<String, Value>,
    ) -> Option<Kind> {
        let limit_type = match properties.get("limitType").and_then(Value::as_str) {
            Some("count") => Some(LimitType::Count),
            Some("cost") => Some(LimitType::Cost),
            _ => {
                self.fail("properties.limitType", "expected \"count\" or \"cost\"");
                None
            }
        };
        let key = match properties.get("key") {
            None | Some(Value::Null) => None,
            Some(Value::String(key)) if key.is_empty() => None,
            Some(Value::String(key)) => match Field::parse(key) {
                Ok(field) => Some(field),
                Err(why) => {
                    self.fail("properties.key", why);
                    None
                }
            },
            Some(_) => {
                self.fail("properties.key", "expected a string");
                None
            }
        };
        let limit = match properties.get("limit").and_then(Value::as_f64) {
            Some(limit) if limit.is_finite() && limit >= 0.0 => Some(limit),
            _ => {
                self.fail("properties.limit", "expected a number of 0 or more");
                None
            }
        };
        if let (Some(LimitType::Count), Some(limit)) = (limit_type, limit)
            && (limit.fract() != 0.0 || limit > f64::from(u32::MAX))
        {
            self.fail(
                "properties.limit",
                "a count limit is a whole number of requests",
            );
        }
        // The API schema says `window`, the documentation `interval`.
        let window_field = if properties.contains_key("window") {
            "window"
        } else {
            "interval"
        };
        let window_s = match properties.get(window_field) {
            None => {
                self.fail("properties.window", "is required (seconds)");
                None
            }
            Some(_) => self.number(properties, window_field, WINDOW_S),
        };
        let technique = match properties.get("technique").and_then(Value::as_str) {
            None => Some(RateLimitTechnique::Fixed),
            Some("fixed") => Some(RateLimitTechnique::Fixed),
            Some("sliding") => Some(RateLimitTechnique::Sliding),
            Some(_) => {
                self.fail("properties.technique", "expected \"fixed\" or \"sliding\"");
                None
            }
        };
        self.only_outputs(outputs, &["success", "fallback"]);
        let success = self.output(outputs, "success", true);
        let fallback = self.output(outputs, "fallback", false);
        Some(Kind::Limit(LimitNode {
            limit_type: limit_type?,
            key,
            limit: limit?,
            window_s: window_s?,
            technique: technique?,
            success: success?,
            fallback,
        }))
    }

    fn text(&mut self, properties: &Map<String, Value>, name: &str) -> Option<String> {
        match properties.get(name).and_then(Value::as_str) {
            Some(text) if !text.is_empty() && text.chars().count() <= MAX_NAME_CHARS => {
                Some(text.to_owned())
            }
            _ => {
                self.fail(
                    &format!("properties.{name}"),
                    format!("expected a string of 1 to {MAX_NAME_CHARS} characters"),
                );
                None
            }
        }
    }

    /// An optional whole number within `bound`.
    fn number(&mut self, properties: &Map<String, Value>, name: &str, bound: Bound) -> Option<u64> {
        let value = properties.get(name)?;
        match whole(value) {
            Some(n) if bound.contains(n) => Some(n),
            _ => {
                self.fail(&format!("properties.{name}"), bound.must_be());
                None
            }
        }
    }
}

/// A whole number, written `30` or `30.0` (SDKs send numbers as floats).
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let n = value.as_f64()?;
        // Below 2^53 every whole f64 is exact.
        (n.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&n)).then(|| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a whole, non-negative number below 2^53"
            )]
            let n = n as u64;
            n
        })
    })
}

/// `"25%"`, `"12.5%"`, `"50% b"` (a label after the share, so two equal shares can both be
/// written: JSON keys are unique) → hundredths of a percent.
fn share(name: &str) -> Option<u32> {
    let (number, _label) = name.split_once('%')?;
    let number = number.trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    let share = whole.checked_mul(100)?.checked_add(fraction)?;
    (share > 0 && share <= WHOLE).then_some(share)
}

/// Hundredths of a percent as written.
fn shown(share: u32) -> String {
    if share.is_multiple_of(100) {
        (share / 100).to_string()
    } else {
        format!("{}.{:02}", share / 100, share % 100)
    }
}

impl Graph {
    /// The outputs of element `at`.
    pub fn outputs(&self, at: usize) -> Vec<usize> {
        match &self.elements[at].kind {
            Kind::Start { next } => vec![*next],
            Kind::Conditional {
                then, otherwise, ..
            } => vec![*then, *otherwise],
            Kind::Percentage { splits, rest } => {
                splits.iter().map(|(_, to)| *to).chain(*rest).collect()
            }
            Kind::Model(model) => model.success.into_iter().chain(model.fallback).collect(),
            Kind::Limit(limit) => std::iter::once(limit.success)
                .chain(limit.fallback)
                .collect(),
            Kind::End => Vec::new(),
        }
    }

    /// No cycle (a walk always ends), nothing points back at the start, and a model's
    /// `success` leads to an end.
    fn check_shape(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (at, element) in self.elements.iter().enumerate() {
            // A model's success is the answer: it can only lead to the end.
            if let Kind::Model(ModelNode {
                success: Some(to), ..
            }) = element.kind
                && !matches!(self.elements[to].kind, Kind::End)
            {
                errors.push(error(
                    format!("elements[{at}].outputs.success"),
                    format!(
                        "element \"{}\": must point to an end element (a model's success is \
                         the answer)",
                        element.id
                    ),
                ));
            }
            if self.outputs(at).contains(&self.start) {
                errors.push(error(
                    format!("elements[{at}].outputs"),
                    format!(
                        "element \"{}\": an output points to the start element",
                        element.id
                    ),
                ));
            }
        }
        // Depth-first search with colours: grey on the stack, black done.
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let mut colour = vec![Colour::White; self.elements.len()];
        for root in 0..self.elements.len() {
            if colour[root] != Colour::White {
                continue;
            }
            let mut stack = vec![(root, 0usize)];
            colour[root] = Colour::Grey;
            while let Some((at, next)) = stack.pop() {
                let outputs = self.outputs(at);
                if let Some(&to) = outputs.get(next) {
                    stack.push((at, next + 1));
                    match colour[to] {
                        Colour::White => {
                            colour[to] = Colour::Grey;
                            stack.push((to, 0));
                        }
                        Colour::Grey => {
                            errors.push(error(
                                format!("elements[{at}].outputs"),
                                format!(
                                    "element \"{}\": an output to \"{}\" closes a cycle",
                                    self.elements[at].id, self.elements[to].id
                                ),
                            ));
                            return Err(errors);
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[at] = Colour::Black;
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests;
