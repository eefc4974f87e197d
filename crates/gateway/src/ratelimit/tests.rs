//! The in-process limiter through its public API; time moves only when a `ManualClock` is told.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemoryLimiter;
use super::*;
use crate::clock::ManualClock;
use crate::gateways::RateLimitTechnique::{self, Fixed, Sliding};

/// A multiple of 10 s (and of 1 s): windows of those lengths start here.
pub(super) const T0: i64 = 1_700_000_000_000;

pub(super) fn rule(limit: u32, secs: u64, technique: RateLimitTechnique) -> RateLimitRule {
    RateLimitRule::new(limit, Duration::from_secs(secs), technique)
}

fn limiter(clock: &Arc<ManualClock>) -> RateLimiter {
    RateLimiter::in_memory(clock.clone(), 1_000)
}

async fn admitted(limiter: &RateLimiter, key: &str, rule: &RateLimitRule, checks: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..checks {
        if limiter.check(key, rule).await.is_allowed() {
            admitted += 1;
        }
    }
    admitted
}

#[tokio::test]
async fn fixed_admits_twice_the_limit_across_a_window_edge_and_sliding_does_not() {
    for technique in [Fixed, Sliding] {
        let clock = ManualClock::new(T0 + 9_999);
        let limiter = limiter(&clock);
        let rule = rule(5, 10, technique);
        assert_eq!(
            admitted(&limiter, "k", &rule, 8).await,
            5,
            "{technique:?}: first window"
        );
        clock.set(T0 + 10_000);
        let across_the_edge = admitted(&limiter, "k", &rule, 8).await;
        match technique {
            Fixed => assert_eq!(across_the_edge, 5, "a new aligned window: 10 within 1 ms"),
            Sliding => {
                assert_eq!(
                    across_the_edge, 0,
                    "the 5 of 1 ms ago are still in the interval"
                );
                let refusal = limiter.check("k", &rule).await;
                assert_eq!(refusal.retry_after_ms(), Some(9_999));
                clock.set(T0 + 19_998);
                assert_eq!(admitted(&limiter, "k", &rule, 1).await, 0);
                clock.set(T0 + 19_999);
                assert_eq!(
                    admitted(&limiter, "k", &rule, 8).await,
                    5,
                    "they left: 5 more"
                );
            }
        }
    }
}

#[tokio::test]
async fn fixed_reports_remaining_reset_and_retry_after() {
    let clock = ManualClock::new(T0 + 2_500);
    let limiter = limiter(&clock);
    let rule = rule(3, 10, Fixed);
    let allowed = |remaining| Decision::Allowed {
        limit: 3,
        remaining,
        reset_after_ms: 7_500,
    };
    assert_eq!(limiter.check("k", &rule).await, allowed(2));
    assert_eq!(limiter.check("k", &rule).await, allowed(1));
    assert_eq!(limiter.check("k", &rule).await, allowed(0));
    let limited = Decision::Limited {
        limit: 3,
        retry_after_ms: 7_500,
        reset_after_ms: 7_500,
    };
    assert_eq!(limiter.check("k", &rule).await, limited);
    clock.advance(Duration::from_millis(7_499));
    let limited = Decision::Limited {
        limit: 3,
        retry_after_ms: 1,
        reset_after_ms: 1,
    };
    assert_eq!(limiter.check("k", &rule).await, limited);
    clock.advance(Duration::from_millis(1));
    let next = Decision::Allowed {
        limit: 3,
        remaining: 2,
        reset_after_ms: 10_000,
    };
    assert_eq!(limiter.check("k", &rule).await, next);
}

#[tokio::test]
async fn sliding_reports_remaining_reset_and_retry_after() {
    let clock = ManualClock::new(T0 + 2_500);
    let limiter = limiter(&clock);
    let rule = rule(3, 10, Sliding);
    let allowed = |remaining, reset_after_ms| Decision::Allowed {
        limit: 3,
        remaining,
        reset_after_ms,
    };
    assert_eq!(limiter.check("k", &rule).await, allowed(2, 10_000));
    clock.advance(Duration::from_secs(1));
    assert_eq!(limiter.check("k", &rule).await, allowed(1, 9_000));
    clock.advance(Duration::from_secs(1));
    assert_eq!(limiter.check("k", &rule).await, allowed(0, 8_000));
    let limited = Decision::Limited {
        limit: 3,
        retry_after_ms: 8_000,
        reset_after_ms: 8_000,
    };
    assert_eq!(limiter.check("k", &rule).await, limited);
    // The first request leaves the interval 10 s after it was made, not at an aligned edge.
    clock.advance(Duration::from_millis(8_000));
    assert_eq!(limiter.check("k", &rule).await, allowed(0, 1_000));
    let limited = Decision::Limited {
        limit: 3,
        retry_after_ms: 1_000,
        reset_after_ms: 1_000,
    };
    assert_eq!(limiter.check("k", &rule).await, limited);
}

