//! Why a request counted in `tollgate_errors_total` failed: its `reason` label, one of a fixed
//! set (docs/metrics.md), so the label cannot grow whatever clients or providers send.

use crate::error::ErrorCode;

/// Every reason: the gateway's error codes, then the two failures the gateway did not decide.
pub(super) const REASONS: [&str; 30] = [
    "gateway_not_found",
    "rate_limited",
    "upstream_unreachable",
    "invalid_provider",
    "unauthorized",
    "upstream_timeout",
    "body_too_large",
    "invalid_path",
    "invalid_header",
    "invalid_body",
    "log_unavailable",
    "request_timeout",
    "uri_too_long",
    "headers_too_large",
    "overloaded",
    "spend_limit_exceeded",
    "byok_alias_not_found",
    "provider_credential_required",
    "out_of_scope",
    "route_not_found",
    "dlp_request_blocked",
    "dlp_response_blocked",
    "guardrail_prompt_blocked",
    "guardrail_response_blocked",
    "guardrail_unavailable",
    "denied_by_policy",
    "policy_limit_exceeded",
    "internal",
    UPSTREAM_STATUS,
    STREAM_INTERRUPTED,
];

/// The provider answered with a status of 400 or more.
const UPSTREAM_STATUS: &str = "upstream_status";
/// The response had begun and was cut: the client left, or the provider's stream broke, stalled
/// or stopped before its end event.
const STREAM_INTERRUPTED: &str = "stream_interrupted";

/// The reason of a failed request, as its index in [`REASONS`]: the gateway error that ended it
/// if there was one, else what its status says.
pub(super) fn reason(code: Option<ErrorCode>, status: Option<u16>) -> usize {
    let name = match code {
        Some(code) => code_name(code),
        None if status.is_some_and(|s| s >= 400) => UPSTREAM_STATUS,
        None => STREAM_INTERRUPTED,
    };
    REASONS
        .iter()
        .position(|listed| *listed == name)
        .unwrap_or(REASONS.len() - 1)
}

/// Written out rather than derived from the variant names: these are label values users alert
/// on, so renaming a variant must not rename them.
fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::GatewayNotFound => "gateway_not_found",
        ErrorCode::RateLimited => "rate_limited",
        // A connection that failed (refused, DNS, TLS); a provider that answered with an error
        // status is `upstream_status` instead.
        ErrorCode::UpstreamFailed => "upstream_unreachable",
        ErrorCode::InvalidProvider => "invalid_provider",
        ErrorCode::Unauthorized => "unauthorized",
        ErrorCode::UpstreamTimeout => "upstream_timeout",
        ErrorCode::BodyTooLarge => "body_too_large",
        ErrorCode::InvalidPath => "invalid_path",
        ErrorCode::InvalidHeader => "invalid_header",
        ErrorCode::InvalidBody => "invalid_body",
        ErrorCode::LogUnavailable => "log_unavailable",
        ErrorCode::RequestTimeout => "request_timeout",
        ErrorCode::UriTooLong => "uri_too_long",
        ErrorCode::HeadersTooLarge => "headers_too_large",
        ErrorCode::Overloaded => "overloaded",
        ErrorCode::SpendLimitExceeded => "spend_limit_exceeded",
        ErrorCode::ByokAliasNotFound => "byok_alias_not_found",
        ErrorCode::ProviderCredentialRequired => "provider_credential_required",
        ErrorCode::OutOfScope => "out_of_scope",
        ErrorCode::RouteNotFound => "route_not_found",
        ErrorCode::DlpRequestBlocked => "dlp_request_blocked",
        ErrorCode::DlpResponseBlocked => "dlp_response_blocked",
        ErrorCode::GuardrailPromptBlocked => "guardrail_prompt_blocked",
        ErrorCode::GuardrailResponseBlocked => "guardrail_response_blocked",
        ErrorCode::GuardrailUnavailable => "guardrail_unavailable",
        ErrorCode::DeniedByPolicy => "denied_by_policy",
        ErrorCode::PolicyLimitExceeded => "policy_limit_exceeded",
        ErrorCode::Internal => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_listed_reason() {
        use ErrorCode::*;
        let codes = [
            GatewayNotFound,
            RateLimited,
            UpstreamFailed,
            InvalidProvider,
            Unauthorized,
            UpstreamTimeout,
            BodyTooLarge,
            InvalidPath,
            InvalidHeader,
            InvalidBody,
            LogUnavailable,
            RequestTimeout,
            UriTooLong,
            HeadersTooLarge,
            Overloaded,
            SpendLimitExceeded,
            ByokAliasNotFound,
            ProviderCredentialRequired,
            OutOfScope,
            RouteNotFound,
            DlpRequestBlocked,
            DlpResponseBlocked,
            GuardrailPromptBlocked,
            GuardrailResponseBlocked,
            GuardrailUnavailable,
            DeniedByPolicy,
            PolicyLimitExceeded,
            Internal,
        ];
        let mut seen = std::collections::HashSet::new();
        for code in codes {
            let index = reason(Some(code), Some(500));
            assert_eq!(REASONS[index], code_name(code), "{code:?} is not listed");
            assert!(seen.insert(index), "{code:?} shares its reason");
        }
        assert_eq!(REASONS[reason(None, Some(429))], "upstream_status");
        assert_eq!(REASONS[reason(None, Some(200))], "stream_interrupted");
        assert_eq!(REASONS[reason(None, None)], "stream_interrupted");
    }
}
