//! The windows spend is counted in (docs/budgets.md): fixed and sliding ones of a length in
//! milliseconds, aligned to multiples of it since the Unix epoch, and calendar periods in UTC
//! (an hour, a day from 00:00, a week from Monday 00:00, a month from the 1st), which a run
//! token's budget and a policy's limit use.

use std::fmt;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 1970-01-01 was a Thursday: Monday-aligned weeks start 4 days into the epoch's.
const WEEK_OFFSET_MS: i64 = 4 * DAY_MS;

/// A calendar period in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalendarPeriod {
    Hour,
    Day,
    Week,
    Month,
}

impl CalendarPeriod {
    pub const NAMES: &'static str = "hour, day, week or month";

    /// `hour`, `day`, `week`, `month`: a run token's spelling.
    pub fn parse(text: &str) -> Option<CalendarPeriod> {
        match text {
            "hour" => Some(CalendarPeriod::Hour),
            "day" => Some(CalendarPeriod::Day),
            "week" => Some(CalendarPeriod::Week),
            "month" => Some(CalendarPeriod::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CalendarPeriod::Hour => "hour",
            CalendarPeriod::Day => "day",
            CalendarPeriod::Week => "week",
            CalendarPeriod::Month => "month",
        }
    }
}

impl fmt::Display for CalendarPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a bucket's spend is counted over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Aligned windows of this many milliseconds; each starts empty.
    Fixed(i64),
    /// As fixed, plus the previous window's spend weighted by its overlap with the last
    /// window length.
    Sliding(i64),
    Calendar(CalendarPeriod),
}

/// One window: its number (consecutive windows have consecutive numbers) and its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub index: i64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// The window `now_ms` falls in.
    pub fn span(self, now_ms: i64) -> Span {
        match self {
            Window::Fixed(length) | Window::Sliding(length) => aligned(now_ms, length.max(1), 0),
            Window::Calendar(CalendarPeriod::Hour) => aligned(now_ms, HOUR_MS, 0),
            Window::Calendar(CalendarPeriod::Day) => aligned(now_ms, DAY_MS, 0),
            Window::Calendar(CalendarPeriod::Week) => aligned(now_ms, 7 * DAY_MS, WEEK_OFFSET_MS),
            Window::Calendar(CalendarPeriod::Month) => month(now_ms),
        }
    }

    pub fn is_sliding(self) -> bool {
        matches!(self, Window::Sliding(_))
    }

    /// What the bucket's keys carry, so that two windows of one bucket never share a counter:
    /// a length in milliseconds, or the period's name.
    pub fn label(self) -> String {
        match self {
            Window::Fixed(length) | Window::Sliding(length) => length.to_string(),
            Window::Calendar(period) => period.name().to_owned(),
        }
    }
}

fn aligned(now_ms: i64, length: i64, offset: i64) -> Span {
    let index = (now_ms - offset).div_euclid(length);
    let start_ms = index * length + offset;
    Span {
        index,
        start_ms,
        end_ms: start_ms + length,
    }
}

/// The UTC month of `now_ms`, numbered in months since January 1970.
fn month(now_ms: i64) -> Span {
    let utc = jiff::tz::Offset::UTC;
    let at = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let date = utc.to_datetime(at).date();
    let first = date.first_of_month();
    let next = first.last_of_month().tomorrow().unwrap_or(first);
    let start_of = |day: jiff::civil::Date| {
        utc.to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
            .map_or(now_ms, |t| t.as_millisecond())
    };
    let index = (i64::from(date.year()) - 1970) * 12 + i64::from(date.month()) - 1;
    Span {
        index,
        start_ms: start_of(first),
        end_ms: start_of(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn calendar_periods_start_where_utc_calendars_do() {
        let now = at("2026-02-18T15:42:07Z");
        let day = Window::Calendar(CalendarPeriod::Day).span(now);
        assert_eq!(
            (day.start_ms, day.end_ms),
            (at("2026-02-18T00:00:00Z"), at("2026-02-19T00:00:00Z"))
        );
        let week = Window::Calendar(CalendarPeriod::Week).span(now);
        // 2026-02-16 is a Monday.
        assert_eq!(
            (week.start_ms, week.end_ms),
            (at("2026-02-16T00:00:00Z"), at("2026-02-23T00:00:00Z"))
        );
        let month = Window::Calendar(CalendarPeriod::Month).span(now);
        assert_eq!(
            (month.start_ms, month.end_ms),
            (at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z"))
        );
        let december = Window::Calendar(CalendarPeriod::Month).span(at("2026-12-31T23:59:59Z"));
        assert_eq!(december.end_ms, at("2027-01-01T00:00:00Z"));
        assert_eq!(
            december.index + 1,
            Window::Calendar(CalendarPeriod::Month)
                .span(at("2027-01-01T00:00:00Z"))
                .index
        );
        let hour = Window::Calendar(CalendarPeriod::Hour).span(now);
        assert_eq!(hour.start_ms, at("2026-02-18T15:00:00Z"));
    }

    #[test]
    fn fixed_windows_align_to_the_epoch() {
        let span = Window::Fixed(1_000).span(10_500);
        assert_eq!(
            (span.index, span.start_ms, span.end_ms),
            (10, 10_000, 11_000)
        );
        assert_eq!(Window::Fixed(1_000).span(-1).index, -1);
    }
}
