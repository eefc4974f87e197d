//! A dynamic route (docs/routing.md): `model: "dynamic/{route}"` on the unified endpoint's
//! chat completions, Responses and Messages, or in a universal request's `compat` step. The
//! route's live version is walked for the request; each model element it reaches is one
//! upstream call (the client's request in its API, translated for the element's provider,
//! with the gateway's stored key, its own timeout and retries), and a failed call continues
//! the walk from the model's `fallback`. The calls share the request's event id, each a log
//! row with its index as `step` (a universal step's index in a universal request) and the
//! route, version and path taken in its metadata (`cf.route`, `cf.route_version`,
//! `cf.route_path`).

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::attempts::Delivery;
use super::compat::CompatApi;
use super::context::RequestContext;
use super::execute::one_call;
use super::headers::{MODEL, PROVIDER, ROUTE, ROUTE_VERSION, STEP};
use super::options::RequestOptions;
use super::plan::{Plan, UpstreamCall};
use crate::error::{ErrorCode, GatewayError};
use crate::routing::Deployed;
use crate::routing::condition::Facts;
use crate::routing::eval::{Stop, Walk};
use crate::routing::graph::ModelNode;
use crate::routing::limits::StateLimits;
use crate::suggest::shown;

/// A request for a route, until it runs.
pub struct RoutedRequest {
    route: Arc<Deployed>,
    /// The client's body, in `api`'s shape.
    body: Value,
    api: CompatApi,
    /// The client's headers (conditions read them; each call's are made from them).
    headers: HeaderMap,
    /// A universal step's own options (its headers and `config` over the request's).
    pub options: Option<RequestOptions>,
    /// A universal step's index, every call's row's `step`; `None`: the call's index in the
    /// route.
    step: Option<i64>,
}

/// The route `name` of the request's gateway, or 404 (2050) naming it.
pub fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    name: &str,
    body: Value,
    api: CompatApi,
) -> Result<Plan<'a>, GatewayError> {
    let request = request(ctx, name, body, api, parts.headers.clone())?;
    Ok(Plan::Routed(Box::new(request)))
}

/// [`plan`]'s request, for a universal step (index `step`, with the step's own `headers`).
pub fn request(
    ctx: &RequestContext<'_>,
    name: &str,
    body: Value,
    api: CompatApi,
    headers: HeaderMap,
) -> Result<RoutedRequest, GatewayError> {
    let gateway = &ctx.gateway;
    let route = ctx
        .state
        .routes()
        .named(&gateway.account_id, &gateway.id, name)
        .ok_or_else(|| {
            GatewayError::new(
                ErrorCode::RouteNotFound,
                format!(
                    "Route not found: gateway {:?} has no route named {:?}; create it under \
                     /client/v4/accounts/{}/ai-gateway/gateways/{}/routes",
                    gateway.id,
                    shown(name),
                    gateway.account_id,
                    gateway.id
                ),
            )
        })?;
    Ok(RoutedRequest {
        route,
        body,
        api,
        headers,
        options: None,
        step: None,
    })
}

impl RoutedRequest {
    /// The request as universal step `index`, with the step's own options.
    pub fn into_step(mut self, index: usize, options: RequestOptions) -> RoutedRequest {
        self.step = Some(i64::try_from(index).unwrap_or(i64::MAX));
        self.options = Some(options);
        self
    }
}

/// Walks the route and makes its calls until one answers, the walk ends, or a limit refuses.
pub async fn execute(
    ctx: &mut RequestContext<'_>,
    request: RoutedRequest,
) -> Result<Response, GatewayError> {
    let options = ctx.options.clone();
    match run(ctx, request, &options, true, true).await? {
        Delivery::Delivered(response) => Ok(response),
        Delivery::Refused {
            answer: Some(answer),
            ..
        } => Ok(answer),
        Delivery::Refused {
            answer: None,
            failure,
        } => Err(failure),
    }
}

