//! Why an attempt got no response from the provider: the client's error names the kind of
//! failure (connection refused, DNS, TLS, reset, timeout) and never the address; the log row
//! and the server log also name the URL called (without its query, which may hold a key).

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use super::client::UpstreamError;
use super::connect::ConnectTimedOut;
use super::dns::{self, DnsError};
use crate::error::{ErrorCode, GatewayError};

/// An attempt that ended without a response head.
pub struct AttemptFailure {
    /// What the client is told, when this was the last attempt.
    pub error: GatewayError,
    /// What the log row and the server log say: the cause and the URL.
    pub cause: String,
}

impl AttemptFailure {
    /// No response head within the attempt's timeout.
    pub fn timed_out(timeout: Duration, url: &str) -> AttemptFailure {
        AttemptFailure {
            error: timed_out(),
            cause: format!(
                "timed out after {} ms waiting for the response head (calling {})",
                timeout.as_millis(),
                without_query(url)
            ),
        }
    }

    /// The request could not be sent or got no answer. A failed lookup or connect sent
    /// nothing, so either is retried like any connection failure.
    pub fn of_send(error: &UpstreamError, url: &str, provider: &str) -> AttemptFailure {
        let url = without_query(url);
        let kind = classify(error);
        // What the client is told, and what the row says before the URL (the same, or with
        // detail the client must not see: the host name of a failed lookup).
        let (said, row) = match &kind {
            Kind::Dns(dns) => {
                let said = match dns {
                    DnsError::TimedOut { .. } => "DNS lookup of its host timed out",
                    DnsError::Failed { .. } => "DNS lookup of its host failed",
                };
                (said, dns.to_string())
            }
            Kind::ConnectTimeout => ("connect timed out", String::new()),
            Kind::Refused => ("connection refused", String::new()),
            Kind::Reset => ("connection reset before the response", String::new()),
            Kind::Tls(detail) => (
                "TLS handshake failed",
                format!("TLS handshake failed: {detail}"),
            ),
            Kind::Timeout => {
                return AttemptFailure {
                    error: timed_out(),
                    cause: format!("timed out (calling {url})"),
                };
            }
            Kind::Other => (
                "request failed",
                format!("request failed: {}", innermost(error)),
            ),
        };
        let row = if row.is_empty() { said } else { &row };
        let cause = format!("{row} (calling {url})");
        // The resolver warned once for a failed lookup; the requests answered from it are not
        // repeated in the server log.
        if !matches!(kind, Kind::Dns(_)) {
            tracing::warn!(provider, %cause, "provider unreachable");
        }
        AttemptFailure {
            error: GatewayError::new(
                ErrorCode::UpstreamFailed,
                format!("Provider unreachable: {said}"),
            ),
            cause,
        }
    }
}

fn timed_out() -> GatewayError {
    GatewayError::new(
        ErrorCode::UpstreamTimeout,
        "Request timed out waiting for the provider",
    )
}

enum Kind<'a> {
    Dns(&'a DnsError),
    ConnectTimeout,
    Refused,
    Reset,
    Tls(String),
    Timeout,
    Other,
}

fn classify(error: &UpstreamError) -> Kind<'_> {
    if let Some(dns) = dns::cause(error) {
        return Kind::Dns(dns);
    }
    for cause in causes(error).skip(1) {
        if cause.is::<ConnectTimedOut>() {
            return Kind::ConnectTimeout;
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Kind::Tls(tls.to_string());
        }
        if let Some(mut io) = cause.downcast_ref::<io::Error>() {
            // Connectors wrap I/O errors in I/O errors; the innermost says what happened.
            while let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<io::Error>()) {
                io = inner;
            }
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return Kind::Refused,
                io::ErrorKind::TimedOut => return Kind::Timeout,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return Kind::Reset,
                // rustls reports a handshake failure as an io::Error wrapping its own error.
                _ if io
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    return Kind::Tls(io.to_string());
                }
                _ => {}
            }
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() {
                return Kind::Reset;
            }
            if hyper.is_timeout() {
                return Kind::Timeout;
            }
        }
    }
    Kind::Other
}

/// The deepest cause's words (the outer ones are a client's generic "client error").
pub fn innermost(error: &(dyn StdError + 'static)) -> String {
    causes(error)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// An error and the errors behind it, outermost first.
pub fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&cause| cause.source())
}

/// The URL as the row may show it: no query (a Gemini `?key=`), no user information.
fn without_query(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or("").to_owned(),
    }
}
