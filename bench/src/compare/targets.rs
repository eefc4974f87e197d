//! The three things measured side by side: the mock upstream itself (direct), nginx
//! `proxy_pass` to it, and `tollgate serve` in front of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;

use super::client::{Call, Connection};
use super::procs::{self, Process};

/// The admin token of the benchmark's Tollgate (its data dir is temporary).
const ADMIN_TOKEN: &str = "bench-admin-token-0123456";
/// The gateway created with `collect_logs = false`, for the features-off runs.
pub const NOLOG_GATEWAY: &str = "nolog";
/// Tollgate's gateway whose spans go to a collector that never answers (docs/observability.md).
pub const TRACED_GATEWAY: &str = "traced";
/// A gateway with a spend limit and DLP (every built-in profile, both ways, FLAG).
pub const GOVERNED_GATEWAY: &str = "governed";
/// A gateway with the dynamic route [`ROUTE`] (docs/routing.md).
pub const ROUTED_GATEWAY: &str = "routed";
/// The route: a condition on a header, then a 50/50 split between two model elements.
pub const ROUTE: &str = "bench";
/// The name of the mock's MCP server on the default gateway (docs/mcp.md).
pub const MCP_SERVER: &str = "mock";

/// Where each target serves the OpenAI chat completions route.
pub struct Target {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// nginx relays streams from a server with `proxy_buffering off`; the others use `addr`.
    pub stream_addr: SocketAddr,
    pub path: String,
    /// The process whose memory and CPU are reported (None for direct: it is the mock).
    pub pid: Option<u32>,
}

impl Target {
    pub fn call(&self, body: &Bytes) -> Call {
        Call {
            addr: self.addr,
            path: self.path.clone(),
            headers: vec![("authorization", "Bearer sk-bench".to_owned())],
            body: body.clone(),
        }
    }

    pub fn stream_call(&self, body: &Bytes) -> Call {
        Call {
            addr: self.stream_addr,
            ..self.call(body)
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }
}

pub struct Mock {
    pub process: Process,
    pub addr: SocketAddr,
}

pub async fn start_mock(bin: &Path, dir: &Path) -> anyhow::Result<Mock> {
    let args = ["--listen", "127.0.0.1:0", "--no-record"].map(String::from);
    let mut process = Process::spawn(
        "tollgate-mock",
        bin,
        &args,
        &[],
        None,
        &dir.join("mock.err"),
    )?;
    let addr = process.address_after("listening on ").await?;
    Ok(Mock { process, addr })
}

pub struct Nginx {
    pub process: Process,
    pub addr: SocketAddr,
    pub stream_addr: SocketAddr,
}

/// One worker (no master process, so the pid we hold is the one doing the work), upstream
/// keep-alive to the mock, no access log. The second server turns buffering off so SSE events
/// are relayed as they arrive, as nginx users do for streams.
pub async fn start_nginx(
    bin: &Path,
    mock: SocketAddr,
    core: Option<u32>,
    dir: &Path,
) -> anyhow::Result<Nginx> {
    let dir = dir.join("nginx");
    std::fs::create_dir_all(&dir)?;
    let (port, stream_port) = (procs::free_port()?, procs::free_port()?);
    let d = dir.display();
    let config = format!(
        "daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    upstream mock {{
        server {mock};
        keepalive 1024;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
    server {{
        listen 127.0.0.1:{stream_port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }}
    }}
}}
"
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config)?;
    let args = vec![
        "-p".to_owned(),
        dir.display().to_string(),
        "-e".to_owned(),
        dir.join("error.log").display().to_string(),
        "-c".to_owned(),
        config_path.display().to_string(),
    ];
    let process = Process::spawn("nginx", bin, &args, &[], core, &dir.join("stderr"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let stream_addr: SocketAddr = ([127, 0, 0, 1], stream_port).into();
    procs::wait_for_port(addr)
        .await
        .with_context(|| log_tail(&dir.join("error.log")))?;
    procs::wait_for_port(stream_addr).await?;
    Ok(Nginx {
        process,
        addr,
        stream_addr,
    })
}

pub struct Tollgate {
    pub process: Process,
    pub addr: SocketAddr,
}

/// `tollgate serve` with a fresh data dir and the defaults (logs, analytics, cost on), the mock's
/// MCP server on the default gateway, plus a `nolog` gateway for the features-off runs.
pub async fn start_tollgate(
    bin: &Path,
    mock: SocketAddr,
    core: Option<u32>,
    dir: &Path,
) -> anyhow::Result<Tollgate> {
    let data_dir = dir.join("tollgate-data");
    std::fs::create_dir_all(&data_dir)?;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\n\
         [providers.openai]\nbase_url = \"http://{mock}/v1\"\n\n\
         [[mcp_servers]]\ngateway = \"default\"\nname = \"{MCP_SERVER}\"\nurl = \"http://{mock}/mcp\"\n",
        data_dir.display()
    );
    let config_path: PathBuf = dir.join("tollgate.toml");
    std::fs::write(&config_path, config)?;
    let args = vec![
        "serve".to_owned(),
        "--config".to_owned(),
        config_path.display().to_string(),
    ];
    // Warnings only: the benchmark must not measure writing a line per request to stderr.
    let env = [("TOLLGATE_LOG", "warn")];
    let mut process = Process::spawn(
        "tollgate",
        bin,
        &args,
        &env,
        core,
        &dir.join("tollgate.err"),
    )?;
    let addr = process
        .address_after("tollgate listening on ")
        .await
        .with_context(|| log_tail(&dir.join("tollgate.err")))?;
    create_nolog_gateway(addr).await?;
    Ok(Tollgate { process, addr })
}

