//! A tiny HTTP server that publishes a key set, which a test can change: a CB's
//! `jwks_uri`, on loopback.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug)]
pub struct JwksServer {
    pub uri: String,
    body: Arc<Mutex<String>>,
    hits: Arc<Mutex<u32>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(body: serde_json::Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let uri = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("address")
        );
        let body = Arc::new(Mutex::new(body.to_string()));
        let hits = Arc::new(Mutex::new(0));
        let (served, counted) = (body.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let text = served.lock().map(|b| b.clone()).unwrap_or_default();
                if let Ok(mut n) = counted.lock() {
                    *n += 1;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Self {
            uri,
            body,
            hits,
            task,
        }
    }

    /// Publishes another key set from now on.
    pub fn publish(&self, body: serde_json::Value) {
        if let Ok(mut b) = self.body.lock() {
            *b = body.to_string();
        }
    }

    /// How many times the set was fetched.
    pub fn hits(&self) -> u32 {
        self.hits.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
