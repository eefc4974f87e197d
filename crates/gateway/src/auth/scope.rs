//! A run token's scope (docs/budgets.md, "Scoped run tokens"): the gateways, providers and
//! models it opens, until when, the metadata it adds to every request, and its own rate limit
//! and budget. An absent field restricts nothing, so a token made before scopes existed opens
//! what it always did.

use serde_json::{Map, Value, json};

use super::glob;
use super::rate_limit::TokenRateLimit;
use crate::budgets::TokenBudget;
use crate::gateways::FieldError;
use crate::gateways::bounds::{METADATA_ENTRIES, TOKEN_SCOPE_ENTRIES, TOKEN_SCOPE_PATTERN_BYTES};
use crate::suggest::shown;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenScope {
    /// Gateway ids, or `*` for every gateway of the account.
    pub gateways: Option<Vec<String>>,
    /// Provider slug globs.
    pub providers: Option<Vec<String>>,
    /// Model globs, each matched against `{provider}/{model}` and the bare model.
    pub models: Option<Vec<String>>,
    /// MCP tool globs, matched against the namespaced `{server}__{tool}` (docs/mcp.md).
    pub mcp_tools: Option<Vec<String>>,
    pub expires_at: Option<jiff::Timestamp>,
    /// Merged into every request's metadata, winning on conflict.
    pub metadata: Option<Map<String, Value>>,
    /// Requests per interval, over every gateway the token opens.
    pub rate_limit: Option<TokenRateLimit>,
    /// USD per window, over every gateway the token opens.
    pub budget: Option<TokenBudget>,
}

