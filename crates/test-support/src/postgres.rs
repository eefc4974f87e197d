//! A database of the test's own on the machine's PostgreSQL (`TOLLGATE_TEST_POSTGRES_URL`, by
//! default the local server), dropped `WITH (FORCE)` when the guard goes, closing any
//! connection the test left open.

use tokio_postgres::NoTls;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDatabase {
    admin: tokio_postgres::Config,
    pub name: String,
}

impl TestDatabase {
    /// Creates `tollgate_test_<unique>`.
    pub async fn create() -> anyhow::Result<TestDatabase> {
        let url = std::env::var("TOLLGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let admin: tokio_postgres::Config = url.parse()?;
        let name = format!("tollgate_test_{}", crate::unique_name());
        let (client, connection) = admin.connect(NoTls).await?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = connection.await;
        Ok(TestDatabase { admin, name })
    }

    /// The connection settings of this database.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        config
    }

    /// A connection straight to the server, for checking what the code under test wrote.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = self.config().connect(NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
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
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop cannot await and runs inside the test's runtime: a thread of its own with a
        // runtime of its own drops the database.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, connection) = admin.connect(NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
