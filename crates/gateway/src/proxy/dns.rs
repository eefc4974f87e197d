//! Host name lookups for provider connections: the system resolver (getaddrinfo, so
//! `/etc/hosts`, `resolv.conf` and NSS apply as for any program) bounded in time, one lookup per
//! host at a time, and a failure remembered briefly so a burst of requests to a host that does
//! not resolve costs one lookup, not one each (docs/reliability.md, "Upstream provider").

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use hyper_util::client::legacy::connect::dns::Name;
use tokio::time::Instant;

use crate::clock::monotonic_now;

/// Most hosts whose failure is remembered at once. Some providers take part of the host name
/// from the request path, so the table must not grow with what clients send; past the bound a
/// failure is simply not remembered (lookups are still shared).
const MAX_REMEMBERED: usize = 10_000;

/// Why a lookup failed. The dispatcher finds it in a connect error's causes to tell the client
/// that the name did not resolve; it names the host, so it goes to the log row and the server
/// log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS lookup of {host} timed out after {} ms", .after.as_millis())]
    TimedOut { host: String, after: Duration },
    #[error("DNS lookup of {host} failed: {reason}")]
    Failed { host: String, reason: String },
}

/// A blocking lookup; the system's in production, a counting stand-in in tests.
pub type Lookup = Arc<dyn Fn(&str) -> std::io::Result<Vec<SocketAddr>> + Send + Sync>;
type Answer = Result<Arc<[SocketAddr]>, DnsError>;
type Flight = Shared<BoxFuture<'static, Answer>>;

enum Entry {
    InFlight(Flight),
    Failed { until: Instant, error: DnsError },
}

/// Shared by every upstream client, so all of them share the in-flight lookups and failures.
#[derive(Clone)]
pub struct Resolver {
    lookup: Lookup,
    timeout: Duration,
    negative_ttl: Duration,
    hosts: Arc<Mutex<HashMap<String, Entry>>>,
}

impl Resolver {
    /// The system resolver, through getaddrinfo on the blocking pool.
    pub fn system(timeout: Duration, negative_ttl: Duration) -> Resolver {
        Resolver::with_lookup(
            Arc::new(|host| Ok((host, 0).to_socket_addrs()?.collect())),
            timeout,
            negative_ttl,
        )
    }

    pub fn with_lookup(lookup: Lookup, timeout: Duration, negative_ttl: Duration) -> Resolver {
        Resolver {
            lookup,
            timeout,
            negative_ttl,
            hosts: Arc::default(),
        }
    }

    /// The addresses of `host`: joins a lookup already under way, answers a recent failure
    /// from memory, or starts a lookup.
    pub async fn resolve(&self, host: &str) -> Answer {
        let flight = {
            let mut hosts = lock(&self.hosts);
            match hosts.get(host) {
                Some(Entry::Failed { until, error }) if *until > monotonic_now() => {
                    return Err(error.clone());
                }
                Some(Entry::InFlight(flight)) => flight.clone(),
                _ => {
                    let flight = self.start(host.to_owned());
                    hosts.insert(host.to_owned(), Entry::InFlight(flight.clone()));
                    flight
                }
            }
        };
        flight.await
    }

    /// The lookup runs in its own task, so it completes (and settles the table) even if every
    /// request waiting for it goes away. A lookup past the timeout is abandoned, not stopped:
    /// getaddrinfo cannot be cancelled, so its blocking thread ends when the system resolver
    /// gives up (`resolv.conf` `timeout` × `attempts`); the remembered failure keeps new lookups
    /// of that host from piling up meanwhile.
    fn start(&self, host: String) -> Flight {
        let lookup = self.lookup.clone();
        let timeout = self.timeout;
        let this = self.clone();
        #[expect(
            clippy::disallowed_methods,
            reason = "a lookup's own task, awaited through its flight, not background work"
        )]
        let task = tokio::spawn(async move {
            let name = host.clone();
            let blocking = tokio::task::spawn_blocking(move || lookup(&name));
            let failed = |reason: String| DnsError::Failed {
                host: host.clone(),
                reason,
            };
            let answer = match tokio::time::timeout(timeout, blocking).await {
                Ok(Ok(Ok(addrs))) if !addrs.is_empty() => Ok(Arc::from(addrs)),
                Ok(Ok(Ok(_))) => Err(failed("no addresses".into())),
                Ok(Ok(Err(error))) => Err(failed(error.to_string())),
                Ok(Err(_)) => Err(failed("the lookup thread failed".into())),
                Err(_) => Err(DnsError::TimedOut {
                    host: host.clone(),
                    after: timeout,
                }),
            };
            if let Err(error) = &answer {
                tracing::warn!(%error, "upstream host name did not resolve");
            }
            this.settle(&host, &answer);
            answer
        });
        async move {
            task.await.unwrap_or_else(|_| {
                Err(DnsError::Failed {
                    host: String::new(),
                    reason: "the lookup task failed".into(),
                })
            })
        }
        .boxed()
        .shared()
    }

    /// Ends the host's flight: a failure is remembered for the negative TTL, a success is not
    /// (the system resolver or its cache decides how long addresses hold).
    fn settle(&self, host: &str, answer: &Answer) {
        let mut hosts = lock(&self.hosts);
        hosts.remove(host);
        let Err(error) = answer else { return };
        if self.negative_ttl.is_zero() {
            return;
        }
        let now = monotonic_now();
        if hosts.len() >= MAX_REMEMBERED {
            hosts.retain(|_, entry| match entry {
                Entry::InFlight(_) => true,
                Entry::Failed { until, .. } => *until > now,
            });
        }
        if hosts.len() < MAX_REMEMBERED {
            let until = now + self.negative_ttl;
            let error = error.clone();
            hosts.insert(host.to_owned(), Entry::Failed { until, error });
        }
    }
}

