//! A run token's own budget (docs/budgets.md, "A token's rate limit and budget"): a USD limit
//! per window of seconds or per UTC calendar period, reserved and settled in the same ledger as
//! the gateway's spend limits, in one bucket per token whatever gateway it is used on.

use serde_json::{Map, Value, json};

use super::ledger::Charge;
use super::window::{CalendarPeriod, Window};
use crate::gateways::bounds;

/// The most a token's budget may be, in USD: far above any real budget, and far below where
/// micro-USD arithmetic could overflow.
const MAX_LIMIT_USD: f64 = 1_000_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBudget {
    /// USD.
    pub limit: f64,
    pub window: Window,
}

impl TokenBudget {
    /// `{"limit": USD, "window": seconds | "hour" | "day" | "week" | "month", "technique"?:
    /// "fixed" | "sliding"}`; the message names the part that is wrong.
    pub fn parse(value: &Value) -> Result<TokenBudget, String> {
        let Value::Object(object) = value else {
            return Err("must be an object {limit, window} or null".into());
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !["limit", "window", "technique"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown field {:?} (expected limit, window, technique)",
                crate::suggest::shown(unknown)
            ));
        }
        let limit = match object.get("limit").and_then(Value::as_f64) {
            Some(limit) if limit.is_finite() && limit > 0.0 && limit <= MAX_LIMIT_USD => limit,
            _ => {
                return Err(format!(
                    "limit: must be a number of USD above 0 and at most {MAX_LIMIT_USD}"
                ));
            }
        };
        let technique = technique(object)?;
        let window = match object.get("window") {
            Some(Value::Number(n)) => {
                let seconds = n
                    .as_u64()
                    .filter(|s| bounds::SPEND_WINDOW_S.contains(*s))
                    .ok_or_else(|| {
                        format!(
                            "window: seconds {} (or {})",
                            bounds::SPEND_WINDOW_S.must_be(),
                            CalendarPeriod::NAMES
                        )
                    })?;
                let ms = i64::try_from(seconds * 1_000).unwrap_or(i64::MAX);
                match technique {
                    Some("sliding") => Window::Sliding(ms),
                    _ => Window::Fixed(ms),
                }
            }
            Some(Value::String(name)) => {
                let period = CalendarPeriod::parse(name).ok_or_else(|| {
                    format!(
                        "window: a number of seconds or a calendar period: {}",
                        CalendarPeriod::NAMES
                    )
                })?;
                if technique == Some("sliding") {
                    return Err("technique: a calendar window is fixed".into());
                }
                Window::Calendar(period)
            }
            _ => {
                return Err(format!(
                    "window: required, a number of seconds or {}",
                    CalendarPeriod::NAMES
                ));
            }
        };
        Ok(TokenBudget { limit, window })
    }

    pub fn to_json(&self) -> Value {
        match self.window {
            Window::Fixed(ms) => {
                json!({"limit": self.limit, "window": ms / 1_000, "technique": "fixed"})
            }
            Window::Sliding(ms) => {
                json!({"limit": self.limit, "window": ms / 1_000, "technique": "sliding"})
            }
            Window::Calendar(period) => json!({"limit": self.limit, "window": period.name()}),
        }
    }

    /// The token's bucket in the ledger: one per token of the account.
    pub fn charge(&self, account_id: &str, token_id: &str) -> Charge {
        Charge {
            bucket: format!("{account_id}::token:{token_id}"),
            limit_micros: super::to_micros(self.limit),
            window: self.window,
        }
    }

    /// How a refusal names the budget: `cost limit 5 per 86400s, fixed` or `… per day (UTC)`.
    pub fn describe(&self) -> String {
        match self.window {
            Window::Fixed(ms) => format!("cost limit {} per {}s, fixed", self.limit, ms / 1_000),
            Window::Sliding(ms) => {
                format!("cost limit {} per {}s, sliding", self.limit, ms / 1_000)
            }
            Window::Calendar(period) => format!("cost limit {} per {period} (UTC)", self.limit),
        }
    }
}

fn technique(object: &Map<String, Value>) -> Result<Option<&str>, String> {
    match object.get("technique") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) if t == "fixed" || t == "sliding" => Ok(Some(t.as_str())),
        Some(_) => Err("technique: must be \"fixed\" or \"sliding\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_calendar_windows_read_back_the_same() {
        for value in [
            json!({"limit": 5.0, "window": 86400, "technique": "fixed"}),
            json!({"limit": 0.25, "window": 60, "technique": "sliding"}),
            json!({"limit": 100.0, "window": "month"}),
        ] {
            let budget = TokenBudget::parse(&value).unwrap();
            assert_eq!(budget.to_json(), value);
        }
        assert_eq!(
            TokenBudget::parse(&json!({"limit": 1, "window": "day"}))
                .unwrap()
                .window,
            Window::Calendar(CalendarPeriod::Day)
        );
    }

    #[test]
    fn each_mistake_names_its_part() {
        for (value, needle) in [
            (json!({"limit": 0, "window": 60}), "limit"),
            (json!({"limit": -1, "window": 60}), "limit"),
            (json!({"limit": 1}), "window"),
            (json!({"limit": 1, "window": 0}), "window"),
            (json!({"limit": 1, "window": "fortnight"}), "window"),
            (
                json!({"limit": 1, "window": "day", "technique": "sliding"}),
                "technique",
            ),
            (
                json!({"limit": 1, "window": 60, "technique": "leaky"}),
                "technique",
            ),
            (json!({"limit": 1, "window": 60, "per": "user"}), "per"),
            (json!([1, 60]), "object"),
        ] {
            let refused = TokenBudget::parse(&value).unwrap_err();
            assert!(refused.contains(needle), "{value}: {refused}");
        }
    }
}
