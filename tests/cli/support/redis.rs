//! A private `redis-server` per test, on a free loopback port, killed when dropped; also
//! over TLS (with a private CA, see [`super::tls`]) or a unix socket.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::servers::{free_port, have_binary};
use super::tls::Certs;

pub struct RedisServer {
    /// The TCP port (for a TLS server, its TLS port).
    pub port: u16,
    child: Child,
    pub dir: TempDir,
    password: Option<String>,
    /// The unix socket, when the server listens on one; the test's own connections use it.
    socket: Option<PathBuf>,
    tls: bool,
    /// The command line it was started with, to start it again the same way.
    args: Vec<OsString>,
}

/// How a server listens.
enum Listen<'a> {
    Tcp,
    /// TCP and a unix socket.
    Unix,
    /// TLS only (no plain TCP port), and a unix socket for the test itself.
    Tls(&'a Certs),
}

impl RedisServer {
    /// Start a server, or `None` (outside CI) when redis-server is not installed.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[])
    }

    pub fn start_with(test: &str, extra: &[&str]) -> Option<Self> {
        Self::spawn(test, Listen::Tcp, extra)
    }

    /// A server that also listens on a unix socket, `socket()`.
    pub fn start_unix(test: &str, extra: &[&str]) -> Option<Self> {
        Self::spawn(test, Listen::Unix, extra)
    }

    /// A server that speaks TLS only, with the certificate in `certs`; `url()` is its
    /// `rediss://127.0.0.1:<port>`.
    pub fn start_tls(test: &str, certs: &Certs, extra: &[&str]) -> Option<Self> {
        Self::spawn(test, Listen::Tls(certs), extra)
    }

    fn spawn(test: &str, listen: Listen<'_>, extra: &[&str]) -> Option<Self> {
        if !have_binary("redis-server", test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for redis-server");
        let password = extra
            .windows(2)
            .find(|w| w[0] == "--requirepass")
            .map(|w| w[1].to_string());
        let socket = match listen {
            Listen::Tcp => None,
            Listen::Unix | Listen::Tls(_) => Some(dir.path().join("redis.sock")),
        };
        // A port can be taken between choosing and binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            match listen {
                Listen::Tcp | Listen::Unix => {
                    cmd.args(["--port", &port.to_string()]);
                }
                Listen::Tls(certs) => {
                    cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                        .arg("--tls-cert-file")
                        .arg(&certs.cert)
                        .arg("--tls-key-file")
                        .arg(&certs.key)
                        .arg("--tls-ca-cert-file")
                        .arg(&certs.ca)
                        .args(["--tls-auth-clients", "no"]);
                }
            }
            if let Some(socket) = &socket {
                cmd.arg("--unixsocket")
                    .arg(socket)
                    .args(["--unixsocketperm", "700"]);
            }
            cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let args = cmd.get_args().map(ToOwned::to_owned).collect();
            let mut child = cmd.spawn().expect("spawn redis-server");
            let control = match &socket {
                Some(path) => unix_url_for(path, password.as_deref(), 0),
                None => url_for(password.as_deref(), port, 0),
            };
            if wait_ready(&mut child, &control) {
                return Some(RedisServer {
                    port,
                    child,
                    dir,
                    password,
                    socket,
                    tls: matches!(listen, Listen::Tls(_)),
                    args,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{test}: redis-server did not start");
    }

    /// The URL the tool is given (with the password, if any).
    pub fn url(&self) -> String {
        self.url_db(0)
    }

    pub fn url_db(&self, db: u8) -> String {
        let url = url_for(self.password.as_deref(), self.port, db);
        if self.tls {
            url.replacen("redis://", "rediss://", 1)
        } else {
            url
        }
    }

    /// The unix socket the server listens on (`start_unix`, `start_tls`).
    pub fn socket(&self) -> &Path {
        self.socket
            .as_deref()
            .expect("a server started with a socket")
    }

    /// The URL the test's own connections use: the socket if there is one, else TCP.
    fn control_url(&self, db: u8) -> String {
        match &self.socket {
            Some(path) => unix_url_for(path, self.password.as_deref(), db),
            None => url_for(self.password.as_deref(), self.port, db),
        }
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.control_url(0)).expect("a valid Redis URL")
    }

    pub fn con(&self, db: u8) -> redis::Connection {
        redis::Client::open(self.control_url(db))
            .expect("a valid Redis URL")
            .get_connection()
            .expect("connect to the test redis-server")
    }

    /// Set `n` keys `<prefix><i>` in database `db`, in pipelined batches.
    pub fn plant(&self, db: u8, prefix: &str, n: usize) {
        let mut con = self.con(db);
        for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
            let mut pipe = redis::pipe();
            for i in chunk {
                pipe.cmd("SET")
                    .arg(format!("{prefix}{i}"))
                    .arg("{\"user_id\":1}")
                    .ignore();
            }
            pipe.query::<()>(&mut con).expect("plant keys");
        }
    }

    pub fn set(&self, db: u8, key: &str) {
        redis::cmd("SET")
            .arg(key)
            .arg("canary")
            .query::<()>(&mut self.con(db))
            .expect("SET");
    }

    pub fn exists(&self, db: u8, key: &str) -> bool {
        redis::cmd("EXISTS")
            .arg(key)
            .query::<u64>(&mut self.con(db))
            .expect("EXISTS")
            == 1
    }

    pub fn dbsize(&self, db: u8) -> u64 {
        redis::cmd("DBSIZE")
            .query(&mut self.con(db))
            .expect("DBSIZE")
    }

    /// Keys matching a glob, counted with SCAN.
    pub fn count(&self, db: u8, pattern: &str) -> usize {
        scan_match::<Vec<u8>>(&mut self.con(db), pattern).len()
    }

    /// Kill the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same port, directory and options; what it had comes back only
    /// from an append-only file, if it was started with one.
    pub fn restart(&mut self) {
        self.child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server again");
        let control = self.control_url(0);
        assert!(
            wait_ready(&mut self.child, &control),
            "redis-server did not come back"
        );
    }

    /// Freeze (SIGSTOP) or thaw (SIGCONT) the server process: frozen, it still accepts
    /// connections (the kernel does) but answers nothing.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} redis-server");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Every key on the server behind `con` matching `pattern`, by SCAN.
pub fn scan_match<T: redis::FromRedisValue>(con: &mut redis::Connection, pattern: &str) -> Vec<T> {
    let iter: redis::Iter<'_, T> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter(con)
        .expect("SCAN");
    iter.map(|key| key.expect("a key")).collect()
}

/// `s` with every byte but RFC 3986's unreserved characters percent-encoded, as a URL's
/// userinfo or query value must hold a password with `:`, `@`, `/`, `?`, `#`, `%` or `&`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn url_for(password: Option<&str>, port: u16, db: u8) -> String {
    let auth = password
        .map(|p| format!(":{}@", percent_encode(p)))
        .unwrap_or_default();
    let db = if db == 0 {
        String::new()
    } else {
        format!("/{db}")
    };
    format!("redis://{auth}127.0.0.1:{port}{db}")
}

fn unix_url_for(path: &Path, password: Option<&str>, db: u8) -> String {
    let pass = password
        .map(|p| format!("&pass={}", percent_encode(p)))
        .unwrap_or_default();
    format!("redis+unix://{}?db={db}{pass}", path.display())
}

/// Wait until the server answers PING (false if it exits or takes over 10 s).
pub fn wait_ready(child: &mut Child, url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(1))
            && redis::cmd("PING").query::<String>(&mut con).is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
