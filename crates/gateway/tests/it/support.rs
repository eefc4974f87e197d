//! The test gateway: its own temp data dir, port 0, providers pointed at a mock upstream.

use std::net::SocketAddr;

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate_gateway::clock::{SharedClock, SystemClock};
use tollgate_gateway::config::{Config, Overrides};
use tollgate_gateway::server::RunningServer;
use tollgate_gateway::state::AppState;
use tollgate_mock_upstream::MockUpstream;
use tollgate_test_support::postgres::TestDatabase;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct TestGateway {
    pub addr: SocketAddr,
    /// The `metrics.listen` listener, when the configuration sets one.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    pub data_dir: std::path::PathBuf,
    pub mock: MockUpstream,
    pub http: reqwest::Client,
    _data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        Self::with_config("", "").await
    }

    /// `server_lines` go into `[server]`; `sections` are appended as they are.
    pub async fn with_config(server_lines: &str, sections: &str) -> TestGateway {
        Self::build(server_lines, sections, None, None).await
    }

    /// A gateway whose TTLs and rate-limit windows follow `clock`.
    pub async fn with_clock(clock: SharedClock) -> TestGateway {
        Self::build("", "", Some(clock), None).await
    }

    /// The full form: an optional clock, and an optional mock to share with another gateway.
    #[expect(
        clippy::disallowed_methods,
        reason = "waits for the test gateway's server in the background; the server's own tasks are tracked by its state"
    )]
    pub async fn build(
        server_lines: &str,
        sections: &str,
        clock: Option<SharedClock>,
        mock: Option<MockUpstream>,
    ) -> TestGateway {
        let mock = match mock {
            Some(mock) => mock,
            None => MockUpstream::start().await.expect("mock upstream starts"),
        };
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mock_url = mock.url();
        // A test that sets Azure's section itself gets it instead of this one.
        let azure = match sections.contains("[providers.azure-openai]") {
            true => String::new(),
            false => format!("[providers.azure-openai]\nbase_url = \"{mock_url}/azure\""),
        };
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
admin_token = "{ADMIN_TOKEN}"
{server_lines}

[providers.openai]
base_url = "{mock_url}/v1"
[providers.anthropic]
base_url = "{mock_url}"
[providers.google-ai-studio]
base_url = "{mock_url}"
{azure}
[providers.my-llm]
base_url = "{mock_url}/v1"
credential_header = "x-llm-key"
{sections}
"#,
            data = data_dir.path().display()
        );
        let config = Config::parse(&text, std::iter::empty(), &Overrides::default())
            .expect("test config is valid");
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let bootstrap = AppState::build_with_clock(config, clock)
            .await
            .expect("state builds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = bootstrap.state.clone();
        let server = RunningServer::start(bootstrap.state, async {
            let _ = stopped.await;
        })
        .await
        .expect("server starts");
        let (addr, metrics_addr) = (server.addr, server.metrics_addr);
        tokio::spawn(server.wait());
        TestGateway {
            addr,
            metrics_addr,
            state,
            data_dir: data_dir.path().to_path_buf(),
            mock,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            _data_dir: data_dir,
            stop: Some(stop),
        }
    }

    /// Waits until every log record written so far is in the store.
    pub async fn logs_flushed(&self) {
        self.state.logs().flushed().await;
    }

    /// The stored row of a log id (any gateway of `local`).
    pub async fn log_row(
        &self,
        gateway: &str,
        id: &str,
    ) -> Option<tollgate_gateway::store::logs::LogRow> {
        self.logs_flushed().await;
        self.state
            .store()
            .get_log("local", gateway, id)
            .await
            .expect("store answers")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `/metrics` as a scraper sees it.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await;
        response
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// A management call with the admin token; returns status and the JSON envelope.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/client/v4{path}")))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("management call");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON envelope"))
    }

    pub async fn create_gateway(&self, body: Value) -> Value {
        let (status, envelope) = self
            .admin(
                reqwest::Method::POST,
                "/accounts/local/ai-gateway/gateways",
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{envelope}");
        envelope["result"].clone()
    }

    /// Creates a run token with `body` (its name and scope); returns its secret.
    pub async fn create_token(&self, body: Value) -> String {
        let (status, envelope) = self
            .admin(
                reqwest::Method::POST,
                "/accounts/local/ai-gateway/tokens",
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{envelope}");
        envelope["result"]["token"].as_str().unwrap().to_owned()
    }

    /// Sends bytes exactly as given (no client-side path normalisation) and returns the
    /// status code and the whole response text.
    pub async fn raw(&self, request: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, text)
    }
}

impl TestGateway {
    /// Stops the server as SIGTERM does (graceful shutdown); the state stays readable.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Resident set size of this process, KiB. Other tests share the process, so a figure measured
/// with it is only as quiet as the test filter makes it.
/// Two instances on one fresh PostgreSQL database, as behind one load balancer. The database
/// comes first so that a test drops it after both gateways (dropping it removes it).
pub async fn two_instances_on_one_database() -> (TestDatabase, TestGateway, TestGateway) {
    let database = TestDatabase::create().await.unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config("", &storage).await;
    let two = TestGateway::with_config("", &storage).await;
    (database, one, two)
}

pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A gateway error's code, checking its shape on the way: OpenAI's on the unified endpoint
/// (`error` an object), Cloudflare's envelope everywhere else.
pub fn gateway_error_code(body: &Value) -> u64 {
    if body["error"].is_object() {
        assert!(body["error"]["message"].is_string(), "{body}");
        let code = body["error"]["code"].as_str().expect("code");
        return code.parse().expect("a numeric code");
    }
    assert_eq!(body["success"], Value::Bool(false), "{body}");
    assert_eq!(body["name"], "AiGatewayError", "{body}");
    let code = body["internalCode"].as_u64().expect("internalCode");
    assert_eq!(body["error"][0]["code"].as_u64(), Some(code));
    code
}

/// A Redis key prefix of the test's own, its keys deleted when the test ends.
pub use tollgate_test_support::redis::RedisPrefix;

/// A one-message chat completion for `gpt-4o-mini` saying `text`.
pub fn chat_saying(text: &str, stream: bool) -> Value {
    serde_json::json!({"model": "gpt-4o-mini", "stream": stream,
        "messages": [{"role": "user", "content": text}]})
}

/// POSTs `body` to gateway `gateway`'s OpenAI chat completions route with a provider key.
pub async fn send_chat(gw: &TestGateway, gateway: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(gw.url(&format!("/v1/local/{gateway}/openai/chat/completions")))
        .header("authorization", "Bearer sk-test-provider-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

pub fn chat_body(stream: bool) -> Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hello to the gateway tests"}],
        "stream": stream,
    })
}
