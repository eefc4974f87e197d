//! Prompts and resources of a gateway's upstream servers, aggregated as tools are (docs/mcp.md):
//! a prompt is renamed `{server}__{prompt}`, a resource keeps its name renamed the same way and
//! its URI prefixed `{server}+` (`github+file:///README.md`; a server name has no `+`, so the
//! first one ends it, and `{server}+{scheme}` is still a URI scheme). A run token's `mcp_tools`
//! globs filter them too, matched against `{server}__{prompt}` and `{server}__{uri}` (a
//! template: `{server}__{uriTemplate}`; for resources `*` also matches across `/`). Getting a
//! prompt or reading a resource is governed as a tool call: it counts toward the rate limits,
//! DLP screens it ([`super::dlp`]: a prompt's arguments and messages, a resource's text), and
//! it is a log row with its spans.

use std::sync::Arc;

use futures_util::future::join_all;
use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, Resource, ResourceContents, ResourceTemplate, ResultType,
};

use super::NAMESPACE_SEPARATOR;
use super::aggregate::rpc_error;
use super::dlp::ToolDlp;
use super::log::ToolCallLog;
use super::message::{Message, set_traceparent};
use super::server::Admitted;
use super::upstream::Upstream;
use crate::error::GatewayError;
use crate::otel::McpTarget;

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
    message: &Message<'_>,
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
    let upstream = admitted.upstream(server).await.ok_or_else(unknown)?;
    if !admitted.allows(&name) {
        return Err(out_of_scope("prompt", &name));
    }
    let target = McpTarget {
        method: "prompts/get",
        server,
        name: prompt,
        namespaced: &name,
    };
    limited(admitted, message).await?;
    let mut dlp = ToolDlp::of(admitted).await.map_err(rpc_error)?;
    let screened = dlp.screen_arguments(&mut request.arguments);
    let body = serde_json::to_vec(&request.arguments).unwrap_or_default();
    let mut log = begin_screened(admitted, message, target, body, &dlp, screened).await?;
    request.name = prompt.to_owned();
    set_traceparent(&mut request.meta, log.sending());
    let mut got = upstreams
        .get_prompt(admitted.state.keys(), &upstream, request)
        .await;
    log.answered(&got, false);
    if let Ok(GetPromptResponse::Complete(result)) = &mut got {
        result.result_type.get_or_insert(ResultType::COMPLETE);
        let screened = dlp.screen_result(result);
        log = unless_refused(log, &dlp, screened).await?;
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
    message: &Message<'_>,
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
    let upstream = admitted.upstream(server).await.ok_or_else(unknown)?;
    if !admitted.allows_resource(&resource_scope_name(server, inner)) {
        return Err(out_of_scope("resource", &uri));
    }
    limited(admitted, message).await?;
    let mut dlp = ToolDlp::of(admitted).await.map_err(rpc_error)?;
    let target = McpTarget {
        method: "resources/read",
        server,
        name: inner,
        namespaced: &uri,
    };
    let body = serde_json::to_vec(&serde_json::json!({"uri": inner})).unwrap_or_default();
    let mut log = begin_screened(admitted, message, target, body, &dlp, Ok(())).await?;
    request.uri = inner.to_owned();
    set_traceparent(&mut request.meta, log.sending());
    let mut read = upstreams
        .read_resource(admitted.state.keys(), &upstream, request)
        .await;
    log.answered(&read, false);
    if let Ok(ReadResourceResponse::Complete(result)) = &mut read {
        let screened = dlp.screen_resource(result);
        log = unless_refused(log, &dlp, screened).await?;
    }
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

/// A request to a server counts as one toward the gateway's and the token's rate limits, as a
/// tool call does.
async fn limited(admitted: &Admitted, message: &Message<'_>) -> Result<(), ErrorData> {
    crate::proxy::enforce_limits(
        &admitted.state,
        &admitted.gateway,
        message.headers(),
        admitted.client,
        admitted.run_token.as_deref(),
    )
    .await
    .map_err(rpc_error)
}

/// Begins the request's log row with what DLP found in its arguments; `screened` is the scan's
/// verdict: a refusal ends the row and is the client's answer (the server is not asked).
async fn begin_screened(
    admitted: &Admitted,
    message: &Message<'_>,
    target: McpTarget<'_>,
    body: Vec<u8>,
    dlp: &ToolDlp,
    screened: Result<(), GatewayError>,
) -> Result<ToolCallLog, ErrorData> {
    let log = ToolCallLog::begin(admitted, message, target, body)
        .await
        .map_err(rpc_error)?;
    unless_refused(log, dlp, screened).await
}

/// The row, unless DLP refused (`screened`): then the row ends refused, and the refusal is the
/// client's answer.
async fn unless_refused(
    mut log: ToolCallLog,
    dlp: &ToolDlp,
    screened: Result<(), GatewayError>,
) -> Result<ToolCallLog, ErrorData> {
    log.set_dlp(&dlp.report);
    match screened {
        Ok(()) => Ok(log),
        Err(refused) => {
            log.end_refused(&refused).await;
            Err(rpc_error(refused))
        }
    }
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
