//! DLP on an upstream call (docs/dlp.md): the request body scanned before anything is sent
//! (BLOCK refuses with 400/2029, REDACT rewrites what the upstream receives and the log keeps),
//! the response scanned on its way back (a body read whole, a stream as it flows: relay.rs),
//! and what was found carried to the `cf-aig-dlp` header and the log row.

use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;

use super::plan::UpstreamCall;
use crate::dlp::{Action, Check, Report, SideScan, scan_body};
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
    pub fn screen(
        gateway: &Gateway,
        call: &mut UpstreamCall<'_>,
    ) -> Result<CallDlp, (GatewayError, Report)> {
        let settings = gateway.settings.dlp.as_ref();
        let response = SideScan::for_settings(settings, Check::Response);
        let Some(scan) = SideScan::for_settings(settings, Check::Request) else {
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
