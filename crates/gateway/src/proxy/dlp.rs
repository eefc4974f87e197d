//! DLP on an upstream call (docs/dlp.md): the request body scanned before anything is sent
//! (BLOCK refuses with 400/2029, REDACT rewrites what the upstream receives and the log keeps),
//! the response scanned on its way back (a body read whole, a stream as it flows: relay.rs),
//! and what was found carried to the `cf-aig-dlp` header and the log row.

use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;

use super::plan::UpstreamCall;
use crate::dlp::{Action, Check, CustomScanners, Report, SideScan, scan_body};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;

/// The response header naming what matched (Cloudflare's).
pub const DLP_HEADER: &str = "cf-aig-dlp";

/// The most of a response body that is read whole to be scanned; a larger one is relayed
/// unscanned (docs/dlp.md).
pub const MAX_SCANNED_BODY: usize = 16 * 1024 * 1024;

/// What DLP knows of one call: the request's findings, and the response's scan if a policy
/// checks responses.
pub struct CallDlp {
    pub request: Report,
    pub response: Option<SideScan>,
}

impl CallDlp {
    /// Scans `call`'s body with the gateway's request policies and rewrites it when a REDACT
    /// policy matched. `Err` is the 400/2029 refusal, with the findings for its log row.
    /// `custom`: the account's custom profiles, when the gateway's policies name any.
    pub fn screen(
        gateway: &Gateway,
        call: &mut UpstreamCall<'_>,
        custom: Option<&CustomScanners>,
    ) -> Result<CallDlp, (GatewayError, Report)> {
        let settings = gateway.settings.dlp.as_ref();
        let response = SideScan::for_settings_with(settings, Check::Response, custom);
        let Some(scan) = SideScan::for_settings_with(settings, Check::Request, custom) else {
            return Ok(CallDlp {
                request: Report::default(),
                response,
            });
        };
        let result = scan_body(&scan, &call.body);
        match result.report.action {
            Some(Action::Block) => Err((
                blocked(ErrorCode::DlpRequestBlocked, &result.report),
                result.report,
            )),
            _ => {
                if let Some(redacted) = result.redacted {
                    call.body = redacted;
                }
                Ok(CallDlp {
                    request: result.report,
                    response,
                })
            }
        }
    }
}

/// The account's custom profiles, compiled, when the gateway's DLP policies name any
/// (docs/dlp.md, "Custom profiles"); read from the store at most once a second per account.
pub async fn custom_scanners(
    state: &crate::state::AppState,
    gateway: &Gateway,
) -> Result<Option<std::sync::Arc<CustomScanners>>, GatewayError> {
    let names_custom = gateway
        .settings
        .dlp
        .as_ref()
        .is_some_and(|dlp| !dlp.custom_profiles().is_empty());
    if !names_custom {
        return Ok(None);
    }
    let now_ms = state.clock().now_ms();
    state
        .dlp_profiles()
        .of_account(state.store().as_ref(), &gateway.account_id, now_ms)
        .await
        .map(Some)
        .map_err(|error| {
            // A policy that may BLOCK cannot run without its profile: refused, not skipped.
            tracing::error!(%error, "could not read the account's custom DLP profiles");
            GatewayError::internal()
        })
}

/// The refusal of blocked content: 400 with code 2029 (request) or 2030 (response), and the
/// `cf-aig-dlp` header saying what matched.
pub fn blocked(code: ErrorCode, report: &Report) -> GatewayError {
    let message = match code {
        ErrorCode::DlpRequestBlocked => "Request content blocked due to DLP policy violations",
        _ => "Response content blocked due to DLP policy violations",
    };
    GatewayError::new(code, message).with_header(DLP_HEADER, report.to_json())
}

/// Sets `cf-aig-dlp` when anything matched.
pub fn mark(response: &mut Response, report: &Report) {
    if report.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&report.to_json().to_string()) {
        response.headers_mut().insert(DLP_HEADER, value);
    }
}

/// What a response body read whole leads to.
pub enum BodyVerdict {
    /// Sent as it is, or as rewritten (REDACT).
    Send(Bytes),
    /// Replaced by the 400/2030 refusal.
    Block(GatewayError),
}

/// Scans a whole response body; its findings are added to `report`.
pub fn screen_response(scan: &SideScan, body: Bytes, report: &mut Report) -> BodyVerdict {
    let result = scan_body(scan, &body);
    let action = result.report.action;
    report.merge(result.report);
    match action {
        Some(Action::Block) => BodyVerdict::Block(blocked(ErrorCode::DlpResponseBlocked, report)),
        _ => BodyVerdict::Send(result.redacted.unwrap_or(body)),
    }
}

/// The log's `dlp` value: the action and the matched entries (`profile.entry`), with the
/// findings as the header gives them; `None` when nothing matched.
pub fn log_value(report: &Report) -> Option<String> {
    if report.is_empty() {
        return None;
    }
    let mut value = report.to_json();
    value["matches"] = serde_json::json!(report.entry_ids());
    Some(value.to_string())
}
