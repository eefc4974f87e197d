//! The times the verbs take (`--since`, `--until`): an RFC 3339 time, or an age counted back
//! from now such as `90s`, `30m`, `1h`, `7d`, `2w`.

use anyhow::{Context, bail};
use tollgate_gateway::clock::{Clock, SystemClock};

/// `text` as Unix milliseconds, ages counted back from `now_ms`.
pub fn parse_ms(flag: &str, text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&at| at > 0)
        .with_context(|| bad(flag, text))?;
    let (number, unit) = text.split_at(split);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => bail!(bad(flag, text)),
    };
    let age = number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .with_context(|| bad(flag, text))?;
    Ok(now_ms.saturating_sub(age))
}

pub fn now_ms() -> i64 {
    SystemClock.now_ms()
}

/// `ms` as RFC 3339, for the analytics API.
pub fn rfc3339(ms: i64) -> anyhow::Result<String> {
    Ok(jiff::Timestamp::from_millisecond(ms)
        .context("time out of range")?
        .to_string())
}

fn bad(flag: &str, text: &str) -> String {
    format!("{flag}: `{text}` is neither an RFC 3339 time nor an age such as 30m, 1h or 7d")
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn times_and_ages() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_ms("--since", "1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_ms("--since", "90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_ms("--since", "2w", now).unwrap(), now - 1_209_600_000);
        assert_eq!(
            parse_ms("--since", "2023-11-14T22:13:20.5Z", now).unwrap(),
            1_700_000_000_500
        );
        for bad in ["", "h", "1y", "-1h", "1.5h", "99999999999999999999d"] {
            let error = parse_ms("--since", bad, now).unwrap_err().to_string();
            assert!(error.starts_with("--since:"), "{bad}: {error}");
        }
    }
}
