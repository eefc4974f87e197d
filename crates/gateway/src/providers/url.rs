//! From a (validated) provider path to the upstream URL: template parts, the `v1/` rule, query;
//! and the unified endpoint's URL, which never takes a host part from the request.

use super::{CompatBase, UrlTemplate};
use crate::error::{ErrorCode, GatewayError};

/// Builds `base + "/" + path + "?" + query`. `path` is the raw provider path without its
/// leading `/`, already checked by the traversal guard; the host always comes from `base`.
pub fn upstream_url(
    base: &str,
    template: UrlTemplate,
    cf_account: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Result<String, GatewayError> {
    let (base, path) = fill_template(base, template, cf_account, path)?;
    Ok(join(&base, path, query))
}

/// The upstream URL of a unified-endpoint request (`…/compat/…`, a universal `compat` step).
///
/// Its path is fixed by the endpoint (`v1/chat/completions`), so it can never supply the parts
/// a native route takes from its path (Azure's resource and deployment, a region): read as
/// such, `v1/chat/completions` would name the Azure resource `v1`, someone else's host. A base
/// URL that still has such a placeholder is refused; only configuration fills one here.
pub fn compat_url(
    slug: &str,
    base: &str,
    template: UrlTemplate,
    compat_base: CompatBase,
    cf_account: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Result<String, GatewayError> {
    let base = match template.is_filled_by_configuration() {
        true => fill_template(base, template, cf_account, "")?.0,
        false => base.to_owned(),
    };
    if let Some(placeholders) = unfilled_placeholders(&base) {
        return Err(GatewayError::new(
            ErrorCode::InvalidProvider,
            format!(
                "Provider {slug} is not available through the unified endpoint: its URL needs \
                 {placeholders}, which only its native route (/{slug}/…) supplies. Call that \
                 route, or set [providers.{slug}] base_url to a full URL without placeholders"
            ),
        ));
    }
    if let CompatBase::Sibling { native, compat } = compat_base
        && let Some(parent) = base.strip_suffix(native).and_then(|b| b.strip_suffix('/'))
    {
        let path = path
            .strip_prefix(compat)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path);
        return Ok(join(&format!("{parent}/{compat}"), path, query));
    }
    Ok(join(&base, path, query))
}

/// `{resource}, {deployment}` when `base` still has placeholders.
fn unfilled_placeholders(base: &str) -> Option<String> {
    if !base.contains(['{', '}']) {
        return None;
    }
    let names: Vec<&str> = base
        .match_indices('{')
        .filter_map(|(start, _)| {
            let end = base[start..].find('}')?;
            Some(&base[start..=start + end])
        })
        .collect();
    Some(match names.is_empty() {
        true => "placeholders".to_owned(),
        false => names.join(", "),
    })
}

fn join(base: &str, path: &str, query: Option<&str>) -> String {
    let path = match path.strip_prefix("v1") {
        // Clients that append /v1 to a base that already ends in /v1 are common.
        Some(rest) if base.ends_with("/v1") && (rest.is_empty() || rest.starts_with('/')) => {
            rest.trim_start_matches('/')
        }
        _ => path,
    };
    let mut url = String::with_capacity(base.len() + path.len() + 2 + query.map_or(0, str::len));
    url.push_str(base);
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn fill_template<'p>(
    base: &str,
    template: UrlTemplate,
    cf_account: Option<&str>,
    path: &'p str,
) -> Result<(String, &'p str), GatewayError> {
    match template {
        UrlTemplate::Fixed => Ok((base.to_owned(), path)),
        UrlTemplate::AzureDeployment if base.contains("{resource}") => {
            let (resource, rest) = split_first(path);
            let (deployment, rest) = split_first(rest);
            let base = base
                .replace("{resource}", host_label(resource)?)
                .replace("{deployment}", name(deployment)?);
            Ok((base, rest))
        }
        UrlTemplate::BedrockRegion if base.contains("{region}") => {
            let (literal, rest) = split_first(path);
            let (region, rest) = split_first(rest);
            if literal != "bedrock-runtime" {
                return Err(GatewayError::new(
                    ErrorCode::InvalidPath,
                    "aws-bedrock paths start with bedrock-runtime/{region}/",
                ));
            }
            Ok((base.replace("{region}", host_label(region)?), rest))
        }
        UrlTemplate::VertexRegion if base.contains("{region}") => {
            let mut segments = path.split('/');
            let region = segments
                .by_ref()
                .find(|s| *s == "locations")
                .and_then(|_| segments.next())
                .unwrap_or("");
            Ok((base.replace("{region}", host_label(region)?), path))
        }
        UrlTemplate::CloudflareAccount if base.contains("{cf_account}") => {
            let account = cf_account.ok_or_else(|| {
                GatewayError::new(
                    ErrorCode::InvalidProvider,
                    "Provider workers-ai needs cf_account in [providers.workers-ai]",
                )
            })?;
            Ok((base.replace("{cf_account}", account), path))
        }
        // An overridden base URL without placeholders is used as it is.
        _ => Ok((base.to_owned(), path)),
    }
}

fn split_first(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or((path, ""))
}

/// A DNS label: what may be put into a host name taken from the request.
fn host_label(segment: &str) -> Result<&str, GatewayError> {
    let valid = !segment.is_empty()
        && segment.len() <= 63
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid
        .then_some(segment)
        .ok_or_else(GatewayError::invalid_path)
}

fn name(segment: &str) -> Result<&str, GatewayError> {
    let valid = !segment.is_empty()
        && segment.len() <= 128
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid
        .then_some(segment)
        .ok_or_else(GatewayError::invalid_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKERS_COMPAT: CompatBase = CompatBase::Sibling {
        native: "run",
        compat: "v1",
    };

    fn url(base: &str, template: UrlTemplate, path: &str) -> Result<String, GatewayError> {
        upstream_url(base, template, Some("acct"), path, None)
    }

    #[test]
    fn drops_repeated_v1() {
        let base = "http://h/v1";
        assert_eq!(
            url(base, UrlTemplate::Fixed, "v1/chat/completions")
                .ok()
                .as_deref(),
            Some("http://h/v1/chat/completions")
        );
        assert_eq!(
            url(base, UrlTemplate::Fixed, "chat/completions")
                .ok()
                .as_deref(),
            Some("http://h/v1/chat/completions")
        );
        assert_eq!(
            url(base, UrlTemplate::Fixed, "v1beta/models")
                .ok()
                .as_deref(),
            Some("http://h/v1/v1beta/models")
        );
        assert_eq!(
            url("http://h", UrlTemplate::Fixed, "v1/messages")
                .ok()
                .as_deref(),
            Some("http://h/v1/messages")
        );
    }

    #[test]
    fn keeps_query_unchanged() {
        let got = upstream_url(
            "http://h",
            UrlTemplate::Fixed,
            None,
            "a/b",
            Some("x=1&y=%2F"),
        );
        assert_eq!(got.ok().as_deref(), Some("http://h/a/b?x=1&y=%2F"));
    }

    #[test]
    fn fills_azure_bedrock_vertex_and_workers() {
        let azure = "https://{resource}.openai.azure.com/openai/deployments/{deployment}";
        assert_eq!(
            url(
                azure,
                UrlTemplate::AzureDeployment,
                "myres/gpt4o/chat/completions?x"
            )
            .ok()
            .as_deref(),
            Some("https://myres.openai.azure.com/openai/deployments/gpt4o/chat/completions?x")
        );
        assert!(url(azure, UrlTemplate::AzureDeployment, "evil.com:80/x/chat").is_err());
        let bedrock = "https://bedrock-runtime.{region}.amazonaws.com";
        assert_eq!(
            url(
                bedrock,
                UrlTemplate::BedrockRegion,
                "bedrock-runtime/us-east-1/model/m/invoke"
            )
            .ok()
            .as_deref(),
            Some("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke")
        );
        assert!(url(bedrock, UrlTemplate::BedrockRegion, "model/m/invoke").is_err());
        let vertex = "https://{region}-aiplatform.googleapis.com";
        assert_eq!(
            url(
                vertex,
                UrlTemplate::VertexRegion,
                "v1/projects/p/locations/europe-west4/publishers/google/models/g:generateContent"
            )
            .ok()
            .as_deref(),
            Some(
                "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google/models/g:generateContent"
            )
        );
        let workers = "https://api.cloudflare.com/client/v4/accounts/{cf_account}/ai/run";
        assert_eq!(
            url(workers, UrlTemplate::CloudflareAccount, "@cf/meta/llama")
                .ok()
                .as_deref(),
            Some("https://api.cloudflare.com/client/v4/accounts/acct/ai/run/@cf/meta/llama")
        );
        let missing = upstream_url(workers, UrlTemplate::CloudflareAccount, None, "@cf/x", None);
        assert_eq!(
            missing.err().map(|e| e.code),
            Some(ErrorCode::InvalidProvider)
        );
    }

    #[test]
    fn the_unified_endpoint_never_fills_a_host_from_its_path() {
        for (slug, template) in [
            ("azure-openai", UrlTemplate::AzureDeployment),
            ("google-vertex-ai", UrlTemplate::VertexRegion),
            ("aws-bedrock", UrlTemplate::BedrockRegion),
        ] {
            let Some(builtin) = crate::providers::builtin(slug) else {
                unreachable!("{slug} is built in")
            };
            let got = compat_url(
                slug,
                builtin.base_url,
                template,
                builtin.compat_base,
                None,
                "v1/chat/completions",
                None,
            );
            let error = got.err().map(|e| (e.code, e.message));
            assert!(
                matches!(&error, Some((ErrorCode::InvalidProvider, m)) if m.contains(slug) && m.contains('{')),
                "{slug}: {error:?}"
            );
        }
        // Configuration may fill them: a full URL, or Workers AI's account.
        assert_eq!(
            compat_url(
                "azure-openai",
                "https://mine.openai.azure.com/openai/deployments/gpt4o",
                UrlTemplate::AzureDeployment,
                CompatBase::Native,
                None,
                "chat/completions",
                Some("api-version=1"),
            )
            .ok()
            .as_deref(),
            Some(
                "https://mine.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=1"
            )
        );
        let workers = "https://api.cloudflare.com/client/v4/accounts/{cf_account}/ai/run";
        assert_eq!(
            compat_url(
                "workers-ai",
                workers,
                UrlTemplate::CloudflareAccount,
                WORKERS_COMPAT,
                Some("acct"),
                "v1/chat/completions",
                None
            )
            .ok()
            .as_deref(),
            Some("https://api.cloudflare.com/client/v4/accounts/acct/ai/v1/chat/completions")
        );
        assert!(
            compat_url(
                "workers-ai",
                workers,
                UrlTemplate::CloudflareAccount,
                WORKERS_COMPAT,
                None,
                "x",
                None
            )
            .is_err()
        );
    }

    #[test]
    fn overridden_base_without_placeholders_is_used_as_is() {
        assert_eq!(
            url(
                "http://127.0.0.1:9/azure",
                UrlTemplate::AzureDeployment,
                "res/dep/chat"
            )
            .ok()
            .as_deref(),
            Some("http://127.0.0.1:9/azure/res/dep/chat")
        );
    }
}
