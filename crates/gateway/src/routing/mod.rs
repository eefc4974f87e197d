//! Dynamic routing (docs/routing.md): named, versioned request flows of a gateway, called as
//! `model: "dynamic/{route}"` on the unified endpoint.
//!
//! - [`condition`]: the conditions of conditional elements (MongoDB-like operators).
//! - [`graph`]: a version's elements, read and checked when it is saved.
//! - [`eval`]: one request's walk through the deployed version.
//! - [`registry`]: every route's live version in memory, reloaded after each change here and,
//!   on PostgreSQL, after each change any instance makes (the change listener).
//! - [`manage`]: create, rename, delete, add versions and deploy (the management API's
//!   `…/routes`), and the objects it answers with.
//! - [`limits`]: the rate and budget elements, on the gateway's limiter and spend ledger.

pub mod condition;
pub mod eval;
pub mod graph;
pub mod limits;
mod manage;
mod registry;

pub use manage::RouteError;
pub use registry::{Deployed, Routes};

/// The prefix of a `model` that names a route instead of a provider.
pub const DYNAMIC_PREFIX: &str = "dynamic/";

/// The metadata entry each of a route's calls carries the route's name in (its log row's; the
/// analytics' `group_by=route` reads it).
pub const ROUTE_KEY: &str = "cf.route";
