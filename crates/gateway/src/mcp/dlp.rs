//! DLP on tool calls, prompts and resources (docs/dlp.md, docs/mcp.md): a call's (or a
//! prompt's) arguments are scanned with the gateway's request policies before it goes upstream
//! (BLOCK refuses it with 2029, REDACT rewrites what the server receives and the row keeps),
//! and its result (the prompt's messages, the text of a resource's contents) with the response
//! policies (BLOCK replaces it with 2030, REDACT rewrites what the client receives and the row
//! keeps). A resource's blobs are not scanned: they are binary, as an upload is.

use rmcp::model::{ReadResourceResult, ResourceContents};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::server::Admitted;
use crate::dlp::{Action, Check, Report, SideScan, scan_body};
use crate::error::{ErrorCode, GatewayError};
use crate::proxy::dlp::{blocked, custom_scanners};

/// The scans a gateway's policies ask for on one request to a server (a tool call, a prompt
/// got, a resource read), and what they found.
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

    /// Scans a tool's or a prompt's arguments, rewriting them when a REDACT policy matched; `Err` is the refusal.
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

    /// Scans a result (a tool's, a prompt's), every string in it as in a model response's body,
    /// rewriting it when a REDACT policy matched; `Err` is the refusal.
    pub fn screen_result<T: Serialize + DeserializeOwned>(
        &mut self,
        result: &mut T,
    ) -> Result<(), GatewayError> {
        let Some(scan) = &self.response else {
            return Ok(());
        };
        let scanned = scan_body(scan, &serde_json::to_vec(result).unwrap_or_default());
        self.settle(scanned, result, ErrorCode::DlpResponseBlocked)
    }

    /// Scans the text of a resource's contents (only the text: not its URI, MIME type or
    /// blobs), rewriting it when a REDACT policy matched; `Err` is the refusal.
    pub fn screen_resource(&mut self, result: &mut ReadResourceResult) -> Result<(), GatewayError> {
        let Some(scan) = &self.response else {
            return Ok(());
        };
        let texts: Vec<&str> = result.contents.iter().filter_map(text_of).collect();
        if texts.is_empty() {
            return Ok(());
        }
        let scanned = scan_body(scan, &serde_json::to_vec(&texts).unwrap_or_default());
        let mut rewritten: Vec<String> = texts.into_iter().map(str::to_owned).collect();
        self.settle(scanned, &mut rewritten, ErrorCode::DlpResponseBlocked)?;
        let mut rewritten = rewritten.into_iter();
        for contents in &mut result.contents {
            if let ResourceContents::TextResourceContents { text, .. } = contents
                && let Some(new) = rewritten.next()
            {
                *text = new;
            }
        }
        Ok(())
    }

    fn settle<T: DeserializeOwned>(
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

fn text_of(contents: &ResourceContents) -> Option<&str> {
    match contents {
        ResourceContents::TextResourceContents { text, .. } => Some(text),
        _ => None,
    }
}
