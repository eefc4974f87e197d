//! `tollgate serve` inside a network and mount namespace the test makes: only loopback, a
//! TEST-NET route into nothing, and a `resolv.conf` of the test's own bind-mounted over
//! `/etc/resolv.conf`. The test's thread joins the network namespace to reach the gateway and
//! to answer its DNS queries; the namespaces end with the gateway process and that thread.
//! Needs root (CAP_SYS_ADMIN for `unshare` and `setns`); elsewhere the tests say why and skip.

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::process::Command as StdCommand;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use tokio::process::{Child, Command};

use super::process::{ADMIN_TOKEN, BIN, spawn};

/// Packets to this TEST-NET-1 network are routed to the namespace's loopback, which drops them
/// (not a local address, no forwarding): a connect there gets no answer at all, like a host
/// whose firewall drops SYNs.
pub const BLACKHOLE_NET: &str = "192.0.2.0/24";

/// Why namespaces cannot be made here, or None when they can.
pub fn unavailable() -> Option<String> {
    let probe = StdCommand::new("unshare")
        .args(["--net", "--mount", "--", "ip", "link", "set", "lo", "up"])
        .output();
    match probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`unshare --net --mount` failed (not root?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(error) => Some(format!("cannot run unshare: {error}")),
    }
}

/// Runs `test` on a thread of its own, in the network namespace of a `tollgate serve` started
/// there with `config` and `resolv_conf`, on a single-threaded runtime, so every socket the
/// test opens is inside the namespace. The gateway is killed when `test` ends.
pub fn run<F, Fut>(dir: &Path, config: &str, resolv_conf: &str, test: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let config_path = dir.join("tollgate.toml");
    let resolv_path = dir.join("resolv.conf");
    std::fs::write(&config_path, config).unwrap();
    std::fs::write(&resolv_path, resolv_conf).unwrap();
    let data_dir = dir.join("data");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let joined = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (child, base) = start(&config_path, &resolv_path, &data_dir).await;
            join_network_of(&child);
            test(base).await;
            drop(child);
        });
    })
    .join();
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

async fn start(config: &Path, resolv_conf: &Path, data_dir: &Path) -> (Child, String) {
    // `exec` keeps one process: the child's pid is the gateway's, and killing it ends the
    // namespaces (nothing else lives in them).
    let setup = format!(
        "set -e; ip link set lo up; ip route add {BLACKHOLE_NET} dev lo; \
         mount --bind \"$0\" /etc/resolv.conf; exec \"$@\""
    );
    let mut command = Command::new("unshare");
    command
        .args(["--net", "--mount", "--", "sh", "-c", &setup])
        .arg(resolv_conf)
        .arg(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN);
    spawn(command).await
}

/// Moves this thread (only) into the child's network namespace.
fn join_network_of(child: &Child) {
    let pid = child.id().unwrap();
    let namespace = File::open(format!("/proc/{pid}/ns/net")).unwrap();
    move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&namespace),
        Some(LinkNameSpaceType::Network),
    )
    .unwrap();
}
