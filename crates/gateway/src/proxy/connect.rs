//! How the upstream client opens a connection: directly, or through the egress proxy (an HTTP
//! `CONNECT` tunnel or SOCKS5), and the whole of it under the connect timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::Uri;
use http::uri::{Authority, Scheme};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use super::dns::Resolver;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TCP to the provider, or to the proxy that reaches it.
#[derive(Clone)]
pub struct EgressConnector {
    tcp: HttpConnector<Resolver>,
    /// The configured proxy for every request, else the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`
    /// environment (docs/configuration.md, `egress_proxy`); `None` when neither names one.
    proxies: Option<std::sync::Arc<Matcher>>,
}

impl EgressConnector {
    pub fn new(tcp: HttpConnector<Resolver>, proxy: Option<&str>) -> anyhow::Result<Self> {
        let matcher = match proxy {
            Some(url) => {
                check_proxy_url(url).map_err(anyhow::Error::msg)?;
                Matcher::builder().all(url.to_owned()).build()
            }
            None => Matcher::from_env(),
        };
        // A matcher that intercepts neither scheme never will (the no-proxy list only narrows).
        let probe = |url| matcher.intercept(&Uri::from_static(url)).is_some();
        let any = probe("http://example.com/") || probe("https://example.com/");
        Ok(EgressConnector {
            tcp,
            proxies: any.then(|| std::sync::Arc::new(matcher)),
        })
    }
}

impl Service<Uri> for EgressConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxies.as_ref().and_then(|m| m.intercept(&dst)) else {
            return self.tcp.call(dst).map(|r| r.map_err(Into::into)).boxed();
        };
        let dst = with_port(dst);
        match proxy.uri().scheme_str() {
            Some("http") => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                tunnel.call(dst).map(|r| r.map_err(Into::into)).boxed()
            }
            Some(scheme @ ("socks5" | "socks5h")) => {
                let mut socks = SocksV5::new(proxy.uri().clone(), self.tcp.clone())
                    // `socks5h` lets the proxy resolve the provider's name.
                    .local_dns(scheme == "socks5");
                if let Some((user, pass)) = proxy.raw_auth() {
                    socks = socks.with_auth(user.to_owned(), pass.to_owned());
                }
                socks.call(dst).map(|r| r.map_err(Into::into)).boxed()
            }
            _ => {
                let error = unsupported(&proxy);
                async move { Err(error.into()) }.boxed()
            }
        }
    }
}

/// Checks an `egress_proxy` setting: the schemes the connector speaks, and a host.
pub fn check_proxy_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a proxy URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "socks5" | "socks5h") {
        return Err(format!(
            "`{url}`: the proxy's scheme must be http, socks5 or socks5h (TLS to the provider \
             runs end to end through an http proxy's CONNECT tunnel)"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` names no proxy host"));
    }
    Ok(())
}

fn unsupported(proxy: &Intercept) -> String {
    format!(
        "proxy scheme `{}` is not supported (http, socks5 or socks5h)",
        proxy.uri().scheme_str().unwrap_or("")
    )
}

/// The destination with its port written out: a tunnel defaults to 443 whatever the scheme.
fn with_port(dst: Uri) -> Uri {
    if dst.port().is_some() {
        return dst;
    }
    let port = if dst.scheme() == Some(&Scheme::HTTP) {
        80
    } else {
        443
    };
    let Some(host) = dst.host() else { return dst };
    let Ok(authority) = Authority::try_from(format!("{host}:{port}")) else {
        return dst;
    };
    let mut parts = dst.into_parts();
    parts.authority = Some(authority);
    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("http://invalid/"))
}

/// The connection, or [`ConnectTimedOut`] after `timeout`.
#[derive(Clone)]
pub struct TimedConnector<C> {
    inner: C,
    timeout: Duration,
}

impl<C> TimedConnector<C> {
    pub fn new(inner: C, timeout: Duration) -> Self {
        TimedConnector { inner, timeout }
    }
}

/// No connection (lookup, TCP, proxy handshake, TLS) within the connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("connect timed out")]
pub struct ConnectTimedOut;

impl<C> Service<Uri> for TimedConnector<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_elapsed) => Err(ConnectTimedOut.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tunnelled_destination_keeps_its_scheme_port() {
        let port = |url: &'static str| with_port(Uri::from_static(url)).port_u16();
        assert_eq!(port("http://example.com/v1"), Some(80));
        assert_eq!(port("https://example.com/v1"), Some(443));
        assert_eq!(port("https://example.com:8443/v1"), Some(8443));
        assert_eq!(
            with_port(Uri::from_static("http://example.com/v1?q=1")).path_and_query(),
            Uri::from_static("http://x/v1?q=1").path_and_query()
        );
    }

    #[test]
    fn proxy_settings_are_checked() {
        assert!(check_proxy_url("http://proxy.internal:3128").is_ok());
        assert!(check_proxy_url("socks5h://user:pw@127.0.0.1:1080").is_ok());
        let https = check_proxy_url("https://proxy.internal").unwrap_err();
        assert!(https.contains("http, socks5 or socks5h"), "{https}");
        assert!(check_proxy_url("not a url").is_err());
    }
}