#[tokio::test]
async fn refused_requests_are_not_counted() {
    for technique in [Fixed, Sliding] {
        let clock = ManualClock::new(T0);
        let limiter = limiter(&clock);
        let rule = rule(2, 10, technique);
        assert_eq!(admitted(&limiter, "k", &rule, 2).await, 2);
        clock.advance(Duration::from_secs(9));
        assert_eq!(admitted(&limiter, "k", &rule, 100).await, 0);
        // Had the 100 refusals counted, a sliding log would still be full.
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&limiter, "k", &rule, 5).await, 2, "{technique:?}");
    }
}

#[tokio::test]
async fn windows_move_with_the_clock() {
    let clock = ManualClock::new(T0);
    let limiter = limiter(&clock);
    let fixed = rule(4, 1, Fixed);
    for window in 0..5 {
        assert_eq!(
            admitted(&limiter, "k", &fixed, 6).await,
            4,
            "window {window}"
        );
        clock.advance(Duration::from_millis(999));
        assert_eq!(admitted(&limiter, "k", &fixed, 1).await, 0);
        clock.advance(Duration::from_millis(1));
    }
    // A clock stepped back does not give the window that was already used a second time.
    clock.advance(Duration::from_secs(1));
    assert_eq!(admitted(&limiter, "back", &fixed, 4).await, 4);
    clock.set(T0);
    assert_eq!(admitted(&limiter, "back", &fixed, 1).await, 0);
}

#[tokio::test]
async fn keys_are_independent() {
    for technique in [Fixed, Sliding] {
        let clock = ManualClock::new(T0);
        let limiter = limiter(&clock);
        let rule = rule(3, 60, technique);
        assert_eq!(admitted(&limiter, "a", &rule, 5).await, 3);
        assert_eq!(admitted(&limiter, "b", &rule, 5).await, 3);
        assert_eq!(admitted(&limiter, "a", &rule, 1).await, 0);
        assert_eq!(limiter.local_keys(), 2);
    }
}

#[tokio::test]
async fn a_limit_of_zero_refuses_everything_without_counting() {
    let clock = ManualClock::new(T0);
    let limiter = limiter(&clock);
    for technique in [Fixed, Sliding] {
        let decision = limiter.check("k", &rule(0, 10, technique)).await;
        let limited = Decision::Limited {
            limit: 0,
            retry_after_ms: 10_000,
            reset_after_ms: 10_000,
        };
        assert_eq!(decision, limited);
    }
    assert_eq!(limiter.local_keys(), 0);
}

#[tokio::test]
async fn a_changed_rule_starts_a_fresh_count() {
    let clock = ManualClock::new(T0);
    let limiter = limiter(&clock);
    assert_eq!(admitted(&limiter, "k", &rule(2, 10, Fixed), 3).await, 2);
    assert_eq!(admitted(&limiter, "k", &rule(2, 10, Sliding), 3).await, 2);
    assert_eq!(admitted(&limiter, "k", &rule(2, 20, Sliding), 3).await, 2);
    assert_eq!(limiter.local_keys(), 1);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent checks, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn exact_under_concurrency() {
    for technique in [Fixed, Sliding] {
        let clock = ManualClock::new(T0 + 1);
        let limiter = Arc::new(limiter(&clock));
        let rule = rule(100, 60, technique);
        let barrier = Arc::new(tokio::sync::Barrier::new(157));
        let tasks: Vec<_> = (0..157)
            .map(|_| {
                let (limiter, barrier) = (limiter.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    limiter.check("hot", &rule).await
                })
            })
            .collect();
        let mut allowed = 0;
        let mut remaining = Vec::new();
        for task in tasks {
            let decision = task.await.unwrap();
            if let Decision::Allowed {
                remaining: left, ..
            } = decision
            {
                allowed += 1;
                remaining.push(left);
            }
        }
        assert_eq!(allowed, 100, "{technique:?}");
        remaining.sort_unstable();
        assert_eq!(
            remaining,
            (0..100).collect::<Vec<u32>>(),
            "each admission saw its own count"
        );
    }
}

