//! Walking a deployed version's graph for one request (docs/routing.md): from the start through
//! conditions, splits and limits to a model element, whose call the proxy makes; when that
//! call fails, on from the model's `fallback`. Limits are counted when the walk reaches them,
//! so a limit behind a fallback counts only the requests that fell back to it.

use sha2::{Digest, Sha256};

use super::condition::{Facts, Field};
use super::graph::{Graph, Kind, LimitNode, ModelNode, WHOLE};

/// Decides whether a request passes a limit element (the rate limiter or the spend ledger,
/// keyed per route, element and key value); tests give a fake.
#[async_trait::async_trait]
pub trait Limits: Send + Sync {
    /// `true`: under the limit (and counted); `false`: limited.
    async fn admit(&self, element_id: &str, node: &LimitNode, key_value: Option<&str>) -> bool;
}

/// Where a walk stopped.
#[derive(Debug, PartialEq)]
pub enum Stop<'g> {
    /// Call this model (the element's index and node).
    Model(usize, &'g ModelNode),
    /// The end, with no (further) model: the last model's answer stands, or none.
    End,
    /// A limit element without `fallback` limited the request (its id).
    Limited(&'g str),
}

/// One request's walk through one graph.
pub struct Walk<'g> {
    graph: &'g Graph,
    /// Where the walk continues from.
    at: Option<usize>,
    /// The ids of the elements passed, in order (the log's path).
    path: Vec<&'g str>,
    /// The split's draw: the request's event id, hashed, when it sent one.
    event_id: Option<String>,
    /// The last limit element that sent the request to its fallback.
    limited: Option<&'g str>,
}

impl<'g> Walk<'g> {
    pub fn new(graph: &'g Graph, event_id: Option<&str>) -> Walk<'g> {
        Walk {
            graph,
            at: Some(graph.start),
            path: Vec::new(),
            event_id: event_id.map(str::to_owned),
            limited: None,
        }
    }

    /// The last limit element that sent the request to its fallback, if one did.
    pub fn limited_by(&self) -> Option<&'g str> {
        self.limited
    }

    /// The elements passed so far, `>`-separated.
    pub fn path(&self) -> String {
        self.path.join(">")
    }

    /// Walks on to the next model, the end, or a limit.
    pub async fn next(&mut self, facts: &Facts<'_>, limits: &dyn Limits) -> Stop<'g> {
        // A graph has no cycle, so a walk passes each element at most once.
        for _ in 0..=self.graph.elements.len() {
            let Some(at) = self.at else { return Stop::End };
            let element = &self.graph.elements[at];
            self.path.push(&element.id);
            self.at = match &element.kind {
                Kind::Start { next } => Some(*next),
                Kind::Conditional {
                    condition,
                    then,
                    otherwise,
                } => Some(if condition.matches(facts) {
                    *then
                } else {
                    *otherwise
                }),
                Kind::Percentage { splits, rest } => {
                    let draw = self.draw(&element.id);
                    pick(splits, *rest, draw)
                }
                Kind::Limit(node) => {
                    let key = node.key.as_ref().and_then(|key| key_value(key, facts));
                    if limits.admit(&element.id, node, key.as_deref()).await {
                        Some(node.success)
                    } else if let Some(fallback) = node.fallback {
                        self.limited = Some(&element.id);
                        Some(fallback)
                    } else {
                        self.at = None;
                        return Stop::Limited(&element.id);
                    }
                }
                Kind::Model(node) => {
                    // Resumed by `failed` (its fallback) or never.
                    self.at = None;
                    return Stop::Model(at, node);
                }
                Kind::End => {
                    self.at = None;
                    return Stop::End;
                }
            };
        }
        Stop::End
    }

    /// The model at `at` failed: the walk goes on from its fallback; `false` when it has none.
    pub fn failed(&mut self, at: usize) -> bool {
        match &self.graph.elements[at].kind {
            Kind::Model(ModelNode {
                fallback: Some(next),
                ..
            }) => {
                self.at = Some(*next);
                true
            }
            _ => false,
        }
    }

    /// Whether the model at `at` has somewhere to fall back to.
    pub fn can_fall_back(&self, at: usize) -> bool {
        matches!(
            &self.graph.elements[at].kind,
            Kind::Model(ModelNode {
                fallback: Some(_),
                ..
            })
        )
    }

    /// A number in `0..WHOLE`: from the event id when the request sent one (the same id takes
    /// the same branch every time: sticky A/B tests), otherwise random.
    fn draw(&self, element_id: &str) -> u32 {
        let bits = match &self.event_id {
            Some(event_id) => {
                let digest = Sha256::new()
                    .chain_update(element_id.as_bytes())
                    .chain_update([0u8])
                    .chain_update(event_id.as_bytes())
                    .finalize();
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest[..8]);
                u64::from_be_bytes(first)
            }
            None => random_u64(),
        };
        u32::try_from(bits % u64::from(WHOLE)).unwrap_or(0)
    }
}

/// The branch a draw in `0..WHOLE` falls in: the shares in the order written, then `else`.
fn pick(splits: &[(u32, usize)], rest: Option<usize>, draw: u32) -> Option<usize> {
    let mut below = 0u32;
    for (share, to) in splits {
        below = below.saturating_add(*share);
        if draw < below {
            return Some(*to);
        }
    }
    // Shares that total 100 % leave nothing here; with `else`, the rest goes there.
    rest.or_else(|| splits.last().map(|(_, to)| *to))
}

/// The value of a limit's key (`metadata.user`, …) as text, if the request has it.
fn key_value(key: &Field, facts: &Facts<'_>) -> Option<String> {
    key.read(facts).map(|value| match value.as_ref() {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // A failing system random source is not worth failing a request over: the first branch.
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests;
