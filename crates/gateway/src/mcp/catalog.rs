//! Prompts and resources of a gateway's upstream servers, aggregated as tools are (docs/mcp.md):
//! a prompt is renamed `{server}__{prompt}`, a resource keeps its name renamed the same way and
//! its URI prefixed `{server}+` (`github+file:///README.md`; a server name has no `+`, so the
//! first one ends it, and `{server}+{scheme}` is still a URI scheme). A run token's `mcp_tools`
//! globs filter them too, matched against `{server}__{prompt}` and `{server}__{uri}` (a
//! template: `{server}__{uriTemplate}`; for resources `*` also matches across `/`). Getting a
//! prompt or reading a resource counts toward the rate limits and is a log row, as a tool call.

use std::sync::Arc;

use futures_util::future::join_all;
use http::request::Parts;
use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, Resource, ResourceContents, ResourceTemplate, ResultType,
};

use super::NAMESPACE_SEPARATOR;
use super::aggregate::rpc_error;
use super::log::ToolCallLog;
use super::server::Admitted;
use super::upstream::Upstream;

/// Separates a server's name from a resource URI at that server: `{server}+{uri}`.
pub const URI_SEPARATOR: char = '+';

/// `uri` of `server` as clients see it.
pub fn namespace_uri(server: &str, uri: &str) -> String {
    format!("{server}{URI_SEPARATOR}{uri}")
}

/// A namespaced URI's server and the URI at that server.
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    uri.split_once(URI_SEPARATOR)
}

/// What a token's globs are matched against for a resource.
fn resource_scope_name(server: &str, uri: &str) -> String {
    format!("{server}{NAMESPACE_SEPARATOR}{uri}")
}

