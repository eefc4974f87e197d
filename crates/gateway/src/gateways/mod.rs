//! Gateways: their settings (SPEC §13 gateway object), validation, and the registry the proxy reads.

mod registry;
mod settings;

pub use registry::{ChangeError, GatewayRegistry, LOCAL_ACCOUNT};
pub use settings::{
    Backoff, FieldError, Gateway, GatewaySettings, LogStrategy, RateLimitKey, RateLimitTechnique,
};
