//! The series of each (gateway, provider, model), looked up once and kept, so counting a request
//! bumps atomics instead of cloning and hashing a label set into every family it touches.
//!
//! Series are still created in their families on first use, as `get_or_create` would: the
//! exposition only lists what some request counted. Past the bound new routes share `other`
//! series (see [`Routes`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;

use super::reason::REASONS;
use super::{ErrorLabels, RequestLabels, RouteLabels, TokenLabels};

/// Token kinds, in the order `Metrics::observe` counts them.
const TOKEN_KINDS: [&str; 4] = ["input", "output", "cache_read", "cache_write"];

/// `{n}xx` for status classes 0–9 (every `http::StatusCode`), then `none`.
const STATUS_CLASSES: usize = 11;
const NO_STATUS: usize = STATUS_CLASSES - 1;

/// One route's handles into the families; each is filled the first time it is counted.
pub(super) struct RouteSeries {
    pub(super) labels: RouteLabels,
    /// By status class, then cache miss (0) or hit (1).
    requests: [[OnceLock<Counter>; 2]; STATUS_CLASSES],
    /// By index in [`REASONS`].
    errors: [OnceLock<Counter>; REASONS.len()],
    pub(super) cache_hits: OnceLock<Counter>,
    pub(super) upstream_attempts: OnceLock<Counter>,
    pub(super) cost: OnceLock<Counter<f64, AtomicU64>>,
    pub(super) duration: OnceLock<Histogram>,
    pub(super) ttfb: OnceLock<Histogram>,
    pub(super) tokens: [OnceLock<Counter>; TOKEN_KINDS.len()],
}

impl RouteSeries {
    fn new(labels: RouteLabels) -> RouteSeries {
        RouteSeries {
            labels,
            requests: Default::default(),
            errors: Default::default(),
            cache_hits: OnceLock::new(),
            upstream_attempts: OnceLock::new(),
            cost: OnceLock::new(),
            duration: OnceLock::new(),
            ttfb: OnceLock::new(),
            tokens: Default::default(),
        }
    }

    /// The route's series in `family` (metrics share their value with their clones).
    pub(super) fn series<'a, M: Clone, C: MetricConstructor<M>>(
        &self,
        slot: &'a OnceLock<M>,
        family: &Family<RouteLabels, M, C>,
    ) -> &'a M {
        slot.get_or_init(|| family.get_or_create(&self.labels).clone())
    }

    /// Counts one request under its status class and cache outcome.
    pub(super) fn count_request(
        &self,
        family: &Family<RequestLabels, Counter>,
        status: Option<u16>,
        cached: bool,
    ) {
        let labels = || RequestLabels {
            gateway: self.labels.gateway.clone(),
            provider: self.labels.provider.clone(),
            model: self.labels.model.clone(),
            status: status.map_or_else(|| "none".to_owned(), |s| format!("{}xx", s / 100)),
            cache: if cached { "hit" } else { "miss" }.to_owned(),
        };
        let class = match status {
            None => Some(NO_STATUS),
            Some(s) if s < 1000 => Some(usize::from(s / 100)),
            Some(_) => None,
        };
        match class {
            Some(class) => self.requests[class][usize::from(cached)]
                .get_or_init(|| family.get_or_create(&labels()).clone())
                .inc(),
            // A status the http crate would not build: counted, not kept.
            None => family.get_or_create(&labels()).inc(),
        };
    }

    /// The `errors` series for `REASONS[reason]`.
    pub(super) fn errors(&self, family: &Family<ErrorLabels, Counter>, reason: usize) -> &Counter {
        self.errors[reason].get_or_init(|| {
            family
                .get_or_create(&ErrorLabels {
                    gateway: self.labels.gateway.clone(),
                    provider: self.labels.provider.clone(),
                    model: self.labels.model.clone(),
                    reason: REASONS[reason],
                })
                .clone()
        })
    }

    /// The `tokens` series for `TOKEN_KINDS[kind]`.
    pub(super) fn tokens(&self, family: &Family<TokenLabels, Counter>, kind: usize) -> &Counter {
        self.tokens[kind].get_or_init(|| {
            family
                .get_or_create(&TokenLabels {
                    gateway: self.labels.gateway.clone(),
                    provider: self.labels.provider.clone(),
                    model: self.labels.model.clone(),
                    kind: TOKEN_KINDS[kind].to_owned(),
                })
                .clone()
        })
    }
}

