//! Cloudflare's v4 envelope: `{success, errors, messages, result, result_info}`, and the
//! management API's error type, rendered here and nowhere else.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::gateways::{ChangeError, FieldError};
use crate::store::StoreError;

/// A successful response.
pub fn ok(result: Value) -> Response {
    Json(json!({"success": true, "errors": [], "messages": [], "result": result})).into_response()
}

/// Which page of a list a client asked for: `page` from 1, `per_page` from 1 to 100 (20 when
/// not given), as every list of Cloudflare's API takes them.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: usize,
    pub per_page: usize,
}

impl Paging {
    const DEFAULT_PER_PAGE: usize = 20;
    const MAX_PER_PAGE: usize = 100;

    pub fn new(page: Option<usize>, per_page: Option<usize>) -> Paging {
        Paging {
            page: page.unwrap_or(1).max(1),
            per_page: per_page
                .unwrap_or(Self::DEFAULT_PER_PAGE)
                .clamp(1, Self::MAX_PER_PAGE),
        }
    }

    /// The items of this page.
    pub fn slice<T>(self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .skip((self.page - 1).saturating_mul(self.per_page))
            .take(self.per_page)
            .collect()
    }

    /// This page of `items` in the v4 envelope, with `result_info` counting all of them.
    pub fn respond(self, items: Vec<Value>) -> Response {
        let total = items.len();
        ok_page(self.slice(items), self.page, self.per_page, total)
    }
}

/// A successful page of a list.
pub fn ok_page(result: Vec<Value>, page: usize, per_page: usize, total: usize) -> Response {
    let count = result.len();
    Json(json!({
        "success": true, "errors": [], "messages": [], "result": result,
        "result_info": {
            "page": page, "per_page": per_page, "count": count, "total_count": total,
            "total_pages": total.div_ceil(per_page.max(1)),
        },
    }))
    .into_response()
}

/// A management API error; codes are listed in docs/errors.md.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    errors: Vec<ErrorEntry>,
}

/// One entry of the envelope's `errors`.
#[derive(Debug)]
struct ErrorEntry {
    code: u16,
    message: String,
    /// Where in the request the problem is, as Cloudflare writes it (`["body", "cache_ttl"]`).
    path: Option<[String; 2]>,
}

impl ApiError {
    fn new(status: StatusCode, code: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            errors: vec![ErrorEntry {
                code,
                message: message.into(),
                path: None,
            }],
        }
    }

    /// 401, code 10000; `why` says how to fix it (and never echoes what was sent).
    pub fn unauthorized(why: &str) -> ApiError {
        Self::new(
            StatusCode::UNAUTHORIZED,
            10000,
            format!("Authentication error: {why}"),
        )
    }
    pub fn no_route() -> ApiError {
        Self::new(StatusCode::NOT_FOUND, 7000, "No route for that URI")
    }
    pub fn method_not_allowed() -> ApiError {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            7001,
            "Method not allowed for this URI",
        )
    }
    pub fn gateway_not_found() -> ApiError {
        Self::new(StatusCode::NOT_FOUND, 2001, "Gateway not found")
    }
    pub fn not_found(what: &str) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, 1004, format!("{what} not found"))
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, 1001, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, 1002, message)
    }
    pub fn internal() -> ApiError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 1003, "Internal error")
    }

    /// One error about one body field, with Cloudflare's code for it.
    pub fn with_code(
        status: StatusCode,
        code: u16,
        field: &str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            errors: vec![ErrorEntry {
                code,
                message: message.into(),
                path: Some(["body".to_owned(), field.to_owned()]),
            }],
        }
    }

    /// One entry per invalid field, each naming its field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: errors
                .into_iter()
                .map(|e| ErrorEntry {
                    code: 1001,
                    message: format!("{}: {}", e.field, e.message),
                    path: Some(["body".to_owned(), e.field.into_owned()]),
                })
                .collect(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(%error, "management call failed in the store");
        ApiError::internal()
    }
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> ApiError {
        match error {
            ChangeError::Invalid(errors) => ApiError::invalid_fields(errors),
            ChangeError::Conflict => ApiError::conflict("A gateway with this id already exists"),
            ChangeError::NotFound => ApiError::gateway_not_found(),
            ChangeError::Store(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|entry| {
                let mut error = json!({"code": entry.code, "message": entry.message});
                if let Some(path) = &entry.path {
                    error["path"] = json!(path);
                }
                error
            })
            .collect();
        let body = json!({"success": false, "errors": errors, "messages": [], "result": null});
        (self.status, Json(body)).into_response()
    }
}
