//! Spend counted per bucket and window, in micro-USD: in this process, or in Redis shared by
//! every instance (one Lua script checks every rule and reserves in all of them, or in none).
//! When Redis fails the local ledger answers, as the rate limiter's counters do: each instance
//! then holds the budget alone.
//!
//! Windows (`super::window`): `fixed` ones are aligned to multiples of their length since the
//! Unix epoch; `sliding` ones count the previous aligned window's spend weighted by its overlap
//! with the last window length, plus the current one's (the rate limiter's two-window counter);
//! calendar ones are UTC hours, days, weeks and months.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::Script;

use super::window::Window;
use crate::redis::{RedisHandle, RedisScope};

/// The bound on one reservation's Redis work (the cache's: a budget is worth a little more
/// patience than a rate limit before each instance falls back to counting alone).
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// Buckets kept in process at most (each a window of one rule's bucket); past it, expired
/// ones go first, then a reservation that needs a new bucket is refused (docs/budgets.md).
pub const MAX_LOCAL_BUCKETS: usize = 100_000;

/// One rule's bucket, as a reservation charges it.
#[derive(Debug, Clone)]
pub struct Charge {
    /// The bucket's name, unique per gateway and rule.
    pub bucket: String,
    pub limit_micros: i64,
    pub window: Window,
}

impl Charge {
    fn key(&self, index: i64) -> String {
        format!("{}:{}:{index}", self.bucket, self.window.label())
    }

    /// What `current` and `previous` (the windows' counters at `now_ms`) count: the previous
    /// window's weighted by its overlap with the last window length when sliding.
    fn spent(&self, now_ms: i64, current: i64, previous: i64) -> i64 {
        let span = self.window.span(now_ms);
        if !self.window.is_sliding() {
            return current;
        }
        let length = span.end_ms - span.start_ms;
        let weight = length - (now_ms - span.start_ms);
        let previous =
            i64::try_from(i128::from(previous) * i128::from(weight) / i128::from(length.max(1)))
                .unwrap_or(i64::MAX);
        current.saturating_add(previous)
    }
}

/// Which charge refused, and when it may fit again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    pub charge: usize,
    pub retry_after_ms: i64,
}

/// Where a reservation was counted, so it is settled there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Counted {
    Local,
    Redis,
}

const RESERVE: &str = r"
-- KEYS: per charge, the previous and the current window. ARGV[1] the amount, then per charge:
-- limit, window, elapsed, ttl.
local amount = tonumber(ARGV[1])
local charges = #KEYS / 2
for i = 1, charges do
  local at = 1 + (i - 1) * 4
  local limit = tonumber(ARGV[at + 1])
  local window = tonumber(ARGV[at + 2])
  local elapsed = tonumber(ARGV[at + 3])
  local previous = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local current = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if current + math.floor(previous * (window - elapsed) / window) + amount > limit then
    return i
  end
end
for i = 1, charges do
  local at = 1 + (i - 1) * 4
  redis.call('INCRBY', KEYS[2 * i], amount)
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[at + 4])
end
return 0
";

const SETTLE: &str = r"
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('INCRBY', key, ARGV[1])
  end
end
return 0
";

pub struct SpendLedger {
    local: Mutex<HashMap<String, Bucket>>,
    shared: Option<(RedisScope, Script, Script)>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    micros: i64,
    expires_at_ms: i64,
}

