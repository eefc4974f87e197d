//! DLP on tool calls (docs/dlp.md, docs/mcp.md): a call's arguments are scanned with the
//! gateway's request policies before it goes upstream (BLOCK refuses it with 2029, REDACT
//! rewrites what the server receives and the row keeps), and its result with the response
//! policies (BLOCK replaces it with 2030, REDACT rewrites what the client receives).

use rmcp::model::CallToolResult;
use serde_json::{Map, Value};

use super::server::Admitted;
use crate::dlp::{Action, Check, Report, SideScan, scan_body};
use crate::error::{ErrorCode, GatewayError};
use crate::proxy::dlp::{blocked, custom_scanners};

/// The scans a gateway's policies ask for on one tool call, and what they found.
pub struct ToolDlp {
    request: Option<SideScan>,
    response: Option<SideScan>,
    pub report: Report,
}

impl ToolDlp {
    pub async fn of(admitted: &Admitted) -> Result<ToolDlp, GatewayError> {
        let gateway = &admitted.gateway;
        let custom = custom_scanners(&admitted.state, gateway).await?;
        let settings = gateway.settings.dlp.as_ref();
        Ok(ToolDlp {
            request: SideScan::for_settings_with(settings, Check::Request, custom.as_deref()),
            response: SideScan::for_settings_with(settings, Check::Response, custom.as_deref()),
            report: Report::default(),
        })
    }

    /// Scans the arguments, rewriting them when a REDACT policy matched; `Err` is the refusal.
    pub fn screen_arguments(
        &mut self,
        arguments: &mut Option<Map<String, Value>>,
    ) -> Result<(), GatewayError> {
        let Some(scan) = &self.request else {
            return Ok(());
        };
        let scanned = scan_body(scan, &serde_json::to_vec(arguments).unwrap_or_default());
        self.settle(scanned, arguments, ErrorCode::DlpRequestBlocked)
    }

    /// Scans the result, rewriting it when a REDACT policy matched; `Err` is the refusal.
    pub fn screen_result(&mut self, result: &mut CallToolResult) -> Result<(), GatewayError> {
        let Some(scan) = &self.response else {
            return Ok(());
        };
        let scanned = scan_body(scan, &serde_json::to_vec(result).unwrap_or_default());
        self.settle(scanned, result, ErrorCode::DlpResponseBlocked)
    }

    fn settle<T: serde::de::DeserializeOwned>(
        &mut self,
        scanned: crate::dlp::BodyScan,
        value: &mut T,
        code: ErrorCode,
    ) -> Result<(), GatewayError> {
        let action = scanned.report.action;
        self.report.merge(scanned.report);
        if action == Some(Action::Block) {
            return Err(blocked(code, &self.report));
        }
        // The rewrite only replaced text inside strings, so it reads back as the same type.
        if let Some(rewritten) = scanned
            .redacted
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            *value = rewritten;
        }
        Ok(())
    }
}
