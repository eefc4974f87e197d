//! Integration tests: a real gateway on a loopback port in front of the mock upstream.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod analytics;
mod analytics_groups;
mod auth;
mod bad_input;
mod budgets;
mod cache;
mod cardinality;
mod compat;
mod compat_messages;
mod compat_responses;
mod custom_providers;
mod dlp;
mod dlp_profiles;
mod dlp_test;
mod egress;
mod errors;
mod evaluations;
mod faults;
mod guard;
mod guardrails;
mod h2_abuse;
mod keys;
mod logs;
mod logs_api;
mod management;
mod mcp;
mod mcp_sessions;
mod metrics;
mod otel;
mod policies;
mod proxy;
mod ratelimit;
mod retries;
mod routing;
mod shared_store;
mod sigv4;
mod stream_usage;
mod streaming;
mod support;
mod tokens_limits;
mod tokens_scope;
mod universal;
mod vertex;
mod websockets;
