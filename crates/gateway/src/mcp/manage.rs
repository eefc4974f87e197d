//! Upstream servers registered through the management API (`…/gateways/{gw}/mcp_servers`,
//! docs/mcp.md): the body of a create or update read and checked field by field, each change
//! written to the store and then to memory (one change at a time), and the object the API
//! answers with. A server's credential is a stored key's id; the secret never comes out.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::server::McpGateway;
use crate::gateways::{FieldError, Gateway, Patch};
use crate::keys::Keys;
use crate::store::{StoreError, StoredMcpServer};

/// Servers per gateway registered through the API (each is asked on every listing).
pub const MAX_SERVERS_PER_GATEWAY: usize = 64;
/// Extra headers per server, and the longest URL.
const MAX_HEADERS: usize = 32;
const MAX_URL_CHARS: usize = 2048;
/// `timeout_ms`: its default and bounds (as the configuration file's).
const DEFAULT_TIMEOUT_MS: u32 = 30_000;
const MAX_TIMEOUT_MS: u32 = 300_000;

/// Headers that carry credentials: a credential is a stored key (`key`), so it is sealed at
/// rest and never shown; these are refused in `headers`, which is stored and shown as it is.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
];

/// Why a change to a server was refused.
#[derive(Debug, thiserror::Error)]
pub enum McpServerError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("MCP server not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

/// The fields a body may set.
const SETTABLE: &[&str] = &[
    "name",
    "url",
    "headers",
    "key",
    "enabled",
    "timeout_ms",
    "cost_per_call",
];
/// Fields of the returned object: accepted and ignored, since clients send objects back.
const IGNORED: &[&str] = &["id", "gateway_id", "created_at", "modified_at"];

/// What a body sets; absent fields are `None` / `Patch::Absent`.
#[derive(Debug, Default)]
struct ServerBody {
    name: Option<String>,
    url: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    key: Patch<String>,
    enabled: Option<bool>,
    timeout_ms: Option<u32>,
    /// `Patch::Null` (or 0): its calls cost nothing.
    cost_per_call: Patch<f64>,
}

fn parse(body: &Map<String, Value>) -> Result<ServerBody, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: String, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        });
    };
    let mut parsed = ServerBody::default();
    for (name, value) in body {
        match name.as_str() {
            "name" => match value.as_str() {
                Some(text) if crate::config::is_mcp_server_name(text) => {
                    parsed.name = Some(text.to_owned());
                }
                _ => bad(
                    "name".into(),
                    "expected 1 to 32 characters of a-z, 0-9 and '-' (it prefixes the \
                     server's tools, prompts and resources: {name}__{tool})"
                        .into(),
                ),
            },
            "url" => match value.as_str() {
                Some(text) if is_http_url(text) => parsed.url = Some(text.to_owned()),
                _ => bad(
                    "url".into(),
                    format!(
                        "expected an http:// or https:// URL of at most {MAX_URL_CHARS} \
                         characters (the server's Streamable HTTP endpoint)"
                    ),
                ),
            },
            "headers" => match value {
                Value::Null => parsed.headers = Some(BTreeMap::new()),
                Value::Object(map) if map.len() <= MAX_HEADERS => {
                    let mut headers = BTreeMap::new();
                    for (header, value) in map {
                        let lower = header.to_ascii_lowercase();
                        let at = format!("headers.{}", crate::suggest::shown(header));
                        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                            bad(at, "not a header name".into());
                        } else if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
                            bad(
                                at,
                                "credentials go in key (a stored key, sent as \
                                 `Authorization: Bearer …`), not in headers"
                                    .into(),
                            );
                        } else {
                            match value.as_str() {
                                Some(v) if http::HeaderValue::from_str(v).is_ok() => {
                                    headers.insert(lower, v.to_owned());
                                }
                                _ => bad(at, "expected a string that is a header value".into()),
                            }
                        }
                    }
                    parsed.headers = Some(headers);
                }
                _ => bad(
                    "headers".into(),
                    format!("expected an object of at most {MAX_HEADERS} header names to strings"),
                ),
            },
            "key" => match value {
                Value::Null => parsed.key = Patch::Null,
                Value::String(id) if !id.is_empty() && id.len() <= 64 => {
                    parsed.key = Patch::Value(id.clone());
                }
                _ => bad(
                    "key".into(),
                    "expected the id of a stored key of this gateway (provider_configs), or \
                     null"
                        .into(),
                ),
            },
            "enabled" => match value.as_bool() {
                Some(enabled) => parsed.enabled = Some(enabled),
                None => bad("enabled".into(), "expected true or false".into()),
            },
            "timeout_ms" => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => parsed.timeout_ms = Some(ms),
                _ => bad(
                    "timeout_ms".into(),
                    format!(
                        "expected 1 to {MAX_TIMEOUT_MS} (milliseconds each request to the \
                         server may take)"
                    ),
                ),
            },
            "cost_per_call" => match value {
                Value::Null => parsed.cost_per_call = Patch::Null,
                _ => match value.as_f64() {
                    Some(usd) if crate::config::is_cost_per_call(usd) => {
                        parsed.cost_per_call = Patch::Value(usd);
                    }
                    _ => bad(
                        "cost_per_call".into(),
                        format!(
                            "expected 0 to {} (US dollars per tool call), or null",
                            crate::config::MAX_COST_PER_CALL_USD
                        ),
                    ),
                },
            },
            other if IGNORED.contains(&other) => {}
            other => {
                let message = match crate::suggest::nearest(other, SETTABLE.iter().copied()) {
                    Some(known) => format!("unknown field; did you mean {known}?"),
                    None => "unknown field".into(),
                };
                bad(crate::suggest::shown(other).to_owned(), message);
            }
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// The stored price: none for `null` and for 0 (a call that costs nothing reserves nothing).
fn price(set: &Patch<f64>) -> Option<f64> {
    match set {
        Patch::Value(usd) if *usd > 0.0 => Some(*usd),
        _ => None,
    }
}