/// [`execute`] as one of a universal request's steps, over `options` (the request's with the
/// step's). `opens`: the request's first step (its first call has the request's log id).
/// `is_last`: the request's last step, whose route's last model's answer is the response
/// whatever its status; before it, a route that did not answer 2xx is refused, and the next
/// step runs.
pub async fn run(
    ctx: &mut RequestContext<'_>,
    request: RoutedRequest,
    options: &RequestOptions,
    opens: bool,
    is_last: bool,
) -> Result<Delivery, GatewayError> {
    let route = request.route.clone();
    let Some(graph) = route.graph.clone() else {
        return Err(GatewayError::internal());
    };
    let stored = &route.row.route;
    let facts = Facts {
        body: &request.body,
        headers: &request.headers,
        metadata: options.metadata.as_deref(),
    };
    let limits = StateLimits::new(
        ctx.state,
        &stored.account_id,
        &stored.gateway_id,
        &stored.id,
    );
    let refused = |answer: Option<Response>, failure: GatewayError| Delivery::Refused {
        answer,
        failure: failure
            .with_header(ROUTE, &stored.name)
            .with_header(ROUTE_VERSION, &route.row.version.id),
    };
    let mut walk = Walk::new(&graph, options.event_id.as_deref());
    // The last failed call: its answer (if it had one), its error, its model and index.
    let mut last: Option<(Option<Response>, GatewayError, &ModelNode, usize)> = None;
    let mut index: usize = 0;
    loop {
        let (at, node) = match walk.next(&facts, &limits).await {
            Stop::Model(at, node) => (at, node),
            Stop::Limited(element) => return Ok(refused(None, limited(&route, element))),
            Stop::End => {
                return Ok(match (last, walk.limited_by()) {
                    // The end answers with the last model's answer (every one failed).
                    (Some((answer, failure, node, index)), _) => refused(
                        answer.map(|answer| marked(answer, &route, Some((node, index)))),
                        failure,
                    ),
                    (None, Some(element)) => refused(None, limited(&route, element)),
                    (None, None) => refused(
                        None,
                        GatewayError::new(
                            ErrorCode::UpstreamFailed,
                            format!(
                                "Route {:?} reached its end without calling a model",
                                stored.name
                            ),
                        ),
                    ),
                });
            }
        };
        let (call, call_options) =
            model_call(ctx, &request, options, node, index, &walk.path(), &limits)?;
        let route_last = !walk.can_fall_back(at);
        let first_id = match (opens, index) {
            (true, 0) => ctx.log_id,
            _ => uuid::Uuid::now_v7(),
        };
        ctx.provider.clone_from(&call.provider.slug);
        let answered = (node, index);
        let accepts_any = route_last && is_last;
        match one_call(ctx, call, &call_options, first_id, true, accepts_any).await? {
            Delivery::Delivered(response) => {
                return Ok(Delivery::Delivered(marked(
                    response,
                    &route,
                    Some(answered),
                )));
            }
            Delivery::Refused { answer, failure } if route_last => {
                let answer = answer.map(|answer| marked(answer, &route, Some(answered)));
                return Ok(refused(answer, failure));
            }
            Delivery::Refused { answer, failure } => {
                last = Some((answer, failure, node, index));
                walk.failed(at);
                index += 1;
            }
        }
    }
}

/// 429, code 2003: a limit element without a fallback refused the request.
fn limited(route: &Deployed, element: &str) -> GatewayError {
    GatewayError::new(
        ErrorCode::RateLimited,
        format!(
            "Rate limited by route {:?}: element {:?} is at its limit",
            route.row.route.name, element
        ),
    )
    .with_header(ROUTE, &route.row.route.name)
    .with_header(ROUTE_VERSION, &route.row.version.id)
}

/// One model element's call: the client's body for the element's provider and model, its
/// timeout and retries, and the route's facts in the row's metadata.
fn model_call<'a>(
    ctx: &RequestContext<'a>,
    request: &RoutedRequest,
    options: &RequestOptions,
    node: &ModelNode,
    index: usize,
    path: &str,
    limits: &StateLimits<'_>,
) -> Result<(UpstreamCall<'a>, RequestOptions), GatewayError> {
    let provider = ctx.providers.named(&node.provider)?;
    // The cache key is made from this body: the model written in it keeps the answers of two
    // models of one route apart.
    let mut body = request.body.clone();
    body["model"] = Value::String(format!("{}/{}", node.provider, node.model));
    let client_body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let mut call = super::compat::model_call(
        ctx,
        request.api,
        &request.headers,
        provider,
        node.model.clone(),
        body,
        client_body,
    )?
    .map_err(|error| GatewayError::new(ErrorCode::InvalidBody, error.to_string()))?;
    call.step = Some(
        request
            .step
            .unwrap_or_else(|| i64::try_from(index).unwrap_or(i64::MAX)),
    );
    call.route_charges = limits.passed();
    let route = &request.route.row;
    let mut metadata = options.metadata.clone().unwrap_or_default();
    metadata.extend([
        (
            crate::routing::ROUTE_KEY.to_owned(),
            Value::String(route.route.name.clone()),
        ),
        (
            "cf.route_version".to_owned(),
            Value::String(route.version.id.clone()),
        ),
        ("cf.route_path".to_owned(), Value::String(path.to_owned())),
    ]);
    let own = RequestOptions {
        request_timeout: node.timeout_ms.map(Duration::from_millis),
        max_attempts: node.retries.map(|retries| retries.saturating_add(1)),
        metadata: Some(metadata),
        ..RequestOptions::default()
    };
    Ok((call, options.overridden_by(&own)))
}

/// The response with the route's headers, and the model's when one answered (with its index
/// in the route's calls as `cf-aig-step`).
fn marked(
    mut response: Response,
    route: &Deployed,
    answered: Option<(&ModelNode, usize)>,
) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(ROUTE, &route.row.route.name);
    set(ROUTE_VERSION, &route.row.version.id);
    if let Some((node, index)) = answered {
        set(MODEL, &node.model);
        set(PROVIDER, &node.provider);
        set(STEP, &index.to_string());
    }
    response
}