/// Routes by gateway, provider and model: nested so a lookup borrows the three names.
type ByGateway = HashMap<String, HashMap<String, HashMap<String, Arc<RouteSeries>>>>;

/// The label value a route is reported under once its own would pass a bound.
pub(super) const OTHER: &str = "other";

/// Which series a request was counted in.
pub(super) enum Found {
    /// The route's own.
    Own(Arc<RouteSeries>),
    /// A shared `other` series: the route is past the bound.
    Folded(Arc<RouteSeries>),
}

#[derive(Default)]
struct Known {
    routes: ByGateway,
    /// Routes with their own model, at most `capacity`.
    own: usize,
    /// `(gateway, provider, other)` routes, at most `capacity` too.
    folded: usize,
}

/// At most `capacity` routes keep their model; past that a new route is counted under model
/// `other` of its gateway and provider (gateways and providers exist only by configuration, so
/// these are few), and past `capacity` of those under `other` for all three. So the registry
/// holds at most `2 × capacity + 1` routes whatever clients send (docs/metrics.md).
pub(super) struct Routes {
    capacity: usize,
    known: RwLock<Known>,
    other: Arc<RouteSeries>,
}

impl Routes {
    pub(super) fn new(capacity: usize) -> Routes {
        let other = RouteLabels {
            gateway: OTHER.into(),
            provider: OTHER.into(),
            model: OTHER.into(),
        };
        Routes {
            capacity,
            known: RwLock::new(Known::default()),
            other: Arc::new(RouteSeries::new(other)),
        }
    }

    /// The route's series, or the `other` series it is folded into.
    pub(super) fn get(&self, gateway: &str, provider: &str, model: &str) -> Found {
        let find = |known: &Known, model: &str| {
            known
                .routes
                .get(gateway)
                .and_then(|m| m.get(provider))
                .and_then(|m| m.get(model))
                .cloned()
        };
        // The read lock answers every request of a known route, folded ones included, so a
        // flood of new names past the bound does not serialise on the write lock.
        {
            let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = find(&known, model) {
                return Found::Own(found);
            }
            if known.own >= self.capacity {
                if let Some(found) = find(&known, OTHER) {
                    return Found::Folded(found);
                }
                if known.folded >= self.capacity {
                    return Found::Folded(self.other.clone());
                }
            }
        }
        // Inserts are single calls: a panic elsewhere cannot leave the maps half-written.
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&known, model) {
            return Found::Own(found);
        }
        if known.own < self.capacity {
            known.own += 1;
            return Found::Own(insert(&mut known, gateway, provider, model));
        }
        if let Some(found) = find(&known, OTHER) {
            return Found::Folded(found);
        }
        if known.folded < self.capacity {
            known.folded += 1;
            return Found::Folded(insert(&mut known, gateway, provider, OTHER));
        }
        Found::Folded(self.other.clone())
    }
}

fn insert(known: &mut Known, gateway: &str, provider: &str, model: &str) -> Arc<RouteSeries> {
    let series = Arc::new(RouteSeries::new(RouteLabels {
        gateway: gateway.to_owned(),
        provider: provider.to_owned(),
        model: model.to_owned(),
    }));
    known
        .routes
        .entry(gateway.to_owned())
        .or_default()
        .entry(provider.to_owned())
        .or_default()
        .insert(model.to_owned(), series.clone());
    series
}
