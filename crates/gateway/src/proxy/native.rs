//! The provider pass-through's plan: `/v1/{account}/{gateway}/{provider}/{path…}` becomes one
//! call to the provider's URL with the client's headers (minus what stays behind) and body.

use std::borrow::Cow;

use axum::body::Body;
use http::request::Parts;

use super::body::read_body;
use super::context::RequestContext;
use super::credentials::refuse_gateway_tokens;
use super::headers::upstream_request_headers;
use super::path::ProxyPath;
use super::plan::{Plan, UpstreamCall};
use crate::error::GatewayError;

pub async fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &'a Parts,
    target: &ProxyPath<'a>,
    body: Body,
) -> Result<Plan<'a>, GatewayError> {
    let state = ctx.state;
    let provider = ctx.providers.named(target.provider)?;
    let query = parts.uri.query();
    let mut upstream_headers = upstream_request_headers(&parts.headers);
    refuse_gateway_tokens(state, &upstream_headers, query)?;
    let url = provider.upstream_url(target.provider_path, query)?;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;
    let (body, reshape) = super::compat::ask_native_openai_for_usage(
        provider,
        &parts.method,
        target.provider_path,
        &mut upstream_headers,
        body,
    );
    Ok(Plan::one(UpstreamCall {
        provider,
        method: parts.method.clone(),
        url,
        path: Cow::Borrowed(target.provider_path),
        query: query.map(Cow::Borrowed),
        logged_headers: Cow::Borrowed(&parts.headers),
        upstream_headers,
        body,
        options: None,
        reshape,
        step: None,
        route_charges: Vec::new(),
    }))
}
