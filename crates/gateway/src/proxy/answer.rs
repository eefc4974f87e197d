//! An upstream answer read whole instead of relayed: one that is retried, or a universal step's
//! error that falls back to the next step. Its attempt's log row keeps its status, headers and
//! body like any other, and the answer is kept to return if no later attempt answers.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};

use super::client::UpstreamResponse;
use super::headers::{client_response_headers, set_log_id};
use super::record::RequestLog;

/// The most of an answer kept; a retryable error answer is small, and the rest is dropped.
const MAX_BUFFERED_ANSWER: usize = 1024 * 1024;

pub struct BufferedAnswer {
    pub status: StatusCode,
    /// As the upstream sent them; the client gets [`client_response_headers`] of them.
    upstream_headers: HeaderMap,
    body: Bytes,
}

impl BufferedAnswer {
    /// Reads the answer. A body that stalls is cut after `idle_timeout` of silence, like a
    /// relayed one: the read must not hold the request forever.
    pub async fn read(upstream: UpstreamResponse, idle_timeout: Duration) -> BufferedAnswer {
        let status = upstream.status();
        let upstream_headers = upstream.headers().clone();
        let mut body = Vec::new();
        let mut stream = http_body_util::BodyDataStream::new(upstream.into_body());
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(idle_timeout, futures_util::StreamExt::next(&mut stream)).await
        {
            if body.len() + chunk.len() > MAX_BUFFERED_ANSWER {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        BufferedAnswer {
            status,
            upstream_headers,
            body: Bytes::from(body),
        }
    }

    /// Ends the attempt's row with this answer; `outcome` says what the gateway did next
    /// (`retried`, `fell back to the next step`).
    pub async fn finish_row(&self, record: &RequestLog, outcome: &str) {
        record
            .finish_with_unrelayed_answer(
                self.status.as_u16(),
                &self.upstream_headers,
                &self.body,
                outcome,
            )
            .await;
    }

    /// The answer as the client gets it, naming its attempt's row.
    pub fn into_response(self, id: uuid::Uuid) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = client_response_headers(&self.upstream_headers);
        response.headers_mut().remove(header::CONTENT_LENGTH);
        set_log_id(&mut response, id);
        response
    }
}
