//! Tool-search mode (docs/mcp.md): for a client that asks for it (`?tool_search=1` on the
//! endpoint URL, or the header `cf-aig-mcp-tool-search: 1`), `tools/list` answers two tools
//! instead of every server's: `search_tools` (words → the matching namespaced tools'
//! definitions, at most [`MAX_RESULTS`]) and `call_tool` (a found tool's name and arguments →
//! its result, through the same checks, limits and log row as a direct call). An agent's
//! context then holds two definitions, not hundreds.

use std::sync::Arc;

use http::request::Parts;
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde_json::{Map, Value, json};

/// The header that asks for tool-search mode, as the query parameter `tool_search` does.
pub const HEADER: &str = "cf-aig-mcp-tool-search";
/// The meta-tools' names (no `__`: they cannot be a server's tool).
pub const SEARCH_TOOLS: &str = "search_tools";
pub const CALL_TOOL: &str = "call_tool";
/// Tools one search returns by default, and at most.
pub const DEFAULT_RESULTS: usize = 10;
pub const MAX_RESULTS: usize = 50;

/// Whether the HTTP request asked for tool-search mode.
pub fn requested(parts: Option<&Parts>) -> bool {
    let Some(parts) = parts else { return false };
    let on = |v: &str| matches!(v.trim(), "1" | "true" | "on");
    let by_header = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(on);
    let by_query = parts.uri.query().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| name == "tool_search" && on(&value))
    });
    by_header || by_query
}

fn schema(value: Value) -> Arc<Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::new()),
    }
}

/// The two tools the mode lists.
pub fn meta_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            SEARCH_TOOLS,
            "Finds tools of this gateway's MCP servers by words in their names and \
             descriptions; returns their definitions (name {server}__{tool}, description, \
             inputSchema), best matches first. Call one with call_tool.",
            schema(json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "words to look for, e.g. \"create issue\""},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS,
                              "description": format!("most tools to return (default {DEFAULT_RESULTS})")},
                },
                "required": ["query"],
            })),
        ),
        Tool::new(
            CALL_TOOL,
            "Calls a tool search_tools found, by its name and with its arguments.",
            schema(json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "the tool's name, {server}__{tool}"},
                    "arguments": {"type": "object", "description": "the tool's arguments, as its inputSchema says"},
                },
                "required": ["name"],
            })),
        ),
    ]
}

/// The words of `text`, lower case (`github__create_issue` → github, create, issue).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The tools that match `query`, best first: a word in the name counts 3, in the description
/// 1; ties by name. An empty query matches every tool. At most `limit`.
pub fn search(tools: Vec<Tool>, query: &str, limit: usize) -> Vec<Tool> {
    let wanted = words(query);
    let mut scored: Vec<(usize, Tool)> = tools
        .into_iter()
        .filter_map(|tool| {
            let name = words(&tool.name);
            let description = tool
                .description
                .as_deref()
                .map(str::to_lowercase)
                .unwrap_or_default();
            let score: usize = wanted
                .iter()
                .map(|w| {
                    if name.iter().any(|n| n.contains(w.as_str())) {
                        3
                    } else if description.contains(w.as_str()) {
                        1
                    } else {
                        0
                    }
                })
                .sum();
            (wanted.is_empty() || score > 0).then_some((score, tool))
        })
        .collect();
    scored.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| x.name.cmp(&y.name)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, tool)| tool)
        .collect()
}

/// `search_tools`' answer: the definitions as JSON text, and as structured content.
pub fn answer(found: &[Tool]) -> CallToolResult {
    let definitions: Vec<Value> = found
        .iter()
        .map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "inputSchema": tool.input_schema,
            })
        })
        .collect();
    let mut result = CallToolResult::success(vec![ContentBlock::text(
        Value::Array(definitions.clone()).to_string(),
    )]);
    result.structured_content = Some(json!({"tools": definitions}));
    result
}

/// The `limit` argument, bounded.
pub fn limit_of(arguments: Option<&Map<String, Value>>) -> usize {
    arguments
        .and_then(|a| a.get("limit"))
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .map_or(DEFAULT_RESULTS, |n| n.clamp(1, MAX_RESULTS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str) -> Tool {
        Tool::new(
            name.to_owned(),
            description.to_owned(),
            schema(json!({"type": "object"})),
        )
    }

    #[test]
    fn names_weigh_more_than_descriptions_and_the_count_is_bounded() {
        let tools = vec![
            tool("github__create_issue", "Opens an issue"),
            tool("jira__new_ticket", "Create a ticket, like an issue"),
            tool("search__web", "Searches the web"),
        ];
        let found = search(tools.clone(), "create issue", 10);
        let names: Vec<&str> = found.iter().map(|t| &*t.name).collect();
        assert_eq!(names, ["github__create_issue", "jira__new_ticket"]);
        assert_eq!(search(tools.clone(), "", 2).len(), 2);
        assert!(search(tools, "zebra", 10).is_empty());
        assert_eq!(limit_of(None), DEFAULT_RESULTS);
        let Value::Object(big) = json!({"limit": 10_000}) else {
            unreachable!()
        };
        assert_eq!(limit_of(Some(&big)), MAX_RESULTS);
    }

    #[test]
    fn the_mode_is_asked_for_by_query_or_header() {
        let parts = |uri: &str, header: Option<&str>| {
            let mut request = http::Request::builder().uri(uri);
            if let Some(value) = header {
                request = request.header(HEADER, value);
            }
            request.body(()).unwrap().into_parts().0
        };
        assert!(requested(Some(&parts("/v1/a/g/mcp?tool_search=1", None))));
        assert!(requested(Some(&parts("/v1/a/g/mcp", Some("true")))));
        assert!(!requested(Some(&parts("/v1/a/g/mcp?tool_search=0", None))));
        assert!(!requested(None));
    }
}