async fn create_nolog_gateway(addr: SocketAddr) -> anyhow::Result<()> {
    create_gateway(
        addr,
        format!(r#"{{"id":"{NOLOG_GATEWAY}","collect_logs":false}}"#),
    )
    .await
    .context("creating the features-off gateway")
}

/// The traced gateway: every request's spans go to `collector`, which accepts connections and
/// never answers, so the export queue fills and spans are dropped; the requests must not notice.
pub async fn create_traced_gateway(addr: SocketAddr, collector: SocketAddr) -> anyhow::Result<()> {
    create_gateway(
        addr,
        format!(
            r#"{{"id":"{TRACED_GATEWAY}","otel":[{{"url":"http://{collector}/v1/traces","content_type":"protobuf"}}]}}"#
        ),
    )
    .await
    .context("creating the traced gateway")
}

/// The governed gateway: one spend limit no request reaches (so every request reserves and
/// settles) and DLP scanning requests and responses with every built-in profile, flagging.
pub async fn create_governed_gateway(addr: SocketAddr) -> anyhow::Result<()> {
    create_gateway(
        addr,
        format!(
            r#"{{"id":"{GOVERNED_GATEWAY}","spend_limits":{{"enabled":true,"rules":[{{"id":"bench","limit":1000000,"window":86400,"technique":"fixed"}}]}},"dlp":{{"enabled":true,"action":"FLAG","profiles":["financial","national_ids","credentials"]}}}}"#
        ),
    )
    .await
    .context("creating the governed gateway")
}

/// The routed gateway and its route: `start`, a condition no benchmark request meets (so it is
/// evaluated every time), a 50/50 split, two model elements calling the mock, `end`: the walk a
/// typical A/B route takes.
pub async fn create_routed_gateway(addr: SocketAddr) -> anyhow::Result<()> {
    create_gateway(addr, format!(r#"{{"id":"{ROUTED_GATEWAY}"}}"#))
        .await
        .context("creating the routed gateway")?;
    let model = |id: &str| {
        format!(
            r#"{{"id":"{id}","type":"model","properties":{{"provider":"openai","model":"gpt-4o-mini","timeout":10000,"retries":0}},"outputs":{{"success":{{"elementId":"end"}}}}}}"#
        )
    };
    let elements = [
        r#"{"id":"start","type":"start","outputs":{"next":{"elementId":"tier"}}}"#.to_owned(),
        r#"{"id":"tier","type":"conditional","properties":{"conditions":{"headers.x-tier":{"$eq":"gold"}}},"outputs":{"true":{"elementId":"a"},"false":{"elementId":"split"}}}"#.to_owned(),
        r#"{"id":"split","type":"percentage","outputs":{"50% a":{"elementId":"a"},"50% b":{"elementId":"b"}}}"#.to_owned(),
        model("a"),
        model("b"),
        r#"{"id":"end","type":"end","outputs":{}}"#.to_owned(),
    ];
    let body = format!(
        r#"{{"name":"{ROUTE}","elements":[{}]}}"#,
        elements.join(",")
    );
    admin_post(
        addr,
        &format!("/client/v4/accounts/local/ai-gateway/gateways/{ROUTED_GATEWAY}/routes"),
        body,
    )
    .await
    .context("creating the route")
}

async fn create_gateway(addr: SocketAddr, body: String) -> anyhow::Result<()> {
    admin_post(addr, "/client/v4/accounts/local/ai-gateway/gateways", body).await
}

async fn admin_post(addr: SocketAddr, path: &str, body: String) -> anyhow::Result<()> {
    let call = Call {
        addr,
        path: path.to_owned(),
        headers: vec![("authorization", format!("Bearer {ADMIN_TOKEN}"))],
        body: Bytes::from(body),
    };
    Connection::open(addr).await?.send(&call).await?;
    Ok(())
}

/// A black-holed collector: accepts every connection and holds it, never reading or answering.
pub async fn start_black_hole() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(addr)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(10).collect();
    let lines: Vec<&str> = lines.into_iter().rev().collect();
    format!("{}:\n{}", path.display(), lines.join("\n"))
}
