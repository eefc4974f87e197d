//! A TCP proxy in front of a server (PostgreSQL) that a test can cut: close every connection
//! and refuse new ones, or blackhole (connections stay open but nothing passes, as in a network
//! partition), then restore.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// Every connection is closed; new ones are closed as soon as they are accepted.
    Refuse,
    /// Nothing passes; connections stay open and silent.
    Blackhole,
}

pub struct TcpProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test's TCP proxy: its accept loop and connections, aborted when the proxy drops"
    )]
    pub async fn start(target: (String, u16)) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Open);
        let modes = mode.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(serve(client, target.clone(), modes.subscribe()));
            }
        });
        TcpProxy { addr, mode, accept }
    }

    /// Closes every connection through the proxy and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Refuse);
    }

    /// Stops every byte, without closing anything: the peers see silence. Connections silenced
    /// here stay silent for good (the server they reached is gone, as after a failover).
    pub fn blackhole(&self) {
        self.mode.send_replace(Mode::Blackhole);
    }

    /// New connections pass again.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Open);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Connection tasks end when the mode sender goes (with the proxy).
        self.accept.abort();
    }
}

async fn serve(mut client: TcpStream, target: (String, u16), mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Refuse => return,
        Mode::Blackhole => return hold(mode).await,
        Mode::Open => {}
    }
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let changed = tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => return,
        changed = mode.wait_for(|mode| *mode != Mode::Open) => changed.map(|mode| *mode),
    };
    if matches!(changed, Ok(Mode::Blackhole)) {
        // Both sockets stay open, unread and unwritten.
        hold(mode).await;
    }
    drop((client, server));
}

/// Keeps the caller's sockets open and silent until the proxy refuses connections or goes.
async fn hold(mut mode: watch::Receiver<Mode>) {
    let _ = mode.wait_for(|mode| *mode == Mode::Refuse).await;
}
