//! One request's context, made once when the proxy knows its gateway and read by every later
//! phase: the gateway, the `cf-aig-*` options, the client, when it arrived, what it is counted
//! under, and whether it went upstream (after which its end record is someone else's job).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::time::Instant;

use super::options::RequestOptions;
use crate::gateways::Gateway;
use crate::otel::RequestTrace;
use crate::providers::AccountProviders;
use crate::state::AppState;
use crate::store::StoredToken;

/// What is known of a request from its first byte on, before its gateway is.
pub struct Arrival {
    pub log_id: uuid::Uuid,
    pub started: Instant,
    pub created_at: jiff::Timestamp,
}

impl Arrival {
    pub fn now(state: &AppState) -> Arrival {
        Arrival {
            log_id: uuid::Uuid::now_v7(),
            started: crate::clock::monotonic_now(),
            created_at: state.clock().now(),
        }
    }
}

pub struct RequestContext<'s> {
    pub state: &'s AppState,
    /// The providers the request can name, as they were when it arrived (configuration's and
    /// its account's custom providers).
    pub providers: &'s AccountProviders<'s>,
    /// The first attempt's log id, on every response (`cf-aig-log-id`).
    pub log_id: uuid::Uuid,
    pub started: Instant,
    pub created_at: jiff::Timestamp,
    pub gateway: Arc<Gateway>,
    /// Filled by admission (defaults until then).
    pub options: RequestOptions,
    pub client: Option<IpAddr>,
    /// The run token that opened the gateway, with its scope, checked again on each upstream
    /// call and charged by its budget (docs/budgets.md); `None` for an open gateway or the
    /// admin token.
    pub run_token: Option<Arc<StoredToken>>,
    /// The provider the request is counted under (docs/analytics.md): a configured provider's
    /// slug, `compat`, or `unknown`, so probing slugs cannot create metric series.
    pub provider: String,
    /// A begin record was written: the request may be billed upstream, and its end record is
    /// written by the attempt, not as a refusal.
    pub dispatched: AtomicBool,
    /// The run token came where a provider key goes: a stored key must take its place.
    pub run_token_as_key: bool,
    /// The request's trace when it is exported (docs/observability.md); made after admission.
    pub trace: Option<Arc<RequestTrace>>,
}

impl<'s> RequestContext<'s> {
    pub fn new(
        state: &'s AppState,
        providers: &'s AccountProviders<'s>,
        arrival: Arrival,
        gateway: Arc<Gateway>,
        provider: String,
    ) -> RequestContext<'s> {
        RequestContext {
            state,
            providers,
            log_id: arrival.log_id,
            started: arrival.started,
            created_at: arrival.created_at,
            gateway,
            options: RequestOptions::default(),
            client: None,
            run_token: None,
            provider,
            dispatched: AtomicBool::new(false),
            run_token_as_key: false,
            trace: None,
        }
    }
}
