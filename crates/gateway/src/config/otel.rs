//! The `[otel]` section: a collector for every gateway's spans, sampling, and the trace link the
//! dashboard shows (docs/observability.md).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::otel::{ContentType, ExportTarget};

/// Server-wide tracing.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// Every gateway's spans go here, besides each gateway's own `otel` collectors.
    pub export: Option<ExportTarget>,
    /// The share of traces kept when the client made no sampling decision, 0.0 to 1.0.
    pub sample_ratio: f64,
    /// The dashboard links a log's trace id through this URL, with `{trace_id}` replaced.
    pub trace_url: Option<String>,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            export: None,
            sample_ratio: 1.0,
            trace_url: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawOtel {
    endpoint: Option<String>,
    headers: BTreeMap<String, String>,
    content_type: Option<String>,
    include_bodies: bool,
    /// A number, or a string from an environment variable (`TOLLGATE_OTEL__SAMPLE_RATIO=0.1`).
    sample_ratio: Option<toml::Value>,
    trace_url: Option<String>,
}

impl RawOtel {
    /// The validated section; each bad key adds one problem naming it.
    pub(super) fn validate(self, problems: &mut Vec<String>) -> OtelConfig {
        let mut config = OtelConfig::default();
        let content_type = match self.content_type.as_deref().map(str::trim) {
            None | Some("" | "json") => ContentType::Json,
            Some("protobuf") => ContentType::Protobuf,
            Some(other) => {
                problems.push(format!(
                    "otel.content_type: `{other}` is not json or protobuf"
                ));
                ContentType::Json
            }
        };
        for (name, value) in &self.headers {
            if let Err(why) = crate::otel::check_header(name, value) {
                problems.push(format!("otel.headers: {why}"));
            }
        }
        match self.endpoint.as_deref().map(str::trim) {
            None | Some("") => {
                if !self.headers.is_empty() || self.include_bodies {
                    problems.push(
                        "otel.endpoint: required when otel.headers or otel.include_bodies is set"
                            .into(),
                    );
                }
            }
            Some(url) => match crate::otel::check_url(url) {
                Ok(url) => {
                    config.export = Some(ExportTarget {
                        url,
                        headers: self
                            .headers
                            .into_iter()
                            .map(|(name, value)| (name.to_ascii_lowercase(), value))
                            .collect(),
                        authorization: None,
                        content_type,
                        include_bodies: self.include_bodies,
                    })
                }
                Err(why) => problems.push(format!("otel.endpoint: {why}")),
            },
        }
        let ratio = match &self.sample_ratio {
            None => Some(1.0),
            Some(toml::Value::Float(ratio)) => Some(*ratio),
            Some(toml::Value::Integer(ratio)) => {
                Some(f64::from(i32::try_from(*ratio).unwrap_or(-1)))
            }
            Some(toml::Value::String(text)) => text.trim().parse().ok(),
            Some(_) => None,
        };
        match ratio.filter(|ratio| (0.0..=1.0).contains(ratio)) {
            Some(ratio) => config.sample_ratio = ratio,
            None => problems.push("otel.sample_ratio: must be a number from 0.0 to 1.0".into()),
        }
        if let Some(template) = self.trace_url.filter(|t| !t.trim().is_empty()) {
            match template.contains("{trace_id}")
                && crate::otel::check_url(&template.replace("{trace_id}", "0")).is_ok()
            {
                true => config.trace_url = Some(template),
                false => problems.push(
                    "otel.trace_url: must be an http(s) URL containing {trace_id}, such as \
                     http://localhost:16686/trace/{trace_id}"
                        .into(),
                ),
            }
        }
        config
    }
}
