//! `tollgate token …`: create, list and revoke run tokens (by id or by name).

use anyhow::bail;
use reqwest::Method;
use serde_json::{Value, json};

use super::api::Api;
use super::output;
use crate::cli::{ClientArgs, TokenCommand, TokenScopeArgs};
use crate::terminal::printable;

pub async fn run(client: &ClientArgs, command: TokenCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    match command {
        TokenCommand::Create { name, scope } => {
            let body = create_body(&name, scope)?;
            let token = api.call(Method::POST, "/tokens", Some(body)).await?;
            output(client, &token, || {
                format!(
                    "created token {} ({}); it is shown only now:\n{}",
                    printable(token["id"].as_str().unwrap_or("")),
                    printable(&name),
                    printable(token["token"].as_str().unwrap_or(""))
                )
            });
        }
        TokenCommand::List => {
            let tokens = api.call(Method::GET, "/tokens", None).await?;
            output(client, &tokens, || {
                let mut text = format!("{:<38} {:<24} {}\n", "ID", "NAME", "CREATED");
                for t in tokens.as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "{:<38} {:<24} {}\n",
                        printable(t["id"].as_str().unwrap_or("")),
                        printable(t["name"].as_str().unwrap_or("")),
                        printable(t["created_at"].as_str().unwrap_or(""))
                    ));
                }
                text.trim_end().to_owned()
            });
        }
        TokenCommand::Show { id_or_name } => {
            let tokens = api.call(Method::GET, "/tokens", None).await?;
            let id = token_id(&tokens, &id_or_name)?;
            let token = api
                .call(Method::GET, &format!("/tokens/{id}"), None)
                .await?;
            output(client, &token, || shown(&token));
        }
        TokenCommand::Revoke { id_or_name } => {
            let tokens = api.call(Method::GET, "/tokens", None).await?;
            let id = token_id(&tokens, &id_or_name)?;
            let result = api
                .call(Method::DELETE, &format!("/tokens/{id}"), None)
                .await?;
            output(client, &result, || {
                format!("revoked token {}", printable(&id))
            });
        }
    }
    Ok(())
}

/// A token as `token show` prints it: one line per scope field that restricts something,
/// then the budget's spend.
fn shown(token: &Value) -> String {
    let mut text = format!(
        "{} ({}), created {}",
        printable(token["id"].as_str().unwrap_or("")),
        printable(token["name"].as_str().unwrap_or("")),
        printable(token["created_at"].as_str().unwrap_or(""))
    );
    for field in [
        "gateways",
        "providers",
        "models",
        "mcp_tools",
        "expires_at",
        "metadata",
        "rate_limit",
        "budget",
    ] {
        let value = &token[field];
        if !value.is_null() {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.push_str(&format!("\n  {field:<11} {}", printable(&value)));
        }
    }
    let spend = &token["spend"];
    if !spend.is_null() {
        text.push_str(&format!(
            "\n  spent       {} of {} USD ({} left) from {} to {}",
            spend["spent"],
            spend["limit"],
            spend["remaining"],
            printable(spend["window_start"].as_str().unwrap_or("")),
            printable(spend["window_end"].as_str().unwrap_or(""))
        ));
    }
    text
}

/// The create call's body: the name and the scope flags given; the server validates them.
fn create_body(name: &str, scope: TokenScopeArgs) -> anyhow::Result<Value> {
    let mut body = json!({"name": name});
    let metadata = match scope.metadata {
        Some(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| anyhow::anyhow!("--metadata is not JSON: {e}"))?,
        ),
        None => None,
    };
    let rate_limit = scope
        .rate_limit
        .map(|text| per_window(&text, "--rate-limit", "limit", "interval"))
        .transpose()?;
    let budget = scope
        .budget
        .map(|text| per_window(&text, "--budget", "limit", "window"))
        .transpose()?;
    let fields = [
        ("gateways", scope.gateways.map(Value::from)),
        ("providers", scope.providers.map(Value::from)),
        ("models", scope.models.map(Value::from)),
        ("mcp_tools", scope.mcp_tools.map(Value::from)),
        ("expires_at", scope.expires_at.map(Value::from)),
        ("metadata", metadata),
        ("rate_limit", rate_limit),
        ("budget", budget),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            body[field] = value;
        }
    }
    Ok(body)
}