impl TokenScope {
    /// The scope fields of a create body (or of the stored JSON): every invalid field is
    /// reported, each naming its field; `null` is the same as absent; other fields are ignored.
    pub fn parse(body: &Map<String, Value>) -> Result<TokenScope, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &'static str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            });
        };
        let mut scope = TokenScope::default();
        match allowlist(body.get("gateways")) {
            Ok(Some(ids)) => match ids
                .iter()
                .find(|id| *id != "*" && !crate::proxy::is_gateway_id(id))
            {
                Some(bad) => fail(
                    "gateways",
                    format!(
                        "{:?} is not a gateway id (1-64 characters of a-z, 0-9, '-' and '_') or *",
                        shown(bad)
                    ),
                ),
                None => scope.gateways = Some(ids),
            },
            Ok(None) => {}
            Err(message) => fail("gateways", message),
        }
        match allowlist(body.get("providers")) {
            Ok(found) => scope.providers = found,
            Err(message) => fail("providers", message),
        }
        match allowlist(body.get("models")) {
            Ok(found) => scope.models = found,
            Err(message) => fail("models", message),
        }
        match allowlist(body.get("mcp_tools")) {
            Ok(found) => scope.mcp_tools = found,
            Err(message) => fail("mcp_tools", message),
        }
        match body.get("expires_at") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => match text.parse::<jiff::Timestamp>() {
                Ok(at) => scope.expires_at = Some(at),
                Err(_) => fail(
                    "expires_at",
                    "must be an RFC 3339 time with an offset, like 2026-12-31T23:59:59Z".into(),
                ),
            },
            Some(_) => fail("expires_at", "must be an RFC 3339 time or null".into()),
        }
        match metadata(body.get("metadata")) {
            Ok(found) => scope.metadata = found,
            Err(message) => fail("metadata", message),
        }
        match body.get("rate_limit") {
            None | Some(Value::Null) => {}
            Some(value) => match TokenRateLimit::parse(value) {
                Ok(limit) => scope.rate_limit = Some(limit),
                Err(message) => fail("rate_limit", message),
            },
        }
        match body.get("budget") {
            None | Some(Value::Null) => {}
            Some(value) => match TokenBudget::parse(value) {
                Ok(budget) => scope.budget = Some(budget),
                Err(message) => fail("budget", message),
            },
        }
        if errors.is_empty() {
            Ok(scope)
        } else {
            Err(errors)
        }
    }

    /// Every scope field, `null` where absent: the management API's shape.
    pub fn to_json(&self) -> Value {
        json!({
            "gateways": self.gateways,
            "providers": self.providers,
            "models": self.models,
            "mcp_tools": self.mcp_tools,
            "expires_at": self.expires_at.map(|at| at.to_string()),
            "metadata": self.metadata,
            "rate_limit": self.rate_limit.map(|limit| limit.to_json()),
            "budget": self.budget.map(|budget| budget.to_json()),
        })
    }

    /// The JSON text the stores keep; `None` for a token without restrictions.
    pub fn stored(&self) -> Option<String> {
        (*self != TokenScope::default()).then(|| self.to_json().to_string())
    }

    /// Reads what [`TokenScope::stored`] wrote.
    pub fn from_stored(text: Option<&str>) -> Result<TokenScope, String> {
        let Some(text) = text else {
            return Ok(TokenScope::default());
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(body)) => TokenScope::parse(&body).map_err(|errors| {
                let fields: Vec<String> = errors.iter().map(|e| e.field.to_string()).collect();
                format!("a token scope with invalid {}", fields.join(", "))
            }),
            _ => Err("a token scope that is not a JSON object".into()),
        }
    }

    pub fn expired(&self, now: jiff::Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the token opens gateway `id` of its account.
    pub fn allows_gateway(&self, id: &str) -> bool {
        self.gateways
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|allowed| allowed == "*" || allowed == id))
    }

    /// Whether the token opens MCP tool `name` (`{server}__{tool}`); a token that names no
    /// tools opens every one (docs/mcp.md).
    pub fn allows_mcp_tool(&self, name: &str) -> bool {
        self.mcp_tools
            .as_ref()
            .is_none_or(|tools| tools.iter().any(|pattern| glob::matches(pattern, name)))
    }

    /// Whether one upstream call is in scope; the refusal's message says what is not. A call
    /// whose model is unknown is refused by a token that names models.
    pub fn check_call(&self, provider: &str, model: Option<&str>) -> Result<(), String> {
        if let Some(providers) = &self.providers
            && !providers.iter().any(|p| glob::matches(p, provider))
        {
            return Err(format!(
                "Out of scope: this run token does not allow provider '{}' (allowed: {})",
                shown(provider),
                listed(providers)
            ));
        }
        let Some(models) = &self.models else {
            return Ok(());
        };
        let Some(model) = model else {
            return Err(format!(
                "Out of scope: this run token allows only some models (allowed: {}) and the \
                 request names none",
                listed(models)
            ));
        };
        let qualified = format!("{provider}/{model}");
        if models
            .iter()
            .any(|m| glob::matches(m, model) || glob::matches(m, &qualified))
        {
            return Ok(());
        }
        Err(format!(
            "Out of scope: this run token does not allow model '{}' of provider '{}' (allowed: {})",
            shown(model),
            shown(provider),
            listed(models)
        ))
    }

    /// The request's metadata with the token's merged in: the token's entries win on a shared
    /// key and always stay; the request's fill what room is left under the entry limit. Then
    /// the token's id under [`TOKEN_ID_KEY`], beyond the limit, so every log row of the token
    /// says which token it was (docs/budgets.md); no client can send that key.
    pub fn merge_metadata(
        &self,
        token_id: &str,
        request: Option<Vec<(String, Value)>>,
    ) -> Option<Vec<(String, Value)>> {
        let token = self.metadata.as_ref().filter(|m| !m.is_empty());
        let mut merged: Vec<(String, Value)> = token
            .into_iter()
            .flatten()
            .take(METADATA_ENTRIES)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, value) in request.into_iter().flatten() {
            if merged.len() >= METADATA_ENTRIES {
                break;
            }
            if token.is_none_or(|token| !token.contains_key(&key)) {
                merged.push((key, value));
            }
        }
        merged.push((TOKEN_ID_KEY.to_owned(), Value::String(token_id.to_owned())));
        Some(merged)
    }
}

/// The metadata key that carries the id of the run token a request came with: set by the
/// gateway only (docs/budgets.md, "Spend per token"), refused in a request's or a token's
/// metadata.
pub const TOKEN_ID_KEY: &str = "tollgate.token_id";

/// Refuses metadata that names [`TOKEN_ID_KEY`]: only the gateway sets it.
pub fn refuse_reserved_key(entries: &[(String, Value)]) -> Result<(), String> {
    match entries.iter().any(|(key, _)| key == TOKEN_ID_KEY) {
        true => Err(format!(
            "key `{TOKEN_ID_KEY}` is reserved: the gateway sets it to the run token's id"
        )),
        false => Ok(()),
    }
}

