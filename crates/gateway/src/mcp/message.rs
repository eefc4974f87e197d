//! What the handler knows of the message a request came in (docs/mcp.md): its HTTP request's
//! parts (headers, admission), its JSON-RPC id, and the trace of its HTTP request
//! (docs/observability.md) that a tool call's spans join.

use std::sync::Arc;

use http::HeaderMap;
use http::request::Parts;
use rmcp::RoleServer;
use rmcp::model::RequestMetaObject;
use rmcp::service::RequestContext;

use crate::otel::RequestTrace;

pub struct Message<'a> {
    pub parts: Option<&'a Parts>,
    /// The JSON-RPC id, as text.
    pub id: String,
    /// The HTTP request's trace, when a collector takes it (the proxy put it in the parts'
    /// extensions).
    pub trace: Option<Arc<RequestTrace>>,
    /// The client's own `traceparent` (the message's `_meta`, else the HTTP header): passed on
    /// upstream as it is when the gateway does not trace the request.
    pub client_traceparent: Option<String>,
    empty: HeaderMap,
}

impl<'a> Message<'a> {
    pub fn of(context: &'a RequestContext<RoleServer>) -> Message<'a> {
        let parts = context.extensions.get::<Parts>();
        let client_traceparent = context
            .meta
            .get_traceparent()
            .map(str::to_owned)
            .or_else(|| {
                parts
                    .and_then(|p| p.headers.get(crate::otel::TRACEPARENT))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
        Message {
            parts,
            id: context.id.to_string(),
            trace: parts.and_then(|p| p.extensions.get::<Arc<RequestTrace>>().cloned()),
            client_traceparent,
            empty: HeaderMap::new(),
        }
    }

    /// The HTTP request's headers (none when the message came some other way).
    pub fn headers(&self) -> &HeaderMap {
        self.parts.map_or(&self.empty, |p| &p.headers)
    }
}

/// Puts `traceparent` in a request's `_meta`, where the MCP conventions carry trace context
/// (an upstream's HTTP headers are its connection's, shared by every call; docs/mcp.md).
pub fn set_traceparent(meta: &mut Option<RequestMetaObject>, traceparent: Option<String>) {
    if let Some(traceparent) = traceparent {
        meta.get_or_insert_with(RequestMetaObject::new)
            .set_traceparent(traceparent);
    }
}
