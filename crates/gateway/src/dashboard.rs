//! The browser dashboard (README.md): the single-page app built into `dashboard/dist` (sources in
//! `dashboard/src`), served at `/` from files built into the binary. Release builds embed the
//! files; debug builds read them from disk, so a rebuilt dashboard shows without recompiling.
//!
//! - `GET /` and `/index.html`: the app.
//! - `GET /assets/…`: hashed bundles, cached for a year (`immutable`); other files no-cache.
//! - any other `GET` that accepts `text/html` and is not an API path (`/v1/…`, `/client/v4/…`,
//!   `/healthz`, `/readyz`, `/metrics`): the app, which routes on the client.
//! - everything else: the management API's "no route" JSON (404, code 7000).
//!
//! Loading the app needs no token (it holds no data); its API calls carry the admin token.
//! Every response here has a strict Content-Security-Policy: scripts and styles only from this
//! origin, nothing inline, no frames.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../dashboard/dist"]
#[exclude = "*.map"]
struct Assets;

/// The policy on every dashboard response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

const INDEX: &str = "index.html";
/// Hashed file names: their content never changes under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (index.html above all) is revalidated on every load.
const REVALIDATE: &str = "no-cache";

/// Path prefixes that belong to the API: never answered with the app.
const API_PREFIXES: &[&str] = &["/v1", "/client/v4", "/healthz", "/readyz", "/metrics"];

/// The router's fallback: dashboard files and client-side routes, else the API's 404 JSON.
pub async fn fallback(request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return crate::api::no_route().await.into_response();
    }
    let path = parts.uri.path();
    if let Some(name) = file_name(path)
        && let Some(file) = Assets::get(name)
    {
        let cache = if name.starts_with("assets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        return serve(name, file, cache, &parts.headers);
    }
    if is_app_route(path, &parts.headers)
        && let Some(file) = Assets::get(INDEX)
    {
        return serve(INDEX, file, REVALIDATE, &parts.headers);
    }
    crate::api::no_route().await.into_response()
}

/// The embedded file a path names: `/` is the index; only plain relative names, no `..`.
fn file_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    if name.is_empty() {
        return Some(INDEX);
    }
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
    let sound = name
        .split('/')
        .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    (plain && sound).then_some(name)
}

/// A page the app routes itself: a browser navigation (accepts HTML) outside the API.
fn is_app_route(path: &str, headers: &HeaderMap) -> bool {
    let api = API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    let missing_asset = path.starts_with("/assets/");
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    !api && !missing_asset && wants_html
}

fn serve(
    name: &str,
    file: rust_embed::EmbeddedFile,
    cache: &'static str,
    request: &HeaderMap,
) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(file.data));
        let mime = file.metadata.mimetype();
        let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    security_headers(headers);
    tracing::trace!(file = name, fresh, "dashboard file");
    response
}

/// The headers every dashboard response carries.
fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str, accept: Option<&str>) -> Response {
        call(Method::GET, path, accept).await
    }

    async fn call(method: Method, path: &str, accept: Option<&str>) -> Response {
        let mut builder = http::Request::builder().method(method).uri(path);
        if let Some(accept) = accept {
            builder = builder.header(header::ACCEPT, accept);
        }
        let request = builder.body(Body::empty()).unwrap_or_default();
        match Router::new().fallback(fallback).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    async fn text(response: Response) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    const BROWSER: Option<&str> = Some("text/html,application/xhtml+xml,*/*;q=0.8");

    #[tokio::test]
    async fn index_with_security_headers() {
        for path in ["/", "/index.html"] {
            let response = get(path, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header_of(&response, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(
                header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff"
            );
            assert_eq!(header_of(&response, header::REFERRER_POLICY), "no-referrer");
            assert_eq!(header_of(&response, header::CACHE_CONTROL), REVALIDATE);
            assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/html"));
            let body = text(response).await;
            assert!(body.contains("<div id=\"app\">"), "{body}");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_typed() {
        let index = text(get("/", None).await).await;
        let script = index
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("");
        assert!(
            script.starts_with("/assets/") && script.ends_with(".js"),
            "{script}"
        );
        let response = get(script, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header_of(&response, header::CONTENT_TYPE).contains("javascript"));
        assert_eq!(header_of(&response, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(
            header_of(&response, header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY
        );
        let etag = header_of(&response, header::ETAG).to_owned();
        let request = http::Request::get(script)
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap_or_default();
        let again = Router::new()
            .fallback(fallback)
            .oneshot(request)
            .await
            .unwrap_or_default();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn client_routes_get_the_app_only_when_asking_for_html() {
        let page = get("/gateways/my-app/logs", BROWSER).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(text(page).await.contains("<div id=\"app\">"));
        for (path, accept) in [
            ("/gateways/my-app/logs", None),
            ("/gateways/my-app/logs", Some("application/json")),
            ("/assets/missing.js", BROWSER),
            ("/v1", BROWSER),
            ("/client/v4/anything", BROWSER),
            ("/healthz", BROWSER),
            ("/metrics/x", BROWSER),
            ("/../Cargo.toml", BROWSER),
        ] {
            let response = get(path, accept).await;
            if path == "/../Cargo.toml" {
                // Normalised by the URI parser or refused; never a file outside dist.
                assert!(!text(response).await.contains("[package]"));
                continue;
            }
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{path} {accept:?}"
            );
            assert!(text(response).await.contains("7000"), "{path}");
        }
    }

    #[tokio::test]
    async fn other_methods_get_the_api_404() {
        let response = call(Method::POST, "/", BROWSER).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(text(response).await.contains("No route"));
    }

    #[test]
    fn file_names_stay_inside_dist() {
        assert_eq!(file_name("/"), Some(INDEX));
        assert_eq!(
            file_name("/assets/index-abc.js"),
            Some("assets/index-abc.js")
        );
        for bad in [
            "/../x",
            "/assets/../../x",
            "/.env",
            "/a//b",
            "/a%2fb",
            "/a\\b",
            "relative",
        ] {
            assert_eq!(file_name(bad), None, "{bad}");
        }
    }
}
