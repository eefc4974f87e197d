//! Gateways: their settings (the gateway object of docs/architecture.md), the bounds every
//! setting and per-request option shares, validation, and the registry the proxy reads.

pub mod bounds;
mod patch;
mod registry;
mod settings;

pub use patch::{Patch, SettingsPatch};
pub use registry::{ChangeError, GatewayRegistry, LOCAL_ACCOUNT};
pub use settings::{
    Backoff, FieldError, Gateway, GatewaySettings, LogStrategy, RateLimitKey, RateLimitTechnique,
};