fn is_http_url(text: &str) -> bool {
    text.chars().count() <= MAX_URL_CHARS
        && url::Url::parse(text)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

fn field(name: &'static str, message: impl Into<String>) -> McpServerError {
    McpServerError::Invalid(vec![FieldError {
        field: name.into(),
        message: message.into(),
    }])
}

/// The object the API returns: the stored row, its key by id only.
pub fn to_json(row: &StoredMcpServer) -> Value {
    let headers: Value = serde_json::from_str(&row.headers).unwrap_or_else(|_| json!({}));
    json!({
        "id": row.id,
        "gateway_id": row.gateway_id,
        "name": row.name,
        "url": row.url,
        "headers": headers,
        "key": row.key_id,
        "enabled": row.enabled,
        "timeout_ms": row.timeout_ms,
        "cost_per_call": row.cost_per_call,
        "created_at": row.created_at.to_string(),
        "modified_at": row.modified_at.to_string(),
    })
}

impl McpGateway {
    /// The gateway's servers registered through the API, by name.
    pub fn list_json(&self, account_id: &str, gateway_id: &str) -> Vec<Value> {
        self.rows()
            .iter()
            .filter(|row| row.account_id == account_id && row.gateway_id == gateway_id)
            .map(to_json)
            .collect()
    }

    pub fn get_json(&self, account_id: &str, gateway_id: &str, id: &str) -> Option<Value> {
        self.row(account_id, gateway_id, id)
            .map(|row| to_json(&row))
    }

    fn row(&self, account_id: &str, gateway_id: &str, id: &str) -> Option<StoredMcpServer> {
        self.rows()
            .iter()
            .find(|row| {
                row.id == id && row.account_id == account_id && row.gateway_id == gateway_id
            })
            .cloned()
    }

    /// A new server: `{name, url, headers?, key?, enabled?, timeout_ms?, cost_per_call?}`.
    pub async fn create(
        &self,
        gateway: &Gateway,
        keys: &Keys,
        body: &Map<String, Value>,
    ) -> Result<Value, McpServerError> {
        let parsed = parse(body).map_err(McpServerError::Invalid)?;
        let mut missing = Vec::new();
        if parsed.name.is_none() {
            missing.push(FieldError {
                field: "name".into(),
                message: "required, e.g. \"github\"".into(),
            });
        }
        if parsed.url.is_none() {
            missing.push(FieldError {
                field: "url".into(),
                message: "required: the server's Streamable HTTP endpoint".into(),
            });
        }
        if !missing.is_empty() {
            return Err(McpServerError::Invalid(missing));
        }
        let _one = self.changes.lock().await;
        let count = self
            .rows()
            .iter()
            .filter(|r| r.account_id == gateway.account_id && r.gateway_id == gateway.id)
            .count();
        if count >= MAX_SERVERS_PER_GATEWAY {
            return Err(McpServerError::Conflict(format!(
                "Gateway {:?} already has {MAX_SERVERS_PER_GATEWAY} MCP servers, the most it may have",
                gateway.id
            )));
        }
        let now = self.clock.now();
        let row = StoredMcpServer {
            id: uuid::Uuid::now_v7().simple().to_string(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            name: parsed.name.clone().unwrap_or_default(),
            url: parsed.url.clone().unwrap_or_default(),
            headers: serde_json::to_string(&parsed.headers.clone().unwrap_or_default())
                .unwrap_or_else(|_| "{}".into()),
            key_id: match &parsed.key {
                Patch::Value(id) => Some(id.clone()),
                Patch::Absent | Patch::Null => None,
            },
            enabled: parsed.enabled.unwrap_or(true),
            timeout_ms: parsed.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            cost_per_call: price(&parsed.cost_per_call),
            created_at: now,
            modified_at: now,
        };
        self.check(gateway, keys, &row)?;
        match self.store.insert_mcp_server(&row).await {
            Err(StoreError::Conflict) => return Err(taken(gateway, &row.name)),
            Err(StoreError::NotFound) => return Err(McpServerError::NotFound),
            other => other.map_err(McpServerError::Store)?,
        }
        self.reload().await.map_err(McpServerError::Store)?;
        Ok(to_json(&row))
    }

    /// Changes the fields the body names; `key: null` removes the credential.
    pub async fn update(
        &self,
        gateway: &Gateway,
        keys: &Keys,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, McpServerError> {
        let parsed = parse(body).map_err(McpServerError::Invalid)?;
        let _one = self.changes.lock().await;
        let mut row = self
            .row(&gateway.account_id, &gateway.id, id)
            .ok_or(McpServerError::NotFound)?;
        if let Some(name) = parsed.name {
            row.name = name;
        }
        if let Some(url) = parsed.url {
            row.url = url;
        }
        if let Some(headers) = parsed.headers {
            row.headers = serde_json::to_string(&headers).unwrap_or_else(|_| "{}".into());
        }
        match parsed.key {
            Patch::Absent => {}
            Patch::Null => row.key_id = None,
            Patch::Value(key) => row.key_id = Some(key),
        }
        if let Some(enabled) = parsed.enabled {
            row.enabled = enabled;
        }
        if let Some(timeout_ms) = parsed.timeout_ms {
            row.timeout_ms = timeout_ms;
        }
        if !matches!(parsed.cost_per_call, Patch::Absent) {
            row.cost_per_call = price(&parsed.cost_per_call);
        }
        row.modified_at = self.clock.now();
        self.check(gateway, keys, &row)?;
        match self.store.update_mcp_server(&row).await {
            Err(StoreError::Conflict) => return Err(taken(gateway, &row.name)),
            Err(StoreError::NotFound) => return Err(McpServerError::NotFound),
            other => other.map_err(McpServerError::Store)?,
        }
        self.reload().await.map_err(McpServerError::Store)?;
        Ok(to_json(&row))
    }

    /// Removes a server; answers with it as it was.
    pub async fn delete(&self, gateway: &Gateway, id: &str) -> Result<Value, McpServerError> {
        let _one = self.changes.lock().await;
        let row = self
            .row(&gateway.account_id, &gateway.id, id)
            .ok_or(McpServerError::NotFound)?;
        match self
            .store
            .delete_mcp_server(&gateway.account_id, &gateway.id, id)
            .await
        {
            Err(StoreError::NotFound) => return Err(McpServerError::NotFound),
            other => other.map_err(McpServerError::Store)?,
        }
        self.reload().await.map_err(McpServerError::Store)?;
        Ok(to_json(&row))
    }

    /// What the store cannot check: the name is not a configuration-file server's, and the
    /// key is one of the gateway's.
    fn check(
        &self,
        gateway: &Gateway,
        keys: &Keys,
        row: &StoredMcpServer,
    ) -> Result<(), McpServerError> {
        if self.upstreams().configured(&gateway.id, &row.name) {
            return Err(taken(gateway, &row.name));
        }
        if let Some(key) = &row.key_id
            && !keys.has_key(&gateway.account_id, &gateway.id, key)
        {
            return Err(field(
                "key",
                format!(
                    "gateway {:?} has no stored key {key:?} (its provider_configs)",
                    gateway.id
                ),
            ));
        }
        Ok(())
    }
}

fn taken(gateway: &Gateway, name: &str) -> McpServerError {
    McpServerError::Conflict(format!(
        "Gateway {:?} already has an MCP server named {name:?}",
        gateway.id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        map
    }

    fn fields(value: Value) -> Vec<String> {
        parse(&body(value))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field.into_owned())
            .collect()
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            fields(
                json!({"name": "Git_Hub", "url": "ftp://x", "enabled": "yes", "key": 3,
                          "timeout_ms": 0})
            ),
            ["name", "url", "enabled", "key", "timeout_ms"]
        );
        assert_eq!(
            fields(json!({"headers": {"Authorization": "Bearer x", "x-ok": 1}})),
            ["headers.Authorization", "headers.x-ok"]
        );
        let errors = parse(&body(json!({"nmae": "x"}))).unwrap_err();
        assert_eq!(errors[0].message, "unknown field; did you mean name?");
    }

    #[test]
    fn a_good_body_reads_and_returned_fields_are_ignored() {
        let parsed = parse(&body(json!({
            "id": "x", "created_at": "t", "name": "git-hub", "url": "https://h.example/mcp",
            "headers": {"X-Tenant": "acme"}, "key": null, "enabled": false
        })))
        .unwrap();
        assert_eq!(parsed.name.as_deref(), Some("git-hub"));
        assert_eq!(
            parsed.headers.unwrap().into_iter().collect::<Vec<_>>(),
            [("x-tenant".to_owned(), "acme".to_owned())]
        );
        assert!(matches!(parsed.key, Patch::Null));
        assert_eq!(parsed.enabled, Some(false));
    }
}
