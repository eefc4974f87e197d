//! Errors the gateway itself produces on proxy routes, with their stable codes (docs/errors.md).
//!
//! Every gateway-made error on a proxy route is a [`GatewayError`]; it becomes the Cloudflare
//! envelope in exactly one place, [`GatewayError::into_response`], and is rewritten in OpenAI's
//! shape for clients of the unified endpoint by [`in_openai_shape`]. Upstream errors are not
//! gateway errors: they pass through untouched and never come here.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::suggest::shown;

/// A gateway-made error: a stable code plus a message that is safe to show a client
/// (no secrets, no internal detail).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct GatewayError {
    pub code: ErrorCode,
    pub message: String,
    /// Headers the response must carry (`Retry-After`, `RateLimit-*` on a 429).
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
    /// Fields the error's body carries beside its message (a policy's `bucket`, `spent`,
    /// `limit`).
    pub fields: Vec<(&'static str, serde_json::Value)>,
}

/// The code table. Numbers and statuses are part of the contract; see docs/errors.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    GatewayNotFound,
    RateLimited,
    UpstreamFailed,
    InvalidProvider,
    Unauthorized,
    UpstreamTimeout,
    BodyTooLarge,
    InvalidPath,
    InvalidHeader,
    InvalidBody,
    LogUnavailable,
    RequestTimeout,
    UriTooLong,
    HeadersTooLarge,
    Overloaded,
    SpendLimitExceeded,
    ByokAliasNotFound,
    ProviderCredentialRequired,
    /// A run token's scope does not cover the gateway, provider or model (docs/budgets.md).
    OutOfScope,
    /// `model: "dynamic/{route}"` names no route of the gateway (docs/routing.md).
    RouteNotFound,
    /// A DLP policy blocked the request's or the response's content (docs/dlp.md).
    DlpRequestBlocked,
    DlpResponseBlocked,
    /// A guardrail BLOCK rule matched the prompt or the response (docs/guardrails.md).
    GuardrailPromptBlocked,
    GuardrailResponseBlocked,
    /// The guardrail classifier could not answer and a BLOCK rule applies.
    GuardrailUnavailable,
    /// Policies (docs/budgets.md, "Policies"): none allows the request, or one blocks it.
    DeniedByPolicy,
    /// A policy bucket's spend has reached its cap.
    PolicyLimitExceeded,
    Internal,
}

impl ErrorCode {
    pub fn number(self) -> u16 {
        match self {
            ErrorCode::GatewayNotFound => 2001,
            ErrorCode::RateLimited => 2003,
            ErrorCode::UpstreamFailed => 2005,
            ErrorCode::InvalidProvider => 2008,
            ErrorCode::Unauthorized => 2009,
            ErrorCode::UpstreamTimeout => 2010,
            ErrorCode::BodyTooLarge => 2011,
            ErrorCode::InvalidPath => 2012,
            ErrorCode::InvalidHeader => 2013,
            ErrorCode::InvalidBody => 2014,
            ErrorCode::LogUnavailable => 2015,
            ErrorCode::RequestTimeout => 2022,
            ErrorCode::UriTooLong => 2023,
            ErrorCode::HeadersTooLarge => 2018,
            ErrorCode::Overloaded => 2019,
            ErrorCode::SpendLimitExceeded => 2041,
            ErrorCode::ByokAliasNotFound => 2040,
            ErrorCode::OutOfScope => 2101,
            ErrorCode::ProviderCredentialRequired => 2102,
            ErrorCode::RouteNotFound => 2050,
            ErrorCode::DlpRequestBlocked => 2029,
            ErrorCode::DlpResponseBlocked => 2030,
            ErrorCode::GuardrailPromptBlocked => 2016,
            ErrorCode::GuardrailResponseBlocked => 2017,
            ErrorCode::GuardrailUnavailable => 7013,
            ErrorCode::DeniedByPolicy => 2103,
            ErrorCode::PolicyLimitExceeded => 2104,
            ErrorCode::Internal => 2000,
        }
    }

    /// The `type` OpenAI's API gives an error of this status.
    fn openai_type(self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }

    /// Anthropic's error type for the status (what its SDKs expect to see).
    fn anthropic_type(self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            503 => "overloaded_error",
            _ => "api_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::GatewayNotFound | ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
            ErrorCode::RateLimited
            | ErrorCode::SpendLimitExceeded
            | ErrorCode::PolicyLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UpstreamFailed => StatusCode::BAD_GATEWAY,
            ErrorCode::InvalidProvider
            | ErrorCode::InvalidPath
            | ErrorCode::InvalidHeader
            | ErrorCode::InvalidBody
            | ErrorCode::ByokAliasNotFound
            | ErrorCode::ProviderCredentialRequired
            | ErrorCode::DlpRequestBlocked
            | ErrorCode::DlpResponseBlocked => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::OutOfScope | ErrorCode::DeniedByPolicy => StatusCode::FORBIDDEN,
            ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::GuardrailPromptBlocked | ErrorCode::GuardrailResponseBlocked => {
                StatusCode::FAILED_DEPENDENCY
            }
            ErrorCode::LogUnavailable | ErrorCode::Overloaded | ErrorCode::GuardrailUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl GatewayError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        GatewayError {
            code,
            message: message.into(),
            headers: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Adds a field to the body, in the error entry and beside the message.
    pub fn with_field(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.fields.push((name, value));
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.headers
                .push((http::HeaderName::from_static(name), value));
        }
        self
    }

    /// 404, code 2001, naming what was asked for and how to get it. The same words whether or
    /// not the account exists, so the error does not tell a stranger which accounts there are.
    pub fn gateway_not_found(account: &str, gateway: &str) -> Self {
        let (account, gateway) = (shown(account), shown(gateway));
        Self::new(
            ErrorCode::GatewayNotFound,
            format!(
                "Gateway not found: account {account:?} has no gateway {gateway:?}. Proxy URLs \
                 are /v1/{{account}}/{{gateway}}/{{provider}}/...; create the gateway first \
                 (management API or `tollgate gateway create`), or use the account's `default` \
                 gateway, made on its first request (/v1/local/default/... always works)"
            ),
        )
    }

    /// 404, code 2001, for a gateway segment that cannot be a gateway id.
    pub fn invalid_gateway_id(gateway: &str) -> Self {
        Self::new(
            ErrorCode::GatewayNotFound,
            format!(
                "Gateway not found: {:?} is not a gateway id (1-64 characters of a-z, 0-9, _ \
                 and -)",
                shown(gateway)
            ),
        )
    }

    /// 429, code 2003, with `Retry-After` and the `RateLimit-*` headers (docs/architecture.md).
    pub fn rate_limited(limit: u32, retry_after_ms: u64, reset_after_ms: u64) -> Self {
        Self::new(ErrorCode::RateLimited, "Rate limited")
            .with_header("retry-after", retry_after_ms.div_ceil(1000).max(1))
            .with_header("ratelimit-limit", limit)
            .with_header("ratelimit-remaining", 0)
            .with_header("ratelimit-reset", reset_after_ms.div_ceil(1000))
    }

    /// 503, code 2015: the request log cannot take the request (spool full or failing).
    pub fn log_unavailable() -> Self {
        Self::new(
            ErrorCode::LogUnavailable,
            "Request log unavailable; retry later",
        )
        .with_header("retry-after", 5)
    }

    /// 408, code 2022: the request body stalled or took too long; the connection is closed after.
    pub fn request_timeout() -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            "Request body not received in time",
        )
        .with_header("connection", "close")
    }

    /// 503, code 2019: the server is at its in-flight request limit; nothing was done.
    pub fn overloaded(retry_after_secs: u64) -> Self {
        Self::new(ErrorCode::Overloaded, "Gateway overloaded; retry later")
            .with_header("retry-after", retry_after_secs)
    }

    pub fn invalid_path() -> Self {
        Self::new(ErrorCode::InvalidPath, "Invalid path")
    }

    pub fn invalid_header(name: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::InvalidHeader,
            format!("Invalid header {name}: {why}"),
        )
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "Internal gateway error")
    }

    /// OpenAI's error body, for the unified endpoint whose clients are OpenAI SDKs: they show
    /// `error.message`, which Cloudflare's envelope (an array under `error`) does not have.
    /// `code` is the gateway code as a string, the type OpenAI's SDKs declare for it.
    pub fn openai_body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.code.openai_type(),
            "param": null,
            "code": self.code.number().to_string(),
        }})
    }

    /// Anthropic's error body, for the unified endpoint's Messages route, whose clients are
    /// Anthropic SDKs: `error.type` is Anthropic's name for the status, `code` the gateway code.
    pub fn anthropic_body(&self) -> serde_json::Value {
        json!({"type": "error", "error": {
            "type": self.code.anthropic_type(),
            "message": self.message,
            "code": self.code.number().to_string(),
        }})
    }

    /// The JSON body (docs/errors.md).
    pub fn body(&self) -> serde_json::Value {
        let code = self.code.number();
        let mut body = json!({
            "success": false,
            "result": [],
            "messages": [],
            "error": [{"code": code, "message": self.message}],
            "name": "AiGatewayError",
            "httpCode": self.code.status().as_u16(),
            "internalCode": code,
            "message": self.message,
        });
        for (name, value) in &self.fields {
            body[*name] = value.clone();
            body["error"][0][*name] = value.clone();
        }
        body
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), axum::Json(self.body())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        // Kept on the response so outer layers (logging, metrics) can see what went wrong.
        response.extensions_mut().insert(self);
        response
    }
}

/// A gateway-made error response rewritten in OpenAI's shape (same status and headers); any
/// other response, an upstream's answer included, is returned unchanged.
pub fn in_openai_shape(response: Response) -> Response {
    in_shape(response, GatewayError::openai_body)
}

/// [`in_openai_shape`] in Anthropic's shape (the unified endpoint's Messages route).
pub fn in_anthropic_shape(response: Response) -> Response {
    in_shape(response, GatewayError::anthropic_body)
}

fn in_shape(response: Response, shape: fn(&GatewayError) -> serde_json::Value) -> Response {
    let Some(body) = response.extensions().get::<GatewayError>().map(shape) else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}