/// `LIMIT/WINDOW[/TECHNIQUE]` as `{limit, <window>, technique}`, or a JSON object as it is.
/// A window that is not a number (`day`) is passed as text; the server validates every part.
fn per_window(text: &str, flag: &str, limit: &str, window: &str) -> anyhow::Result<Value> {
    let text = text.trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{flag} is not JSON: {e}"));
    }
    let parts: Vec<&str> = text.split('/').map(str::trim).collect();
    let (amount, span, technique) = match parts.as_slice() {
        [amount, span] => (*amount, *span, None),
        [amount, span, technique] => (*amount, *span, Some(*technique)),
        _ => bail!("{flag} expects LIMIT/WINDOW[/sliding], e.g. 100/60, or a JSON object"),
    };
    let number = |part: &str| -> anyhow::Result<Value> {
        let parsed: serde_json::Number = part
            .parse()
            .map_err(|_| anyhow::anyhow!("{flag}: `{part}` is not a number"))?;
        Ok(Value::Number(parsed))
    };
    let mut body = json!({});
    body[limit] = number(amount)?;
    body[window] = match span.parse::<u64>() {
        Ok(seconds) => Value::from(seconds),
        Err(_) => Value::from(span),
    };
    if let Some(technique) = technique {
        body["technique"] = Value::from(technique);
    }
    Ok(body)
}

/// The id of the token `id_or_name` names: a token with that id, else the one token with that
/// name. Names need not be unique, so several tokens of one name are an error that lists them.
fn token_id(tokens: &Value, id_or_name: &str) -> anyhow::Result<String> {
    let tokens: Vec<&Value> = tokens.as_array().into_iter().flatten().collect();
    let field = |t: &Value, key: &str| t[key].as_str().unwrap_or("").to_owned();
    if tokens.iter().any(|t| field(t, "id") == id_or_name) {
        return Ok(id_or_name.to_owned());
    }
    let named: Vec<&Value> = tokens
        .into_iter()
        .filter(|t| field(t, "name") == id_or_name)
        .collect();
    match named.as_slice() {
        [] => bail!("no run token has the id or name `{id_or_name}`"),
        [one] => Ok(field(one, "id")),
        several => {
            let matches: Vec<String> = several
                .iter()
                .map(|t| format!("{} (created {})", field(t, "id"), field(t, "created_at")))
                .collect();
            bail!(
                "{} run tokens are named `{id_or_name}`; revoke one by its id: {}",
                several.len(),
                matches.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{per_window, shown, token_id};

    #[test]
    fn a_token_is_shown_with_its_restrictions_and_spend() {
        let text = shown(&json!({
            "id": "a1", "name": "ci", "created_at": "t0", "gateways": ["prod"],
            "providers": null, "budget": {"limit": 5, "window": "day"},
            "spend": {"spent": 1.25, "limit": 5, "remaining": 3.75,
                      "window_start": "2026-02-18T00:00:00Z", "window_end": "2026-02-19T00:00:00Z"},
        }));
        assert!(text.starts_with("a1 (ci), created t0"), "{text}");
        assert!(text.contains(r#"gateways    ["prod"]"#), "{text}");
        assert!(!text.contains("providers"), "{text}");
        assert!(
            text.contains("spent       1.25 of 5 USD (3.75 left) from 2026-02-18T00:00:00Z"),
            "{text}"
        );
    }

    #[test]
    fn limits_per_window_are_read_from_the_short_form_or_json() {
        assert_eq!(
            per_window("100/60", "--rate-limit", "limit", "interval").unwrap(),
            json!({"limit": 100, "interval": 60})
        );
        assert_eq!(
            per_window("2.5/day", "--budget", "limit", "window").unwrap(),
            json!({"limit": 2.5, "window": "day"})
        );
        assert_eq!(
            per_window("5/3600/sliding", "--budget", "limit", "window").unwrap(),
            json!({"limit": 5, "window": 3600, "technique": "sliding"})
        );
        assert_eq!(
            per_window(
                r#"{"limit": 1, "window": "month"}"#,
                "--budget",
                "limit",
                "window"
            )
            .unwrap(),
            json!({"limit": 1, "window": "month"})
        );
        assert!(per_window("lots", "--budget", "limit", "window").is_err());
        assert!(per_window("x/day", "--budget", "limit", "window").is_err());
    }

    #[test]
    fn a_token_is_found_by_id_then_by_unique_name() {
        let tokens = json!([
            {"id": "a1", "name": "deploy", "created_at": "t1"},
            {"id": "b2", "name": "ci", "created_at": "t2"},
            {"id": "c3", "name": "ci", "created_at": "t3"},
            {"id": "d4", "name": "a1", "created_at": "t4"},
        ]);
        assert_eq!(
            token_id(&tokens, "a1").unwrap(),
            "a1",
            "an id wins over a name"
        );
        assert_eq!(token_id(&tokens, "deploy").unwrap(), "a1");
        let ambiguous = token_id(&tokens, "ci").unwrap_err().to_string();
        assert!(
            ambiguous.contains("b2 (created t2)") && ambiguous.contains("c3"),
            "{ambiguous}"
        );
        assert!(token_id(&tokens, "nope").is_err());
    }
}
