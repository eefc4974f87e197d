//! What the process-level tests share: starting `tollgate serve`, a PostgreSQL database and a
//! Redis key prefix of their own, and a TCP proxy a test can cut.

#![allow(
    dead_code,
    reason = "each test binary includes this module and uses part of it"
)]

pub mod cli;
pub mod netns;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod tcp_proxy;

/// A name no other test run uses: time and process id.
pub fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:x}{}", std::process::id())
}
