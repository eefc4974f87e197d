//! What the tests of every crate share: a PostgreSQL database and a Redis key prefix of the
//! test's own on the machine's shared servers, each removed when its guard goes (also when the
//! test fails), so tests run in parallel and never touch anything else there. Never a flush.

#[expect(
    clippy::disallowed_methods,
    reason = "a tokio-postgres client's connection driver, which ends when the client drops; \
              this crate has no tracker of the gateway's to put it on"
)]
pub mod postgres;
pub mod redis;

/// A name no other test, in this process or another, is using.
pub fn unique_name() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
