//! What the process-level tests share: starting `tollgate serve`, the CLI, network namespaces
//! and a TCP proxy a test can cut. A database and a Redis prefix of their own come from
//! `tollgate-test-support`, which every crate's tests share.

#![allow(
    dead_code,
    reason = "each test binary includes this module and uses part of it"
)]

pub mod cli;
pub mod netns;
pub mod process;
pub mod tcp_proxy;
