//! A database of the test's own on the machine's PostgreSQL (`TOLLGATE_TEST_POSTGRES_URL`),
//! dropped when the guard goes, also when the test fails.

use tokio_postgres::NoTls;

pub struct Database {
    admin: tokio_postgres::Config,
    pub name: String,
}

impl Database {
    pub async fn create() -> Database {
        let url = std::env::var("TOLLGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin: tokio_postgres::Config = url.parse().unwrap();
        let name = format!("tollgate_test_{}", super::unique_name());
        let (client, connection) = admin.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Database { admin, name }
    }

    /// The host and port of the server, for a proxy in front of it.
    pub fn server(&self) -> (String, u16) {
        let host = match self.admin.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".into(),
        };
        let port = self.admin.get_ports().first().copied().unwrap_or(5432);
        (host, port)
    }

    /// A URL for this database on `host:port` (the server itself, or a proxy in front of it).
    pub fn url_via(&self, host: &str, port: u16) -> String {
        let user = self.admin.get_user().unwrap_or("postgres");
        format!("postgres://{user}@{host}:{port}/{}", self.name)
    }

    pub fn url(&self) -> String {
        let (host, port) = self.server();
        self.url_via(&host, port)
    }

    /// A connection straight to the server, for checking what the gateways wrote.
    pub async fn client(&self) -> tokio_postgres::Client {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        let (client, connection) = config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime: a runtime of its own on another thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok((client, connection)) = admin.connect(NoTls).await {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
