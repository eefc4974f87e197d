//! A Redis key prefix of the test's own on the machine's Redis, its keys deleted when it goes.

pub fn url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct RedisPrefix(pub String);

impl RedisPrefix {
    pub fn new() -> RedisPrefix {
        RedisPrefix(format!("tollgate-test-{}:", super::unique_name()))
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(mut connection) = redis::Client::open(url()).and_then(|c| c.get_connection()) else {
            return;
        };
        let keys: Vec<String> =
            redis::Commands::scan_match::<_, String>(&mut connection, format!("{}*", self.0))
                .map(|keys| keys.filter_map(Result::ok).collect())
                .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}
