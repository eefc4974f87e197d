//! The management API as the CLI verbs call it: the admin token on every call, Cloudflare's
//! envelope unwrapped, its errors turned into one message.

use anyhow::{Context, bail};
use serde_json::Value;

use super::target::Target;
use crate::cli::ClientArgs;

pub struct Api {
    http: reqwest::Client,
    /// `<url>/client/v4/accounts/<account>/ai-gateway`.
    base: String,
    token: String,
}

impl Api {
    pub fn new(client: &ClientArgs) -> anyhow::Result<Api> {
        let Target { url, admin_token } = super::target::resolve(client)?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Api {
            http: reqwest::Client::new(),
            base: format!("{url}/client/v4/accounts/{}/ai-gateway", client.account),
            token: admin_token,
        })
    }

    /// Calls `path` (after `…/ai-gateway`) and returns `result`, or fails with the API's errors.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut envelope = self.envelope(method, path, &[], body).await?;
        Ok(envelope["result"].take())
    }

    /// A `GET` with query parameters; the whole envelope (`result` and `result_info`).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.envelope(reqwest::Method::GET, path, query, None).await
    }

    async fn envelope(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .with_context(|| format!("{}{path} is not a URL", self.base))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(name, value)| (name, value)));
        }
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = response.status();
        let envelope: Value = response
            .json()
            .await
            .context("the gateway's answer is not JSON")?;
        if envelope["success"] == Value::Bool(true) {
            return Ok(envelope);
        }
        let messages: Vec<String> = envelope["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} ({})",
                    e["message"].as_str().unwrap_or("error"),
                    e["code"]
                )
            })
            .collect();
        bail!("{status}: {}", messages.join("; "))
    }
}
