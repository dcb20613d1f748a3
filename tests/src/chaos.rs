//! A TCP proxy that can cut the line: the server talks to its database through
//! it, and a test takes the database away and gives it back.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy from a local port to `target`.
#[derive(Debug)]
pub struct ChaosProxy {
    address: String,
    broken: Arc<watch::Sender<bool>>,
    accept: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let address = listener.local_addr().expect("proxy address").to_string();
        let (broken, _) = watch::channel(false);
        let broken = Arc::new(broken);
        let sender = broken.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *sender.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = sender.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|b| *b) => {}
                    }
                });
            }
        });
        Self {
            address,
            broken,
            accept,
        }
    }

    /// `host:port` to connect to instead of the target.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.broken.send_replace(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.broken.send_replace(false);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
