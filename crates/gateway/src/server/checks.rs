//! The checks every request passes before its handler, in one tower layer, and the one place
//! their order is written down.
//!
//! They were six `from_fn` middlewares; each boxed the future of everything inside it, and the
//! request went through six such calls (bench/PROFILE.md, fourth pass). Every check decides on
//! the request head alone, so here they run one after another in [`Service::call`], and the
//! response future is a plain enum: the refusal, or the handler's future with what must happen
//! to its response.
//!
//! The order, outermost first (connection-level limits are in [`crate::server`]):
//! 0. error shape: on the unified endpoint (`…/compat/…`) every gateway-made error, from any
//!    check below or the handler, is rewritten in OpenAI's shape, since its clients are OpenAI
//!    SDKs;
//! 1. panic guard: a panic in a check or a handler becomes a JSON 500 (docs/errors.md), never a
//!    dropped connection;
//! 2. load shedding: past `limits.max_in_flight` requests (until their bodies end) a new one
//!    gets 503 + `Retry-After` having cost nothing else; health and metrics are exempt;
//! 3. head checks: a target over `limits.max_uri_bytes` gets 414, too many or too large headers
//!    431, and ambiguous HTTP/1 body framing (`Content-Length` with `Transfer-Encoding`, or any
//!    coding but one `chunked`) 400, before anything reads the body;
//! 4. body timeouts: a request body that stalls or trickles ends in 408 when a handler reads it;
//! 5. absolute-form guard: `POST http://169.254.169.254/…` is refused before routing, so a
//!    request line can never choose a host;
//! 6. admin token: every path under `/client/v4`, routed or not, before any handler runs.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;
use tower::{Layer, Service};

use super::body_timeout::{BodyTimeouts, time_body};
use super::head_limits::{HeadLimits, check_head};
use super::shed::{self, InFlight, Slot, hold};
use crate::error::{self, GatewayError};
use crate::state::AppState;

/// What the checks need, built once from the configuration.
pub struct CheckSettings {
    pub state: AppState,
    pub in_flight: InFlight,
    pub head_limits: HeadLimits,
    pub body_timeouts: BodyTimeouts,
}

/// The layer the router applies to every route and its fallback.
#[derive(Clone)]
pub struct ChecksLayer {
    settings: Arc<CheckSettings>,
}

impl ChecksLayer {
    pub fn new(settings: CheckSettings) -> ChecksLayer {
        ChecksLayer {
            settings: Arc::new(settings),
        }
    }
}

impl<S> Layer<S> for ChecksLayer {
    type Service = Checks<S>;

    fn layer(&self, inner: S) -> Checks<S> {
        Checks {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The checks around one route's service.
#[derive(Clone)]
pub struct Checks<S> {
    inner: S,
    settings: Arc<CheckSettings>,
}

impl<S> Service<Request> for Checks<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Checked<S::Future> {
        // 0. error shape: decided here, applied to whatever comes back.
        let shape = ErrorShape::of(request.uri().path());
        // 1. panic guard, around the checks and the handler's call (its polls: `Checked::poll`).
        let state = catch_unwind(AssertUnwindSafe(|| self.admit(request)))
            .unwrap_or_else(|_panic| refused(GatewayError::internal().into_response()));
        Checked { state, shape }
    }
}

impl<S> Checks<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    /// Checks 2–6 in order: the handler's future with the request's in-flight slot, or the
    /// refusal.
    fn admit(&mut self, request: Request) -> State<S::Future> {
        let settings = &*self.settings;
        // 2. load shedding
        let permit = match settings.in_flight.admit(request.uri().path()) {
            Slot::Exempt => None,
            Slot::Held(permit) => Some(permit),
            Slot::Shed => return refused(shed::overloaded()),
        };
        // 3. head checks
        if let Err(error) = check_head(&settings.head_limits, &request) {
            return refused(error.into_response());
        }
        // 4. body timeouts
        let request = time_body(request, settings.body_timeouts);
        // 5. absolute-form guard
        if let Err(error) = refuse_absolute_form(&request) {
            return refused(error.into_response());
        }
        // 6. admin token
        if let Some(refusal) = crate::api::refuse_without_admin_token(&settings.state, &request) {
            return refused(refusal);
        }
        State::Forwarded {
            handler: self.inner.call(request),
            permit,
        }
    }
}

fn refused<F>(response: Response) -> State<F> {
    State::Refused(Some(response))
}

fn refuse_absolute_form(request: &Request) -> Result<(), GatewayError> {
    // HTTP/2 always carries scheme and authority; only an HTTP/1 request line can be absolute.
    if request.version() <= http::Version::HTTP_11 && request.uri().scheme().is_some() {
        return Err(GatewayError::invalid_path());
    }
    Ok(())
}

/// The response of a checked request.
pub struct Checked<F> {
    state: State<F>,
    shape: ErrorShape,
}

enum State<F> {
    Refused(Option<Response>),
    /// The router's future for the route (`Unpin`: axum boxes the handler's future inside it).
    Forwarded {
        handler: F,
        permit: Option<OwnedSemaphorePermit>,
    },
}

impl<F> Future for Checked<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = match &mut this.state {
            State::Refused(refusal) => refusal
                .take()
                .unwrap_or_else(|| GatewayError::internal().into_response()),
            State::Forwarded { handler, permit } => {
                match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *handler).poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => match permit.take() {
                        Some(permit) => hold(response, permit),
                        None => response,
                    },
                    Ok(Poll::Ready(Err(never))) => match never {},
                    // The slot is given back with the panic, as the request is over.
                    Err(_panic) => {
                        permit.take();
                        GatewayError::internal().into_response()
                    }
                }
            }
        };
        Poll::Ready(Ok(match this.shape {
            ErrorShape::Anthropic => error::in_anthropic_shape(response),
            ErrorShape::OpenAi => error::in_openai_shape(response),
            ErrorShape::Gateway => response,
        }))
    }
}

/// Whose error shape a route's clients read (docs/errors.md): the unified endpoint's are OpenAI
/// or Anthropic SDKs, whose exceptions show only their own shape.
#[derive(Debug, Clone, Copy)]
enum ErrorShape {
    Gateway,
    OpenAi,
    Anthropic,
}

impl ErrorShape {
    fn of(path: &str) -> ErrorShape {
        if crate::proxy::speaks_anthropic(path) {
            ErrorShape::Anthropic
        } else if crate::proxy::is_compat(path) {
            ErrorShape::OpenAi
        } else {
            ErrorShape::Gateway
        }
    }
}
