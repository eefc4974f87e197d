//! What an entry point (native, unified, universal) hands the execute phase: the upstream calls
//! to make, in order, or an answer that needs none.

use std::borrow::Cow;

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method};

use super::options::RequestOptions;
use crate::providers::Provider;

/// One request to one provider, ready to send.
pub struct UpstreamCall<'a> {
    pub provider: &'a Provider,
    pub method: Method,
    pub url: String,
    /// The provider path (no leading `/`) and query, as logged and as part of the cache key.
    pub path: Cow<'a, str>,
    pub query: Option<Cow<'a, str>>,
    /// The headers the log keeps (credentials are redacted there).
    pub logged_headers: Cow<'a, HeaderMap>,
    /// The headers sent upstream, already filtered.
    pub upstream_headers: HeaderMap,
    /// Shared, not copied, between attempts.
    pub body: Bytes,
    /// A universal step's own options (its headers and `config` over the request's).
    pub options: Option<RequestOptions>,
    /// Rewrites the accepted response for the client (the OpenAI-compatible endpoint).
    pub reshape: Option<Box<dyn Reshape + 'a>>,
    /// The universal endpoint's step index; a dynamic route's model call's index.
    pub step: Option<i64>,
    /// A dynamic route's budget elements the call passed (docs/routing.md): it reserves in
    /// them as in the gateway's spend limits, and its end record settles them.
    pub route_charges: Vec<(crate::budgets::Charge, String)>,
}

/// Chooses, from the accepted response's status, how its body is rewritten for the client.
pub trait Reshape: Send + Sync {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform>;
    /// The content type of the rewritten body; `None` keeps the provider's.
    fn content_type(&self, status: u16) -> Option<&'static str>;
    /// The client's own request body, when the body sent upstream is not it: the cache key is
    /// made from what the client asked, since the answer it gets depends on that (an OpenAI
    /// stream asked for usage by the gateway is answered without it, docs/compat.md).
    fn client_body(&self) -> Option<&Bytes> {
        None
    }
}

/// Rewrites a response body on its way to the client (the OpenAI-compatible endpoint). The
/// log, usage and cost still read the provider's own bytes.
pub trait BodyTransform: Send {
    fn push(&mut self, chunk: &[u8]) -> Bytes;
    /// Called once, when the upstream body ended normally.
    fn finish(&mut self) -> Bytes;
}

/// One of a plan's steps: a call, or (a universal request's step) a dynamic route.
#[expect(
    clippy::large_enum_variant,
    reason = "steps live in the plan's Vec; boxing the call, the common step, would cost an \
              allocation per request"
)]
pub enum Step<'a> {
    Call(UpstreamCall<'a>),
    Route(Box<super::routed::RoutedRequest>),
}

pub enum Plan<'a> {
    /// Send upstream. `fallback`: the calls are a universal request's steps, each tried once
    /// the one before it failed (at least one call).
    Upstream {
        calls: Vec<Step<'a>>,
        fallback: bool,
    },
    /// Answered by the gateway itself (the compat model list, a body the translation refused).
    Answered(Response),
    /// A dynamic route (docs/routing.md): its calls are decided while it runs, each model's
    /// fallback only once the model before it failed.
    Routed(Box<super::routed::RoutedRequest>),
}

impl<'a> Plan<'a> {
    pub fn one(call: UpstreamCall<'a>) -> Plan<'a> {
        Plan::Upstream {
            calls: vec![Step::Call(call)],
            fallback: false,
        }
    }
}
