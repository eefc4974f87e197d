//! Single flight: one leader per key, followers get its outcome, a dropped leader frees them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use super::response;
use crate::cache::{Flight, FlightGuard, Outcome, ResponseCache};
use crate::clock::ManualClock;

/// Upper bound for things that should happen at once; reaching it is a failure, never a wait.
const HANG: Duration = Duration::from_secs(10);

fn cache() -> Arc<ResponseCache> {
    Arc::new(ResponseCache::in_memory(ManualClock::new(0), 1 << 20))
}

/// Starts `n` concurrent joins on `key`; returns the leader's guard (once every other join is
/// waiting on it) and the followers' tasks.
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent requests, each joined before it ends"
)]
async fn start_flights(
    cache: &Arc<ResponseCache>,
    key: &'static str,
    n: usize,
) -> (FlightGuard, Vec<tokio::task::JoinHandle<Outcome>>) {
    let (leaders_tx, mut leaders_rx) = tokio::sync::mpsc::unbounded_channel();
    let followers: Vec<_> = (0..n)
        .map(|_| {
            let cache = Arc::clone(cache);
            let leaders_tx = leaders_tx.clone();
            tokio::spawn(async move {
                match cache.join(key).await {
                    Flight::Leader(guard) => {
                        leaders_tx.send(guard).unwrap();
                        // Stands in for the leader's request: its real outcome is asserted
                        // separately, so this value is never compared.
                        Outcome::Retry
                    }
                    Flight::Follower(outcome) => outcome,
                }
            })
        })
        .collect();
    drop(leaders_tx);
    let leader = tokio::time::timeout(HANG, leaders_rx.recv())
        .await
        .unwrap()
        .unwrap();
    // Hold the flight until every other join is waiting on it (no timing involved).
    tokio::time::timeout(HANG, async {
        while cache.flights.waiting(key) < n - 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert!(leaders_rx.try_recv().is_err(), "a second leader");
    (leader, followers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_joins_make_one_leader_and_share_its_response() {
    let cache = cache();
    let (leader, tasks) = start_flights(&cache, "k", 100).await;
    let upstream = response(&b"data: one\n\ndata: [DONE]\n\n"[..], 0, 60_000);
    leader.finish(Outcome::Response(upstream.clone()));
    let mut responses = 0;
    for task in tasks {
        match tokio::time::timeout(HANG, task).await.unwrap().unwrap() {
            Outcome::Response(got) => {
                assert_eq!(got, upstream);
                responses += 1;
            }
            Outcome::Retry => {}
        }
    }
    assert_eq!(responses, 99, "every follower got the leader's response");
    assert_eq!(cache.flights.len(), 0, "the key is freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_get_a_non_cacheable_response_too() {
    let cache = cache();
    let (leader, tasks) = start_flights(&cache, "k", 5).await;
    let mut failed = response(&b"{\"error\":\"upstream\"}"[..], 0, 60_000);
    failed.status = 500;
    leader.finish(Outcome::Response(failed.clone()));
    let outcomes: Vec<_> = futures_util::future::join_all(tasks).await;
    let statuses: Vec<u16> = outcomes
        .into_iter()
        .filter_map(|outcome| match outcome.unwrap() {
            Outcome::Response(got) => Some(got.status),
            Outcome::Retry => None,
        })
        .collect();
    assert_eq!(statuses, [500; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_leader_releases_followers_with_retry() {
    let cache = cache();
    let (leader, tasks) = start_flights(&cache, "k", 20).await;
    drop(leader);
    for task in tasks {
        assert_eq!(
            tokio::time::timeout(HANG, task).await.unwrap().unwrap(),
            Outcome::Retry
        );
    }
    assert_eq!(cache.flights.len(), 0);
    // The key is free: the next join leads again.
    assert!(matches!(cache.join("k").await, Flight::Leader(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_finishing_with_retry_releases_followers() {
    let cache = cache();
    let (leader, tasks) = start_flights(&cache, "k", 3).await;
    leader.finish(Outcome::Retry);
    for task in tasks {
        assert_eq!(
            tokio::time::timeout(HANG, task).await.unwrap().unwrap(),
            Outcome::Retry
        );
    }
}

#[tokio::test]
async fn different_keys_do_not_wait_on_each_other() {
    let cache = cache();
    let Flight::Leader(a) = cache.join("a").await else {
        panic!("first join leads")
    };
    let Flight::Leader(b) = tokio::time::timeout(HANG, cache.join("b")).await.unwrap() else {
        panic!("another key leads too")
    };
    assert_eq!(cache.flights.len(), 2);
    drop(a);
    assert_eq!(cache.flights.len(), 1);
    b.finish(Outcome::Retry);
    assert_eq!(cache.flights.len(), 0);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent requests, each joined before it ends"
)]
#[tokio::test]
async fn a_follower_that_gives_up_does_not_disturb_the_flight() {
    let cache = cache();
    let Flight::Leader(leader) = cache.join("k").await else {
        panic!("first join leads")
    };
    // A follower whose request is cancelled while waiting (its future is dropped).
    assert!(cache.join("k").now_or_never().is_none());
    assert_eq!(cache.flights.waiting("k"), 0);
    let waiting = {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { cache.join("k").await })
    };
    tokio::time::timeout(HANG, async {
        while cache.flights.waiting("k") < 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    let upstream = response(&b"ok"[..], 0, 1_000);
    leader.finish(Outcome::Response(upstream.clone()));
    match waiting.await.unwrap() {
        Flight::Follower(Outcome::Response(got)) => assert_eq!(got, upstream),
        other => panic!("expected the leader's response, got {other:?}"),
    }
}
