//! Sessions of the endpoint, when `[mcp] sessions` is on (docs/mcp.md): rmcp's in-memory
//! session manager per gateway, so a session id is known only at the gateway that issued it
//! (another's gets 404, as an unknown or expired one does), bounded by a count shared by every
//! gateway of the instance and an idle timeout. Each session's peer is kept by its gateway so
//! a change of the gateway's servers reaches its open sessions as `list_changed` notifications.
//!
//! Sessions live in this process only: a message with the id of a session another instance (or
//! this one before a restart) issued gets 404, and the client initialises again.
//!
//! A client on the 2026-07-28 revision (no sessions) opens a `subscriptions/listen` stream
//! instead, stateless or not: its subscription is kept by its gateway likewise, for as long as
//! the request stays open, and told the same changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::Stream;
use futures_util::future::join_all;
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{Peer, SubscriptionSink};
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionConfig,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

use super::aggregate::Aggregator;
use crate::config::McpConfig;

/// A gateway: its account and id.
type GatewayKey = (String, String);

/// Every gateway's sessions on this instance.
pub(super) struct Sessions {
    config: McpConfig,
    http: StreamableHttpServerConfig,
    /// Sessions open on the instance, every gateway's.
    live: Arc<AtomicUsize>,
    /// Each gateway's service, made on its first message.
    by_gateway: std::sync::Mutex<HashMap<GatewayKey, StreamableHttpService<Aggregator, Bounded>>>,
    listeners: Arc<Listeners>,
}

impl Sessions {
    pub fn new(
        config: McpConfig,
        http: StreamableHttpServerConfig,
        listeners: Arc<Listeners>,
    ) -> Sessions {
        Sessions {
            config,
            http,
            live: Arc::new(AtomicUsize::new(0)),
            by_gateway: std::sync::Mutex::new(HashMap::new()),
            listeners,
        }
    }

    /// The service of a gateway's endpoint, its sessions its own.
    pub fn service_of(
        &self,
        account_id: &str,
        gateway_id: &str,
    ) -> StreamableHttpService<Aggregator, Bounded> {
        let key = (account_id.to_owned(), gateway_id.to_owned());
        let mut services = self
            .by_gateway
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        services
            .entry(key.clone())
            .or_insert_with(|| {
                let mut local = LocalSessionManager::default();
                let mut session = SessionConfig::default();
                session.keep_alive = Some(self.config.session_idle_timeout);
                local.session_config = session;
                let manager = Bounded {
                    inner: local,
                    ids: std::sync::Mutex::new(HashSet::new()),
                    live: self.live.clone(),
                    max: self.config.max_sessions,
                };
                let listening = Listening {
                    listeners: self.listeners.clone(),
                    gateway: key,
                };
                StreamableHttpService::new(
                    move || Ok(Aggregator::listening(listening.clone())),
                    Arc::new(manager),
                    self.http.clone(),
                )
            })
            .clone()
    }

    /// Whether the instance has as many sessions open as `[mcp] max_sessions` allows.
    pub fn full(&self) -> bool {
        self.live.load(Ordering::Acquire) >= self.config.max_sessions
    }
}