impl SpendLedger {
    pub fn in_memory() -> SpendLedger {
        SpendLedger {
            local: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    pub fn on_redis(redis: &RedisHandle, key_prefix: &str) -> SpendLedger {
        let scope = redis.scope(
            key_prefix,
            REDIS_TIMEOUT,
            "spend limits: Redis unavailable; counting in this process",
        );
        SpendLedger {
            local: Mutex::new(HashMap::new()),
            shared: Some((scope, Script::new(RESERVE), Script::new(SETTLE))),
        }
    }

    /// Reservations and settlements answered without Redis (failed or skipped) since start.
    pub fn redis_fallbacks(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |(scope, _, _)| scope.bypasses())
    }

    /// Reserves `micros` in every charge's bucket, or in none: `Err` names the first charge it
    /// would take over its limit.
    pub async fn reserve(
        &self,
        charges: &[Charge],
        micros: i64,
        now_ms: i64,
    ) -> Result<Counted, Refused> {
        if let Some(answer) = self.reserve_in_redis(charges, micros, now_ms).await {
            return answer.map(|()| Counted::Redis);
        }
        self.reserve_locally(charges, micros, now_ms)
            .map(|()| Counted::Local)
    }

    /// Moves a reservation made at `reserved_at_ms` by `delta` micro-USD (the actual cost
    /// minus the reserved one), in the windows it was counted in.
    pub async fn settle(
        &self,
        charges: &[Charge],
        counted: Counted,
        reserved_at_ms: i64,
        delta: i64,
    ) {
        if delta == 0 {
            return;
        }
        let keys = charges
            .iter()
            .map(|charge| charge.key(charge.window.span(reserved_at_ms).index));
        match (counted, &self.shared) {
            (Counted::Redis, Some((scope, _, settle))) => {
                let keys: Vec<String> = keys.map(|key| scope.key(&key)).collect();
                let _: Option<i64> = scope
                    .call(|mut connection| {
                        let mut invocation = settle.prepare_invoke();
                        for key in &keys {
                            invocation.key(key);
                        }
                        invocation.arg(delta);
                        async move { invocation.invoke_async(&mut connection).await }
                    })
                    .await;
            }
            _ => {
                let mut local = self.lock();
                for key in keys {
                    if let Some(bucket) = local.get_mut(&key) {
                        bucket.micros = bucket.micros.saturating_add(delta).max(0);
                    }
                }
            }
        }
    }

    async fn reserve_in_redis(
        &self,
        charges: &[Charge],
        micros: i64,
        now_ms: i64,
    ) -> Option<Result<(), Refused>> {
        let (scope, reserve, _) = self.shared.as_ref()?;
        let mut keys = Vec::with_capacity(charges.len() * 2);
        let mut args = vec![micros];
        for charge in charges {
            let span = charge.window.span(now_ms);
            let window = span.end_ms - span.start_ms;
            keys.push(scope.key(&charge.key(span.index - 1)));
            keys.push(scope.key(&charge.key(span.index)));
            // A fixed or calendar window weighs its predecessor by nothing.
            let elapsed = if charge.window.is_sliding() {
                now_ms - span.start_ms
            } else {
                window
            };
            let ttl = span.end_ms + window - now_ms;
            args.extend([charge.limit_micros, window, elapsed, ttl]);
        }
        let refused: i64 = scope
            .call(|mut connection| {
                let mut invocation = reserve.prepare_invoke();
                for key in &keys {
                    invocation.key(key);
                }
                for arg in &args {
                    invocation.arg(arg);
                }
                async move { invocation.invoke_async(&mut connection).await }
            })
            .await?;
        Some(match usize::try_from(refused) {
            Ok(0) | Err(_) => Ok(()),
            Ok(charge) => Err(refusal(charges, charge - 1, now_ms)),
        })
    }

    fn reserve_locally(&self, charges: &[Charge], micros: i64, now_ms: i64) -> Result<(), Refused> {
        let mut local = self.lock();
        if local.len() + charges.len() > MAX_LOCAL_BUCKETS {
            local.retain(|_, bucket| bucket.expires_at_ms > now_ms);
        }
        let spent = |local: &HashMap<String, Bucket>, key: &str| {
            local
                .get(key)
                .filter(|bucket| bucket.expires_at_ms > now_ms)
                .map_or(0, |bucket| bucket.micros)
        };
        for (index, charge) in charges.iter().enumerate() {
            let span = charge.window.span(now_ms);
            let current = spent(&local, &charge.key(span.index));
            let previous = spent(&local, &charge.key(span.index - 1));
            let over = charge
                .spent(now_ms, current, previous)
                .saturating_add(micros)
                > charge.limit_micros;
            if over || local.len() + charges.len() > MAX_LOCAL_BUCKETS {
                return Err(refusal(charges, index, now_ms));
            }
        }
        for charge in charges {
            let span = charge.window.span(now_ms);
            // Kept while a sliding successor may still weigh it.
            let expires_at_ms = span.end_ms + (span.end_ms - span.start_ms);
            let bucket = local.entry(charge.key(span.index)).or_insert(Bucket {
                micros: 0,
                expires_at_ms,
            });
            bucket.micros = bucket.micros.saturating_add(micros);
        }
        Ok(())
    }

    /// What `charge`'s bucket counts at `now_ms` (reserved and settled), in micro-USD: from
    /// Redis when it answers, else from this process.
    pub async fn spent(&self, charge: &Charge, now_ms: i64) -> i64 {
        let span = charge.window.span(now_ms);
        let (previous_key, current_key) = (charge.key(span.index - 1), charge.key(span.index));
        if let Some((scope, _, _)) = &self.shared {
            let keys = [scope.key(&previous_key), scope.key(&current_key)];
            let found: Option<(Option<i64>, Option<i64>)> = scope
                .call(|mut connection| {
                    let keys = keys.clone();
                    async move {
                        redis::cmd("MGET")
                            .arg(&keys[..])
                            .query_async(&mut connection)
                            .await
                    }
                })
                .await;
            if let Some((previous, current)) = found {
                return charge.spent(now_ms, current.unwrap_or(0), previous.unwrap_or(0));
            }
        }
        let local = self.lock();
        let counted = |key: &str| {
            local
                .get(key)
                .filter(|bucket| bucket.expires_at_ms > now_ms)
                .map_or(0, |bucket| bucket.micros)
        };
        charge.spent(now_ms, counted(&current_key), counted(&previous_key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// When the refusing charge's current window ends: the earliest a fixed window can fit again
/// (a sliding one may fit sooner, as the previous window's weight falls).
fn refusal(charges: &[Charge], charge: usize, now_ms: i64) -> Refused {
    let ends_ms = charges
        .get(charge)
        .map_or(now_ms + 1, |charge| charge.window.span(now_ms).end_ms);
    Refused {
        charge,
        retry_after_ms: ends_ms - now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(limit_micros: i64, sliding: bool) -> Charge {
        Charge {
            bucket: "gw:rule".into(),
            limit_micros,
            window: match sliding {
                true => Window::Sliding(1_000),
                false => Window::Fixed(1_000),
            },
        }
    }

    #[tokio::test]
    async fn a_fixed_window_starts_empty_and_a_sliding_one_remembers_the_last() {
        for (sliding, fits_at_the_edge) in [(false, true), (true, false)] {
            let ledger = SpendLedger::in_memory();
            let charges = [charge(100, sliding)];
            assert!(ledger.reserve(&charges, 100, 10_500).await.is_ok());
            assert!(ledger.reserve(&charges, 1, 10_900).await.is_err());
            // Just after the edge: a fixed window is empty; a sliding one still counts ~99% of
            // the previous window.
            assert_eq!(
                ledger.reserve(&charges, 50, 11_010).await.is_ok(),
                fits_at_the_edge
            );
        }
    }

    #[tokio::test]
    async fn settling_moves_the_reserved_amount_in_its_own_window() {
        let ledger = SpendLedger::in_memory();
        let charges = [charge(100, false)];
        let counted = ledger.reserve(&charges, 80, 5_000).await.unwrap();
        assert!(ledger.reserve(&charges, 30, 5_100).await.is_err());
        ledger.settle(&charges, counted, 5_000, -70).await;
        assert!(ledger.reserve(&charges, 30, 5_200).await.is_ok());
    }

    #[tokio::test]
    async fn spent_counts_what_is_reserved_and_settled_in_the_window() {
        let ledger = SpendLedger::in_memory();
        let sliding = [charge(1_000, true)];
        let counted = ledger.reserve(&sliding, 400, 10_000).await.unwrap();
        ledger.settle(&sliding, counted, 10_000, -100).await;
        assert_eq!(ledger.spent(&sliding[0], 10_500).await, 300);
        // A quarter into the next window, three quarters of the last one still weigh.
        assert_eq!(ledger.spent(&sliding[0], 11_250).await, 225);
        assert_eq!(ledger.spent(&sliding[0], 12_000).await, 0);
    }

    #[tokio::test]
    async fn a_calendar_window_refuses_until_its_period_ends() {
        let ledger = SpendLedger::in_memory();
        let daily = [Charge {
            bucket: "acct::token:t".into(),
            limit_micros: 100,
            window: Window::Calendar(super::super::CalendarPeriod::Day),
        }];
        let noon = 86_400_000 * 3 + 43_200_000;
        assert!(ledger.reserve(&daily, 100, noon).await.is_ok());
        let refused = ledger.reserve(&daily, 1, noon + 1_000).await.unwrap_err();
        assert_eq!(refused.retry_after_ms, 43_200_000 - 1_000);
        assert_eq!(ledger.spent(&daily[0], noon + 1_000).await, 100);
        assert!(ledger.reserve(&daily, 100, 86_400_000 * 4).await.is_ok());
    }

    #[tokio::test]
    async fn a_refusal_reserves_nothing_in_any_rule() {
        let ledger = SpendLedger::in_memory();
        let wide = Charge {
            bucket: "gw:wide".into(),
            ..charge(1_000, false)
        };
        let narrow = Charge {
            bucket: "gw:narrow".into(),
            ..charge(10, false)
        };
        let refused = ledger
            .reserve(&[wide.clone(), narrow], 50, 0)
            .await
            .unwrap_err();
        assert_eq!(refused.charge, 1);
        assert_eq!(refused.retry_after_ms, 1_000);
        // The wide rule was not charged by the refused request: all of it is still free.
        assert!(ledger.reserve(&[wide], 1_000, 1).await.is_ok());
    }
}