#[tokio::test]
async fn a_million_distinct_keys_stay_within_max_keys() {
    let clock = ManualClock::new(T0);
    let limiter = RateLimiter::in_memory(clock.clone(), 10_000);
    let fixed = rule(5, 60, Fixed);
    let sliding = rule(5, 60, Sliding);
    let mut key = String::new();
    for i in 0..1_000_000u32 {
        use std::fmt::Write as _;
        key.clear();
        let _ = write!(key, "client-{i}");
        let rule = if i % 2 == 0 { &fixed } else { &sliding };
        assert!(limiter.check(&key, rule).await.is_allowed());
        if i % 1_000 == 0 {
            clock.advance(Duration::from_millis(7));
        }
    }
    assert!(
        limiter.local_keys() <= 10_000,
        "{} keys",
        limiter.local_keys()
    );
    assert!(
        limiter.local_keys() >= 8_000,
        "evictions are batched, not wholesale"
    );
    // The key checked last is still counted exactly.
    assert_eq!(admitted(&limiter, &key, &sliding, 10).await, 4);
}

#[tokio::test]
async fn keys_with_nothing_left_go_before_live_ones() {
    let memory = MemoryLimiter::with_bounds(1, 8, 1 << 20, MAX_EXACT_SLIDING_LIMIT);
    let short = rule(5, 1, Fixed);
    let long = rule(5, 60, Sliding);
    for i in 0..7 {
        memory.check(&format!("short-{i}"), &short, T0);
    }
    memory.check("long", &long, T0);
    // One second on, the short windows are over; the long one (least recently used of all)
    // still counts a request, so it must survive the sweep the ninth key triggers.
    memory.check("new", &short, T0 + 1_000);
    assert!(memory.contains("long"));
    assert!((0..7).all(|i| !memory.contains(&format!("short-{i}"))));
    assert_eq!(memory.keys(), 2);
}

#[tokio::test]
async fn the_least_recently_used_keys_go_first() {
    let memory = MemoryLimiter::with_bounds(1, 8, 1 << 20, MAX_EXACT_SLIDING_LIMIT);
    let rule = rule(5, 60, Fixed);
    for i in 0..8 {
        memory.check(&format!("k{i}"), &rule, T0);
    }
    memory.check("k0", &rule, T0);
    memory.check("k8", &rule, T0);
    assert!(!memory.contains("k1"), "the least recently used goes");
    assert!(memory.contains("k0"), "a key used again is recent");
    assert_eq!(memory.keys(), 8);
    assert!((2..=8).all(|i| memory.contains(&format!("k{i}"))));
}

#[tokio::test]
async fn sliding_logs_stay_within_their_timestamp_budget() {
    let memory = MemoryLimiter::with_bounds(4, 10_000, 1_000, 100);
    let rule = rule(100, 60, Sliding);
    for k in 0..200 {
        for n in 0..50 {
            let decision = memory.check(&format!("k{k}"), &rule, T0 + n);
            assert!(decision.is_allowed());
        }
        assert!(
            memory.stamps() <= 1_000,
            "{} timestamps after key {k}",
            memory.stamps()
        );
    }
    assert!(
        memory.keys() < 200,
        "keys were dropped to stay within the budget"
    );
    // Each log holds what was admitted (at most the limit), not the limit up front.
    let one = MemoryLimiter::with_bounds(1, 10, 1_000_000, 1_000);
    one.check(
        "k",
        &RateLimitRule::new(1_000, Duration::from_secs(60), Sliding),
        T0,
    );
    assert!(one.stamps() <= 4);
}

#[tokio::test]
async fn a_log_shrinks_when_its_requests_leave() {
    let memory = MemoryLimiter::with_bounds(1, 10, 1_000_000, 1_000);
    let rule = rule(1_000, 1, Sliding);
    for n in 0..1_000 {
        memory.check("k", &rule, T0 + n % 500);
    }
    assert!(memory.stamps() >= 1_000);
    memory.check("k", &rule, T0 + 10_000);
    assert!(
        memory.stamps() <= 16,
        "{} timestamps kept for one request",
        memory.stamps()
    );
}

#[tokio::test]
async fn large_sliding_limits_use_the_two_window_counter() {
    let clock = ManualClock::new(T0 + 5_000);
    let limiter = RateLimiter::in_memory(clock.clone(), 1_000)
        .with_local(MemoryLimiter::with_bounds(64, 1_000, 1 << 20, 10));
    let rule = rule(20, 10, Sliding);
    assert_eq!(admitted(&limiter, "k", &rule, 25).await, 20);
    // Next window, at its start: the previous window weighs fully.
    clock.set(T0 + 10_000);
    let refusal = limiter.check("k", &rule).await;
    assert_eq!(
        refusal.retry_after_ms(),
        Some(500),
        "weight 20 → 19 after 1/20 of the window"
    );
    // Halfway through: the previous 20 weigh 10, so 10 more.
    clock.set(T0 + 15_000);
    assert_eq!(admitted(&limiter, "k", &rule, 25).await, 10);
    assert_eq!(limiter.local_log_entries(), 0, "no timestamps are stored");
}
