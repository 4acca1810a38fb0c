//! bench/latency_proxy.py in front of a server: every chunk each way delayed by half the
//! round trip asked for.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::servers::have_binary;

/// The proxy, on a free loopback port; killed when dropped.
pub struct Proxy {
    child: Child,
    pub port: u16,
}

impl Proxy {
    /// A proxy to `127.0.0.1:target` with a round trip of `rtt_ms`; `None` (after the skip
    /// note) without python3.
    pub fn start(test: &str, target: u16, rtt_ms: f64) -> Option<Self> {
        if !have_binary("python3", test) {
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/latency_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--listen-port", "0", "--target"])
            .arg(format!("127.0.0.1:{target}"))
            .args(["--rtt-ms", &rtt_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn latency_proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the proxy's port");
        let port = line.trim().parse().expect("a port number");
        Some(Proxy { child, port })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
