//! Analytics (docs/analytics.md): rollups kept as requests complete, per minute, hour and day, per
//! account, gateway, provider, model, status class and cache status, with latency sketches —
//! and the queries that read them. Rollups are made by the log shipper from end records, in the
//! same transaction as the rows and the checkpoint, so they are exactly as durable as the logs
//! and never counted twice; ends of requests without a row are summed in memory until that
//! batch (docs/analytics.md, "Durability of requests without a log row").

mod query;
mod rollup;
mod sketch;

pub use query::{
    AnalyticsQuery, GroupBy, GroupedRow, MAX_GROUPED_ROWS, Measures, analytics_result,
    grouped_result,
};
pub use rollup::{
    Resolution, RollupDelta, RollupKey, RollupMeasures, RollupRow, RollupTally, rollup_deltas,
};
pub use sketch::{LatencySketch, RELATIVE_ERROR};

#[cfg(test)]
mod tests;
