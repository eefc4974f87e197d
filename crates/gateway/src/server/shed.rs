//! Load shedding: past the in-flight limit a new request gets 503 with `Retry-After` at once,
//! rather than queueing until memory runs out. A request counts until its response body ends,
//! so open streams hold their place.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
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

    /// Takes an in-flight slot for a request to `path`, held until its response body ends
    /// ([`hold`]).
    pub fn admit(&self, path: &str) -> Slot {
        if NEVER_SHED.contains(&path) {
            return Slot::Exempt;
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Slot::Held(permit),
            Err(_) => {
                self.state.metrics().request_shed();
                Slot::Shed
            }
        }
    }
}

/// What [`InFlight::admit`] decided.
pub enum Slot {
    /// Health and metrics: never shed, never counted.
    Exempt,
    Held(OwnedSemaphorePermit),
    /// None free: the request gets [`overloaded`].
    Shed,
}

/// The answer to a shed request.
pub fn overloaded() -> Response {
    GatewayError::overloaded(RETRY_AFTER_SECS).into_response()
}

/// `response` with its body holding `permit` until it ends or is dropped.
pub fn hold(response: Response, permit: OwnedSemaphorePermit) -> Response {
    response.map(|body| {
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
