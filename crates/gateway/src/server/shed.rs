//! Load shedding: past the in-flight limit a new request gets 503 with `Retry-After` at once,
//! rather than queueing until memory runs out. A request counts until its response body ends,
//! so open streams hold their place.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::GatewayError;
use crate::state::AppState;

/// Seconds a shed client is asked to wait: overload on a gateway usually clears within one.
const RETRY_AFTER_SECS: u64 = 1;

/// Health and metrics answer even when shedding, so an orchestrator does not restart a process
/// that is only busy, and an operator can still see why.
const NEVER_SHED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

#[derive(Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    state: AppState,
}

impl InFlight {
    pub fn new(state: AppState, limit: usize) -> InFlight {
        InFlight {
            permits: Arc::new(Semaphore::new(limit)),
            state,
        }
    }
}

/// Middleware: takes an in-flight slot for the request and its response body, or sheds it.
pub async fn shed_load(
    State(in_flight): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    if NEVER_SHED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(permit) = in_flight.permits.clone().try_acquire_owned() else {
        in_flight.state.metrics().request_shed();
        return GatewayError::overloaded(RETRY_AFTER_SECS).into_response();
    };
    next.run(request).await.map(|body| {
        Body::new(HoldingBody {
            inner: body,
            _permit: permit,
        })
    })
}

/// A response body that keeps its request's in-flight slot until it is finished or dropped.
struct HoldingBody {
    inner: Body,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for HoldingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
