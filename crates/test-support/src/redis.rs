//! A Redis key prefix of the test's own on the machine's Redis (`TOLLGATE_TEST_REDIS_URL`, by
//! default the local server); its keys are deleted (found with SCAN, never KEYS, never a flush)
//! when the guard goes.

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

pub fn url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.into())
}

pub struct RedisPrefix {
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new() -> RedisPrefix {
        RedisPrefix {
            prefix: format!("tollgate-test-{}:", crate::unique_name()),
        }
    }

    /// The `[redis]` section of a gateway configuration using this prefix.
    pub fn section(&self) -> String {
        format!(
            "[redis]\nurl = \"{}\"\nkey_prefix = \"{}\"\n",
            url(),
            self.prefix
        )
    }
}

impl Default for RedisPrefix {
    fn default() -> Self {
        RedisPrefix::new()
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(mut connection) = redis::Client::open(url()).and_then(|c| c.get_connection()) else {
            return;
        };
        let keys: Vec<String> =
            redis::Commands::scan_match::<_, String>(&mut connection, format!("{}*", self.prefix))
                .map(|keys| keys.filter_map(Result::ok).collect())
                .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// A `redis-server` of the test's own, for outage tests (kill it, stop it): never the shared
/// server. Killed when dropped.
pub struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    /// On a free port.
    pub fn start() -> anyhow::Result<PrivateRedis> {
        // A free port, released just before redis-server takes it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        PrivateRedis::start_on(port)
    }

    /// On `port`, e.g. the port of one that was killed, to bring it back.
    pub fn start_on(port: u16) -> anyhow::Result<PrivateRedis> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let server = PrivateRedis { child, port };
        // A readiness poll for the process (bounded), not a wait on the code under test.
        let client = redis::Client::open(server.url())?;
        for _ in 0..500 {
            let pong = client
                .get_connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return Ok(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        anyhow::bail!("redis-server on port {port} did not start")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends a signal (`-STOP` hangs it, `-CONT` resumes it).
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }

    /// Kills it now (a Redis outage).
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // A stopped process must be continued before it can die of SIGKILL's cleanup.
        let _ = self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