/// The session manager of one gateway: rmcp's, counted toward the instance's bound.
pub(super) struct Bounded {
    inner: LocalSessionManager,
    /// The ids counted, so a session closed twice (a DELETE, then its worker's end) is
    /// uncounted once.
    ids: std::sync::Mutex<HashSet<SessionId>>,
    live: Arc<AtomicUsize>,
    max: usize,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum BoundedError {
    #[error("as many MCP sessions are open as [mcp] max_sessions allows")]
    Full,
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

impl Bounded {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<SessionId>> {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionManager for Bounded {
    type Error = BoundedError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        // Taken before the session exists, so two racing `initialize`s cannot both pass.
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .map_err(|_| BoundedError::Full)?;
        match self.inner.create_session().await {
            Ok((id, transport)) => {
                self.ids().insert(id.clone());
                Ok((id, transport))
            }
            Err(error) => {
                self.live.fetch_sub(1, Ordering::AcqRel);
                Err(error.into())
            }
        }
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        if self.ids().remove(id) {
            self.live.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(closed?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }
}

/// What changed in a gateway's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Changed {
    Tools,
    Prompts,
    Resources,
}

impl Changed {
    /// A server added, removed or replaced changes all three.
    pub const ALL: [Changed; 3] = [Changed::Tools, Changed::Prompts, Changed::Resources];
}

/// The open sessions' peers and `subscriptions/listen` streams, by gateway, to notify when the
/// gateway's lists change.
pub(super) struct Listeners {
    peers: std::sync::Mutex<HashMap<GatewayKey, Vec<Peer<RoleServer>>>>,
    subscriptions: Arc<std::sync::Mutex<Subscriptions>>,
    /// Open subscriptions at most (`[mcp] max_sessions`: each holds a request open as a session
    /// holds its state).
    max_subscriptions: usize,
}

/// The open `subscriptions/listen` streams, by gateway, each with the number it was kept under.
#[derive(Default)]
struct Subscriptions {
    next: u64,
    open: usize,
    by_gateway: HashMap<GatewayKey, Vec<(u64, SubscriptionSink)>>,
}

/// A kept subscription; dropped when its request ends, which forgets it.
pub(super) struct Subscribed {
    subscriptions: Arc<std::sync::Mutex<Subscriptions>>,
    gateway: GatewayKey,
    number: u64,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        let mut subscriptions = lock(&self.subscriptions);
        let Subscriptions {
            open, by_gateway, ..
        } = &mut *subscriptions;
        if let Some(of_gateway) = by_gateway.get_mut(&self.gateway) {
            let before = of_gateway.len();
            of_gateway.retain(|(number, _)| *number != self.number);
            *open -= before - of_gateway.len();
            if of_gateway.is_empty() {
                by_gateway.remove(&self.gateway);
            }
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Listeners {
    pub fn new(max_subscriptions: usize) -> Listeners {
        Listeners {
            peers: std::sync::Mutex::new(HashMap::new()),
            subscriptions: Arc::default(),
            max_subscriptions,
        }
    }

    /// Keeps a `subscriptions/listen` stream of the gateway (of `account_id`) until the
    /// returned guard is dropped; `None` when as many are open as allowed.
    pub fn subscribe(
        &self,
        account_id: &str,
        gateway_id: &str,
        sink: SubscriptionSink,
    ) -> Option<Subscribed> {
        let mut subscriptions = lock(&self.subscriptions);
        if subscriptions.open >= self.max_subscriptions {
            return None;
        }
        let gateway = (account_id.to_owned(), gateway_id.to_owned());
        subscriptions.next += 1;
        subscriptions.open += 1;
        let number = subscriptions.next;
        subscriptions
            .by_gateway
            .entry(gateway.clone())
            .or_default()
            .push((number, sink));
        Some(Subscribed {
            subscriptions: self.subscriptions.clone(),
            gateway,
            number,
        })
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<GatewayKey, Vec<Peer<RoleServer>>>> {
        lock(&self.peers)
    }

    /// Keeps `peer` (an initialised session of `gateway`), dropping the gateway's peers whose
    /// sessions have ended.
    fn register(&self, gateway: &GatewayKey, peer: Peer<RoleServer>) {
        let mut peers = self.peers();
        let of_gateway = peers.entry(gateway.clone()).or_default();
        of_gateway.retain(|peer| !peer.is_transport_closed());
        of_gateway.push(peer);
    }

    /// Tells every open session of the gateway (of `account_id`, or of any account for a
    /// server of the configuration file, which gives servers by gateway id) that `changed`.
    /// Sent in the background: a session whose stream is full does not hold up the caller.
    pub fn notify(&self, account_id: Option<&str>, gateway_id: &str, changed: &[Changed]) {
        let matches = |(account, gateway): &GatewayKey| {
            gateway == gateway_id && account_id.is_none_or(|id| id == account.as_str())
        };
        let sinks: Vec<SubscriptionSink> = lock(&self.subscriptions)
            .by_gateway
            .iter()
            .filter(|(gateway, _)| matches(gateway))
            .flat_map(|(_, of_gateway)| of_gateway.iter().map(|(_, sink)| sink.clone()))
            .collect();
        let mut to_notify = Vec::new();
        {
            let mut peers = self.peers();
            peers.retain(|gateway, of_gateway| {
                of_gateway.retain(|peer| !peer.is_transport_closed());
                if matches(gateway) {
                    to_notify.extend(of_gateway.iter().cloned());
                }
                !of_gateway.is_empty()
            });
        }
        if to_notify.is_empty() && sinks.is_empty() {
            return;
        }
        let changed = changed.to_vec();
        #[expect(
            clippy::disallowed_methods,
            reason = "a few in-memory sends to sessions that end with the process; shutdown \
                      need not wait for them"
        )]
        tokio::spawn(async move {
            // At once, each within a bound: a client that does not read its stream stalls its
            // own session, not the others' notifications.
            let changed = &changed;
            let peers = to_notify.into_iter().map(|peer| {
                tokio::time::timeout(NOTIFY_WITHIN, async move {
                    for what in changed {
                        let sent = match what {
                            Changed::Tools => peer.notify_tool_list_changed().await,
                            Changed::Prompts => peer.notify_prompt_list_changed().await,
                            Changed::Resources => peer.notify_resource_list_changed().await,
                        };
                        if let Err(why) = sent {
                            tracing::debug!(%why, "MCP list_changed not sent to a closed session");
                            break;
                        }
                    }
                })
            });
            let sinks = sinks.into_iter().map(|sink| {
                tokio::time::timeout(NOTIFY_WITHIN, async move {
                    for what in changed {
                        // A list the client did not ask to hear about is refused by the sink.
                        let _ = match what {
                            Changed::Tools => sink.notify_tool_list_changed().await,
                            Changed::Prompts => sink.notify_prompt_list_changed().await,
                            Changed::Resources => sink.notify_resource_list_changed().await,
                        };
                    }
                })
            });
            futures_util::future::join(join_all(peers), join_all(sinks)).await;
        });
    }
}

/// How long one session's notifications may wait for room on its stream.
const NOTIFY_WITHIN: Duration = Duration::from_secs(10);

/// A session handler's gateway, where its peer is kept once the client has initialised.
#[derive(Clone)]
pub(super) struct Listening {
    listeners: Arc<Listeners>,
    gateway: GatewayKey,
}

impl Listening {
    pub fn register(&self, peer: Peer<RoleServer>) {
        self.listeners.register(&self.gateway, peer);
    }
}