/// An allowlist: absent, or 1 to [`TOKEN_SCOPE_ENTRIES`] non-empty strings without control
/// characters.
fn allowlist(value: Option<&Value>) -> Result<Option<Vec<String>>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("must be an array of strings or null".into()),
    };
    if items.is_empty() || items.len() > TOKEN_SCOPE_ENTRIES {
        return Err(format!(
            "must hold 1-{TOKEN_SCOPE_ENTRIES} entries (omit it, or null, for no restriction)"
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(text)
                if !text.is_empty()
                    && text.len() <= TOKEN_SCOPE_PATTERN_BYTES
                    && !text.chars().any(char::is_control) =>
            {
                Ok(text.clone())
            }
            _ => Err(format!(
                "entries must be strings of 1-{TOKEN_SCOPE_PATTERN_BYTES} bytes without control \
                 characters"
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A flat object validated as `cf-aig-metadata` is; more entries than a request keeps are
/// refused rather than dropped, since the token's entries must all reach every request.
fn metadata(value: Option<&Value>) -> Result<Option<Map<String, Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) if object.len() > METADATA_ENTRIES => Err(format!(
            "at most {METADATA_ENTRIES} entries (a request's metadata keeps no more)"
        )),
        Some(Value::Object(object)) => {
            let kept = crate::proxy::validate_metadata(object.clone())?;
            refuse_reserved_key(&kept)?;
            Ok(Some(kept.into_iter().collect()))
        }
        Some(_) => Err("must be a flat object or null".into()),
    }
}

/// An allowlist as an error message shows it: its first few entries.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text: Vec<&str> = items.iter().take(SHOWN).map(|i| shown(i)).collect();
    if items.len() > SHOWN {
        text.push("…");
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope(body: Value) -> TokenScope {
        let Value::Object(body) = body else {
            unreachable!("the tests pass objects")
        };
        TokenScope::parse(&body).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn models_match_qualified_or_bare() {
        let s = scope(json!({"models": ["openai/gpt-4o*", "claude-*"]}));
        assert!(s.check_call("openai", Some("gpt-4o-mini")).is_ok());
        assert!(s.check_call("anthropic", Some("claude-3-5-haiku")).is_ok());
        assert!(s.check_call("azure-openai", Some("gpt-4o")).is_err());
        assert!(s.check_call("openai", Some("o1")).is_err());
        assert!(s.check_call("openai", None).is_err());
    }

    #[test]
    fn the_token_wins_and_the_limit_holds() {
        let s = scope(json!({"metadata": {"team": "a", "token": "t"}}));
        let request = vec![
            ("team".to_owned(), json!("b")),
            ("x1".to_owned(), json!(1)),
            ("x2".to_owned(), json!(2)),
            ("x3".to_owned(), json!(3)),
            ("x4".to_owned(), json!(4)),
        ];
        let merged = s.merge_metadata("id-1", Some(request)).unwrap_or_default();
        assert_eq!(merged.len(), METADATA_ENTRIES + 1);
        assert!(merged.contains(&("team".to_owned(), json!("a"))));
        assert!(merged.contains(&("token".to_owned(), json!("t"))));
        assert!(!merged.contains(&("team".to_owned(), json!("b"))));
        assert_eq!(
            merged.last(),
            Some(&(TOKEN_ID_KEY.to_owned(), json!("id-1"))),
            "the id rides beyond the limit"
        );
        let plain = TokenScope::default().merge_metadata("id-2", None);
        assert_eq!(plain, Some(vec![(TOKEN_ID_KEY.to_owned(), json!("id-2"))]));
    }

    #[test]
    fn a_stored_scope_reads_back_the_same() {
        let s = scope(json!({
            "gateways": ["a", "*"], "providers": ["openai"], "models": ["gpt-*"],
            "expires_at": "2030-01-01T00:00:00Z", "metadata": {"team": "a", "n": 2},
        }));
        assert_eq!(TokenScope::from_stored(s.stored().as_deref()), Ok(s));
        assert_eq!(TokenScope::default().stored(), None);
    }

    #[test]
    fn each_invalid_field_is_named() {
        let Value::Object(body) = json!({
            "gateways": ["Not An Id"], "providers": [], "models": "gpt-4o",
            "expires_at": "tomorrow", "metadata": {"nested": {"a": 1}},
        }) else {
            unreachable!()
        };
        let errors = TokenScope::parse(&body).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| &*e.field).collect();
        assert_eq!(
            fields,
            ["gateways", "providers", "models", "expires_at", "metadata"]
        );
    }
}
