//! Reading the client's request body, bounded by `server.max_body_bytes` (the declared length
//! is checked before anything is read) and by the body read timeout.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{ErrorCode, GatewayError};

pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let too_large = || {
        GatewayError::new(
            ErrorCode::BodyTooLarge,
            format!("Request body too large: the limit is {limit} bytes (server.max_body_bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(error) if crate::server::is_body_timeout(&*error) => {
            Err(GatewayError::request_timeout())
        }
        Err(_) => Err(GatewayError::new(
            ErrorCode::InvalidBody,
            "Could not read the request body",
        )),
    }
}
