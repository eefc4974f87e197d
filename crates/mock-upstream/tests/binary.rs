//! The `tollgate-mock` binary: announces its address, serves, and exits on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

#[test]
fn binary_serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate-mock"))
        .args(["--listen", "127.0.0.1:0", "--no-record"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (models, count) = runtime.block_on(async {
        let client = common::client();
        let models: Value = client
            .get(format!("{url}/v1/models"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let recorded: Value = client
            .get(format!("{url}/__mock/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count: Value = client
            .get(format!("{url}/__mock/count"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(recorded, serde_json::json!([]), "--no-record keeps nothing");
        (models, count)
    });
    assert_eq!(models["object"], "list");
    assert_eq!(count["total"], 1);

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(exit) => assert!(exit.unwrap().success()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("tollgate-mock did not exit on SIGTERM");
        }
    }
}
