//! Tollgate's gateway library: everything the `tollgate` binary runs, testable without a process.
//!
//! Layout (a request's path through the code):
//! - [`config`]: the TOML file, environment overrides and flags, parsed once into validated types.
//! - [`app`]: the router and the one place the middleware order is written down.
//! - [`proxy`]: the provider pass-through (docs/architecture.md): path guard, header rules, upstream call, streaming.
//! - [`providers`]: the built-in provider table (every provider quirk) and custom providers.
//! - [`auth`]: the admin token, run tokens and gateway authentication.
//! - [`cache`]: the response cache: key, memory or Redis store, single flight.
//! - [`clock`]: wall-clock time, replaceable in tests (TTLs, rate-limit windows), and the
//!   monotonic clock for durations and deadlines.
//! - [`convert`]: saturating integer conversions (durations to milliseconds, counts to SQL's i64).
//! - [`compat`]: the unified OpenAI-compatible endpoint's translation: Chat Completions to and
//!   from Anthropic Messages and Gemini generateContent, streaming included.
//! - [`dlp`]: data loss prevention: built-in and custom profiles, the gateway's `dlp` policies,
//!   request and response scanning (streams included).
//! - [`gateways`]: gateway settings and the in-memory registry the hot path reads.
//! - [`keys`]: stored provider keys (BYOK): encrypted at rest, chosen per request.
//! - [`redis`]: the one Redis connection and circuit breaker the cache and the limiter share.
//! - [`routing`]: dynamic routes: versioned graphs of conditions, splits, limits and models,
//!   called as `model: "dynamic/{route}"`.
//! - [`ratelimit`]: request limits per gateway, IP or header: fixed and sliding windows, in
//!   memory or in Redis with the local counters as fallback.
//! - [`pricing`]: the model price table (bundled genai-prices data + overrides) and request cost.
//! - [`logs`]: the request log pipeline: spool with group commit, shipper to the store.
//! - [`store`]: storage traits and their SQLite implementation.
//! - [`api`]: the management REST API under `/client/v4` and health routes.
//! - [`dashboard`]: the browser dashboard, built into the binary and served at `/`.
//! - [`analytics`]: rollups per minute/hour/day with latency sketches, and their queries.
//! - [`error`]: the gateway's error codes and their JSON rendering, in one place.
//! - [`metrics`]: Prometheus metrics, fed from the same end records as logs and analytics.
//! - [`server`]: listeners, TCP options and graceful shutdown.
//! - [`suggest`]: the nearest known name to a mistyped one, for "did you mean" messages.
//! - [`tasks`]: background tasks, spawned on trackers that shutdown waits for.
//! - [`usage`]: token usage and the model name read from provider responses as they stream.

pub mod analytics;
pub mod api;
pub mod app;
pub mod auth;
pub mod budgets;
pub mod cache;
pub mod clock;
pub mod compat;
pub mod config;
pub mod convert;
pub mod dashboard;
pub mod dlp;
pub mod error;
pub mod evaluations;
pub mod gateways;
pub mod guardrails;
pub mod keys;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod mirror;
pub mod otel;
pub mod policies;
pub mod pricing;
pub mod providers;
pub mod proxy;
pub mod ratelimit;
pub mod redis;
pub mod routing;
pub mod server;
pub mod state;
pub mod store;
pub mod suggest;
pub mod tasks;
pub mod usage;