/// The table holds no invariant a panicking holder could break halfway, so a poisoned lock is
/// taken over rather than failing every later lookup.
fn lock(hosts: &Mutex<HashMap<String, Entry>>) -> MutexGuard<'_, HashMap<String, Entry>> {
    hosts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The upstream client's resolver (hyper-util's `HttpConnector` asks it for each new
/// connection's addresses).
impl tower::Service<Name> for Resolver {
    type Response = Addrs;
    type Error = DnsError;
    type Future = BoxFuture<'static, Result<Self::Response, DnsError>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), DnsError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.resolve(name.as_str()).await?;
            Ok(Addrs {
                list: addrs,
                next: 0,
            })
        })
    }
}

/// A lookup's addresses in order, sharing the remembered list.
pub struct Addrs {
    list: Arc<[SocketAddr]>,
    next: usize,
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        let addr = self.list.get(self.next).copied();
        self.next += 1;
        addr
    }
}

/// The lookup failure behind a request error, if a failed lookup is why it failed.
pub fn cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a DnsError> {
    super::failure::causes(error).find_map(|cause| cause.downcast_ref::<DnsError>())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    /// A lookup that counts its calls and fails with "not found".
    fn failing(calls: Arc<AtomicUsize>) -> Lookup {
        Arc::new(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "Name or service not known",
            ))
        })
    }

    /// A lookup that counts its calls and blocks until `release` is sent to or dropped.
    fn held(calls: Arc<AtomicUsize>) -> (Lookup, mpsc::Sender<()>) {
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let lookup: Lookup = Arc::new(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = wait.lock().unwrap().recv();
            Ok(vec![SocketAddr::from(([192, 0, 2, 1], 0))])
        });
        (lookup, release)
    }

    #[tokio::test]
    async fn a_burst_to_a_failing_host_costs_one_lookup() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = Resolver::with_lookup(failing(calls.clone()), LONG, LONG);
        let answers =
            futures_util::future::join_all((0..1000).map(|_| resolver.resolve("down.test"))).await;
        assert!(answers.iter().all(|answer| matches!(
            answer,
            Err(DnsError::Failed { host, .. }) if host == "down.test"
        )));
        // Later requests are answered from memory too; another host is looked up on its own.
        assert!(resolver.resolve("down.test").await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(resolver.resolve("other.test").await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_host_share_one_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (lookup, release) = held(calls.clone());
        // No negative cache: only the sharing of the lookup under way can explain one call.
        let resolver = Resolver::with_lookup(lookup, LONG, Duration::ZERO);
        let all = futures_util::future::join_all((0..100).map(|_| resolver.resolve("up.test")));
        let free = async {
            // join! polls `all` first, so every resolve has joined the flight before this runs.
            while calls.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            release.send(()).unwrap();
        };
        let (answers, ()) = tokio::join!(all, free);
        assert!(
            answers
                .iter()
                .all(|answer| answer.as_ref().unwrap().len() == 1)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_resolver_that_never_answers_is_cut_at_the_timeout() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (lookup, release) = held(calls.clone());
        let timeout = Duration::from_millis(50);
        let resolver = Resolver::with_lookup(lookup, timeout, LONG);
        let started = monotonic_now();
        let answer = resolver.resolve("slow.test").await;
        assert_eq!(
            answer.unwrap_err(),
            DnsError::TimedOut {
                host: "slow.test".into(),
                after: timeout
            }
        );
        assert!(started.elapsed() >= timeout);
        // The timeout is remembered: the next request does not wait again.
        let again = monotonic_now();
        assert!(resolver.resolve("slow.test").await.is_err());
        assert!(again.elapsed() < timeout);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        drop(release);
    }

    #[tokio::test]
    async fn successes_and_expired_failures_are_looked_up_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = Resolver::with_lookup(failing(calls.clone()), LONG, Duration::ZERO);
        assert!(resolver.resolve("down.test").await.is_err());
        assert!(resolver.resolve("down.test").await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let calls = Arc::new(AtomicUsize::new(0));
        let (lookup, release) = held(calls.clone());
        drop(release);
        let resolver = Resolver::with_lookup(lookup, LONG, LONG);
        assert!(resolver.resolve("up.test").await.is_ok());
        assert!(resolver.resolve("up.test").await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_cause_is_found_behind_wrapping_errors() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);
        let dns = DnsError::Failed {
            host: "h.test".into(),
            reason: "nope".into(),
        };
        let wrapped = Wrapper(Box::new(dns.clone()));
        assert_eq!(cause(&wrapped), Some(&dns));
        let other = Wrapper("refused".into());
        assert_eq!(cause(&other), None);
    }
}
