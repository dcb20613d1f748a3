//! Small pieces the benchmark driver shares: latency percentiles, a free port,
//! waiting for readiness.

use std::time::Duration;

/// Recorded latencies, in microseconds.
#[derive(Debug, Default)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }

    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile in milliseconds (nearest rank).
    pub fn percentile(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil().max(1.0) as usize - 1;
        self.0[rank.min(self.0.len() - 1)] as f64 / 1000.0
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until `GET /readyz` answers 200 (at most about a minute): asked often
/// at first (a small register loads in milliseconds), then every 100 ms.
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    for attempt in 0..700 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        let pause = if attempt < 100 { 5 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    panic!("the server at {base} did not become ready");
}
