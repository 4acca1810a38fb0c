//! Why a server could not be reached, in the user's terms: nothing listens there, a host name
//! that does not resolve, no answer, a socket that is not there or may not be opened, a
//! connection closed at once. Each comes with its fix, naming the variable that gives the
//! address. Shared by the Redis and SQL connections (and `session:check`), so the same cause
//! reads the same everywhere.

use std::io;

/// Where a connection was going, for messages.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// `Redis`, `PostgreSQL`, `MySQL`.
    pub server: &'static str,
    /// `REDIS_URL` or `DATABASE_URL`.
    pub var: &'static str,
    /// `host:port`, or a socket's path.
    pub address: String,
    /// The host name alone (for a DNS failure); `None` for a socket.
    pub host: Option<String>,
}

impl Place {
    /// A TCP server at `host`, `port`.
    pub fn tcp(server: &'static str, var: &'static str, host: &str, port: u16) -> Self {
        Place {
            server,
            var,
            address: match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            },
            host: Some(host.to_string()),
        }
    }

    /// A server on the Unix socket at `path`.
    pub fn socket(server: &'static str, var: &'static str, path: &str) -> Self {
        Place {
            server,
            var,
            address: path.to_string(),
            host: None,
        }
    }

    /// No answer within `seconds`: what it means and what to check.
    pub fn no_answer(&self, seconds: u64) -> (String, String) {
        let Place {
            server,
            var,
            address,
            ..
        } = self;
        (
            format!("no answer from {address} in {seconds} s"),
            format!(
                "check that {address} can be reached from here (a firewall may drop the connection) and that it is {server}'s address, or correct {var}"
            ),
        )
    }

    /// A server there that speaks another protocol (`what` says how it answered).
    pub fn not_this_server(&self, what: &str) -> (String, String) {
        let Place {
            server,
            var,
            address,
            ..
        } = self;
        (
            format!("the server at {address} is not {server} ({what})"),
            format!("correct the port in {var}: {}", default_port(server)),
        )
    }

    /// The cause and fix of `err`, when an I/O error in its chain tells one.
    pub fn explain(&self, err: &(dyn std::error::Error + 'static)) -> Option<(String, String)> {
        let io = io_error(err)?;
        let Place {
            server,
            var,
            address,
            host,
        } = self;
        let text = io.to_string();
        let lookup = text.contains("failed to lookup address information")
            || text.contains("Name or service not known")
            || text.contains("No address associated with hostname")
            || text.contains("nodename nor servname");
        if lookup && let Some(host) = host {
            return Some((
                format!("the host `{host}` is not known (its DNS lookup failed)"),
                format!("correct the host in {var}"),
            ));
        }
        Some(match io.kind() {
            io::ErrorKind::ConnectionRefused => (
                format!("nothing listens on {address} (connection refused)"),
                format!("start {server} there, or correct the host and port in {var}"),
            ),
            io::ErrorKind::NotFound if host.is_none() => (
                format!("there is no socket `{address}`"),
                format!("start {server}, or correct the socket's path in {var}"),
            ),
            io::ErrorKind::PermissionDenied => (
                format!("this user may not connect to `{address}` (permission denied)"),
                format!("let this user open it, or correct {var}"),
            ),
            io::ErrorKind::TimedOut => self.no_answer(5),
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => (
                format!("{address} cannot be reached from here ({text})"),
                format!("check the network between here and it, or correct the host in {var}"),
            ),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe => (
                format!("the server at {address} closed the connection at once"),
                format!(
                    "check that the port in {var} is {server}'s and that the server accepts connections from here"
                ),
            ),
            _ => return None,
        })
    }
}

/// Where a server of this kind listens unless told otherwise.
fn default_port(server: &str) -> &'static str {
    match server {
        "Redis" => "Redis listens on 6379 unless configured otherwise",
        "PostgreSQL" => "PostgreSQL listens on 5432 unless configured otherwise",
        "MySQL" => "MySQL and MariaDB listen on 3306 unless configured otherwise",
        _ => "use the port the server listens on",
    }
}

/// The I/O error in `err`'s chain, wherever the driver keeps it (the redis crate keeps one as
/// an `Arc<dyn Error>`).
pub(crate) fn io_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut next = Some(err);
    while let Some(err) = next {
        let err: &(dyn std::error::Error + 'static) = match err.downcast_ref::<Shared>() {
            Some(shared) => shared.as_ref(),
            None => err,
        };
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        next = err.source();
    }
    None
}

/// How a server that is not the one expected answered a first line, in a few words: a web
/// server, or the start of what it said (printable characters only).
pub(crate) fn describe_answer(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with("HTTP/") || trimmed.starts_with('<') {
        return "it answers in HTTP, as a web server does".to_string();
    }
    let shown: String = trimmed
        .chars()
        .take_while(|c| *c != '\r' && *c != '\n')
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    if shown.is_empty() {
        "its answer is not Redis's protocol".to_string()
    } else {
        format!("it answered `{shown}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_names_its_fix() {
        let place = Place::tcp("Redis", "REDIS_URL", "127.0.0.1", 6390);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            place.explain(&refused),
            Some((
                "nothing listens on 127.0.0.1:6390 (connection refused)".to_string(),
                "start Redis there, or correct the host and port in REDIS_URL".to_string()
            ))
        );
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        let named = Place::tcp("PostgreSQL", "DATABASE_URL", "db.invalid", 5432);
        assert_eq!(
            named.explain(&dns).map(|(r, _)| r),
            Some("the host `db.invalid` is not known (its DNS lookup failed)".to_string())
        );
        let socket = Place::socket("Redis", "REDIS_URL", "/run/redis.sock");
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            socket.explain(&missing).map(|(r, _)| r),
            Some("there is no socket `/run/redis.sock`".to_string())
        );
        assert_eq!(
            Place::tcp("MySQL", "DATABASE_URL", "::1", 3306).address,
            "[::1]:3306"
        );
        assert_eq!(place.explain(&io::Error::other("something else")), None);
    }

    #[test]
    fn an_answer_is_told_in_a_few_words() {
        assert_eq!(
            describe_answer(b"HTTP/1.0 400 Bad request\r\n"),
            "it answers in HTTP, as a web server does"
        );
        assert_eq!(
            describe_answer(b"<!DOCTYPE HTML>"),
            "it answers in HTTP, as a web server does"
        );
        assert_eq!(
            describe_answer(b"SSH-2.0-OpenSSH_9.6\r\n"),
            "it answered `SSH-2.0-OpenSSH_9.6`"
        );
        assert_eq!(
            describe_answer(b"\x00\x01"),
            "its answer is not Redis's protocol"
        );
    }
}