/// Every server of the admitted request's gateway with what `list` found on it; a server
/// that failed is left out with a warning, as for tools.
async fn gather<T, F, Fut>(admitted: &Admitted, what: &str, list: F) -> Vec<(Arc<Upstream>, Vec<T>)>
where
    F: Fn(Arc<Upstream>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, String>>,
{
    let upstreams = admitted.state.mcp().upstreams();
    let servers = upstreams.of_gateway(&admitted.gateway.account_id, &admitted.gateway.id);
    let listed = join_all(servers.iter().cloned().map(&list)).await;
    servers
        .into_iter()
        .zip(listed)
        .filter_map(|(upstream, listed)| match listed {
            Ok(found) => Some((upstream, found)),
            Err(why) => {
                tracing::warn!(
                    gateway = %admitted.gateway.id,
                    server = %upstream.config.name,
                    %why,
                    "MCP server left out of {what}"
                );
                None
            }
        })
        .collect()
}

pub async fn list_prompts(admitted: &Admitted) -> Vec<Prompt> {
    let upstreams = admitted.state.mcp().upstreams().clone();
    let keys = admitted.state.keys();
    let found = gather(admitted, "prompts/list", |u| {
        let upstreams = upstreams.clone();
        async move { upstreams.list_prompts(keys, &u).await }
    })
    .await;
    let mut prompts = Vec::new();
    for (upstream, listed) in found {
        for mut prompt in listed {
            prompt.name = format!(
                "{}{NAMESPACE_SEPARATOR}{}",
                upstream.config.name, prompt.name
            );
            if admitted.allows(&prompt.name) {
                prompts.push(prompt);
            }
        }
    }
    prompts
}

pub async fn get_prompt(
    admitted: &Admitted,
    parts: Option<&Parts>,
    mut request: GetPromptRequestParams,
) -> Result<GetPromptResponse, ErrorData> {
    let name = request.name.clone();
    let unknown = || {
        ErrorData::invalid_params(
            format!("Unknown prompt '{name}': prompts are named {{server}}__{{prompt}}"),
            None,
        )
    };
    let (server, prompt) = name.split_once(NAMESPACE_SEPARATOR).ok_or_else(unknown)?;
    let upstreams = admitted.state.mcp().upstreams();
    let upstream = upstreams
        .find(&admitted.gateway.account_id, &admitted.gateway.id, server)
        .ok_or_else(unknown)?;
    if !admitted.allows(&name) {
        return Err(out_of_scope("prompt", &name));
    }
    let body = serde_json::to_vec(&request.arguments).unwrap_or_default();
    let log = governed(admitted, parts, server, prompt, "prompts/get", body).await?;
    request.name = prompt.to_owned();
    let mut got = upstreams
        .get_prompt(admitted.state.keys(), &upstream, request)
        .await;
    if let Ok(GetPromptResponse::Complete(result)) = &mut got {
        result.result_type.get_or_insert(ResultType::COMPLETE);
    }
    log.end_with(prompt_json(&got)).await;
    got.map_err(|why| failed(admitted, server, &why))
}

pub async fn list_resources(admitted: &Admitted) -> Vec<Resource> {
    let upstreams = admitted.state.mcp().upstreams().clone();
    let keys = admitted.state.keys();
    let found = gather(admitted, "resources/list", |u| {
        let upstreams = upstreams.clone();
        async move { upstreams.list_resources(keys, &u).await }
    })
    .await;
    let mut resources = Vec::new();
    for (upstream, listed) in found {
        let server = &upstream.config.name;
        for mut resource in listed {
            if !admitted.allows_resource(&resource_scope_name(server, &resource.uri)) {
                continue;
            }
            resource.uri = namespace_uri(server, &resource.uri);
            resource.name = format!("{server}{NAMESPACE_SEPARATOR}{}", resource.name);
            resources.push(resource);
        }
    }
    resources
}

pub async fn list_resource_templates(admitted: &Admitted) -> Vec<ResourceTemplate> {
    let upstreams = admitted.state.mcp().upstreams().clone();
    let keys = admitted.state.keys();
    let found = gather(admitted, "resources/templates/list", |u| {
        let upstreams = upstreams.clone();
        async move { upstreams.list_resource_templates(keys, &u).await }
    })
    .await;
    let mut templates = Vec::new();
    for (upstream, listed) in found {
        let server = &upstream.config.name;
        for mut template in listed {
            // Matched as its template text (`github__file:///*` lists `file:///{path}`); the
            // URI a client expands it to is checked again when it is read.
            if !admitted.allows_resource(&resource_scope_name(server, &template.uri_template)) {
                continue;
            }
            template.uri_template = namespace_uri(server, &template.uri_template);
            template.name = format!("{server}{NAMESPACE_SEPARATOR}{}", template.name);
            templates.push(template);
        }
    }
    templates
}

pub async fn read_resource(
    admitted: &Admitted,
    parts: Option<&Parts>,
    mut request: ReadResourceRequestParams,
) -> Result<ReadResourceResponse, ErrorData> {
    let uri = request.uri.clone();
    let unknown = || {
        ErrorData::resource_not_found(
            format!("Unknown resource '{uri}': resources are addressed {{server}}+{{uri}}"),
            None,
        )
    };
    let (server, inner) = split_uri(&uri).ok_or_else(unknown)?;
    let upstreams = admitted.state.mcp().upstreams();
    let upstream = upstreams
        .find(&admitted.gateway.account_id, &admitted.gateway.id, server)
        .ok_or_else(unknown)?;
    if !admitted.allows_resource(&resource_scope_name(server, inner)) {
        return Err(out_of_scope("resource", &uri));
    }
    let body = serde_json::to_vec(&serde_json::json!({"uri": inner})).unwrap_or_default();
    let log = governed(admitted, parts, server, inner, "resources/read", body).await?;
    request.uri = inner.to_owned();
    let read = upstreams
        .read_resource(admitted.state.keys(), &upstream, request)
        .await;
    log.end_with(resource_json(&read)).await;
    let mut read = read.map_err(|why| failed(admitted, server, &why))?;
    if let ReadResourceResponse::Complete(result) = &mut read {
        result.result_type.get_or_insert(ResultType::COMPLETE);
        for contents in &mut result.contents {
            match contents {
                ResourceContents::TextResourceContents { uri, .. }
                | ResourceContents::BlobResourceContents { uri, .. } => {
                    *uri = namespace_uri(server, uri);
                }
                _ => {}
            }
        }
    }
    Ok(read)
}

/// The checks a request to a server passes before it is sent, as a tool call's: one request
/// toward the gateway's and the token's rate limits, and its log row begun.
async fn governed(
    admitted: &Admitted,
    parts: Option<&Parts>,
    server: &str,
    name: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<ToolCallLog, ErrorData> {
    let empty = http::HeaderMap::new();
    let headers = parts.map_or(&empty, |p| &p.headers);
    crate::proxy::enforce_limits(
        &admitted.state,
        &admitted.gateway,
        headers,
        admitted.client,
        admitted.run_token.as_deref(),
    )
    .await
    .map_err(rpc_error)?;
    ToolCallLog::begin_with(admitted, server, name, path, body, headers)
        .await
        .map_err(rpc_error)
}

/// A server's answer to `prompts/get` as the log row's response body.
fn prompt_json(answer: &Result<GetPromptResponse, String>) -> Result<Vec<u8>, String> {
    match answer {
        Ok(GetPromptResponse::Complete(result)) => {
            Ok(serde_json::to_vec(result).unwrap_or_default())
        }
        Ok(GetPromptResponse::InputRequired(input)) => {
            Ok(serde_json::to_vec(input).unwrap_or_default())
        }
        // A kind newer than this gateway: logged without a body.
        Ok(_) => Ok(Vec::new()),
        Err(why) => Err(why.clone()),
    }
}

/// A server's answer to `resources/read` as the log row's response body.
fn resource_json(answer: &Result<ReadResourceResponse, String>) -> Result<Vec<u8>, String> {
    match answer {
        Ok(ReadResourceResponse::Complete(result)) => {
            Ok(serde_json::to_vec(result).unwrap_or_default())
        }
        Ok(ReadResourceResponse::InputRequired(input)) => {
            Ok(serde_json::to_vec(input).unwrap_or_default())
        }
        Ok(_) => Ok(Vec::new()),
        Err(why) => Err(why.clone()),
    }
}

fn out_of_scope(what: &str, name: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("Out of scope: this run token does not allow {what} '{name}'"),
        None,
    )
}

fn failed(admitted: &Admitted, server: &str, why: &str) -> ErrorData {
    tracing::warn!(gateway = %admitted.gateway.id, server, %why, "MCP request failed");
    ErrorData::internal_error(format!("MCP server '{server}' failed: {why}"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespaced_uri_splits_back_into_server_and_uri() {
        for uri in [
            "file:///a+b/c.md",
            "https://x.example/r?q=a+b",
            "git+ssh://h/r",
        ] {
            let namespaced = namespace_uri("docs-1", uri);
            assert_eq!(split_uri(&namespaced), Some(("docs-1", uri)));
            assert!(url::Url::parse(&namespaced).is_ok(), "{namespaced}");
        }
    }
}
