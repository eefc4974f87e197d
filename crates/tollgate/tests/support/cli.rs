//! Running a CLI verb of the real binary against a running server, as a user would.

use std::process::Output;

use tokio::process::Command;

use super::process::{ADMIN_TOKEN, BIN, Tollgate};

/// `tollgate <args> --url <server> --admin-token <token>`, environment defaults removed.
pub async fn run(server: &Tollgate, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--url", &server.base, "--admin-token", ADMIN_TOKEN])
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .env_remove("TOLLGATE_URL")
        .env_remove("TOLLGATE_CONFIG")
        .output()
        .await
        .unwrap()
}

/// Standard output of a verb that must succeed.
pub async fn ok(server: &Tollgate, args: &[&str]) -> String {
    let output = run(server, args).await;
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Standard output of a `--json` verb, parsed.
pub async fn json(server: &Tollgate, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(server, &args).await).unwrap()
}
