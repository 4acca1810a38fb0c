//! Opening a connection to one Redis server, and telling why one could not be made: a
//! certificate that does not verify, a client certificate the server wants or refuses, a
//! server that does not speak TLS, a server that is full.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

use super::tls::TlsFiles;
use super::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT, UrlParts, db_in_path, explain, unix_aliases};
use crate::clear::unreachable::Place;
use crate::error::Error;

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectFailure {
    /// The server's certificate is signed by a CA that is not trusted here.
    Untrusted(String),
    /// The server's certificate is refused for another reason (expired, other host, ...).
    Refused(String),
    /// The trusted certificates named by SSL_CERT_FILE or SSL_CERT_DIR cannot be loaded.
    Roots {
        var: &'static str,
        path: String,
        reason: String,
    },
    /// The URL itself does not parse: no server was asked.
    InvalidUrl(String),
    /// The server refused us for a reason that has a known fix (a password, maxclients).
    Fixable {
        reason: String,
        fix: String,
    },
    /// The server wants a client certificate and none was given.
    ClientCertWanted(String),
    /// The server refused the client certificate given.
    ClientCertRefused(String),
    /// The server answers in plain text on a `rediss://` URL's port.
    NotTls(String),
    /// What the environment gives for TLS (a client certificate, a CA file) is unusable.
    Setup(String, Box<Error>),
    /// The server refused the password, or wants one the URL does not give.
    Auth {
        none_given: bool,
    },
    /// The server could not be reached, for a reason with a known fix (nothing listens, a
    /// host name that does not resolve, no answer, not a Redis server).
    Unreachable {
        reason: String,
        fix: String,
    },
    Other(String),
}

impl ConnectFailure {
    pub(crate) fn reason(&self) -> &str {
        match self {
            ConnectFailure::Untrusted(r)
            | ConnectFailure::Refused(r)
            | ConnectFailure::Other(r)
            | ConnectFailure::ClientCertWanted(r)
            | ConnectFailure::ClientCertRefused(r)
            | ConnectFailure::NotTls(r)
            | ConnectFailure::Setup(r, _)
            | ConnectFailure::InvalidUrl(r)
            | ConnectFailure::Fixable { reason: r, .. }
            | ConnectFailure::Roots { reason: r, .. }
            | ConnectFailure::Unreachable { reason: r, .. } => r,
            ConnectFailure::Auth { none_given: true } => "a password is wanted",
            ConnectFailure::Auth { none_given: false } => "the user or password was refused",
        }
    }

    /// The error for a connection to `masked_url`; `other` makes it, from the URL, the
    /// reason and the fix when one is known, for a failure that is not about TLS or a
    /// password.
    pub(crate) fn into_error(
        self,
        masked_url: String,
        other: impl FnOnce(String, String, Option<String>) -> Error,
    ) -> Error {
        match self {
            ConnectFailure::Untrusted(reason) => Error::RedisTlsUntrusted {
                url: masked_url,
                reason,
            },
            ConnectFailure::Refused(reason) => Error::RedisTlsRefused {
                url: masked_url,
                reason,
            },
            ConnectFailure::Roots { var, path, reason } => {
                Error::RedisTlsRoots { var, path, reason }
            }
            ConnectFailure::InvalidUrl(reason) => Error::RedisUrlInvalid {
                url: masked_url,
                reason,
            },
            ConnectFailure::Fixable { reason, fix } => Error::RedisRefused {
                url: masked_url,
                reason,
                fix,
            },
            ConnectFailure::ClientCertWanted(reason) => Error::RedisTlsClientCertWanted {
                url: masked_url,
                reason,
            },
            ConnectFailure::ClientCertRefused(reason) => Error::RedisTlsClientCertRefused {
                url: masked_url,
                reason,
            },
            ConnectFailure::NotTls(_) => Error::RedisNotTls { url: masked_url },
            ConnectFailure::Setup(_, error) => *error,
            ConnectFailure::Auth { none_given } => Error::RedisAuth {
                url: masked_url,
                none_given,
            },
            ConnectFailure::Unreachable { reason, fix } => other(masked_url, reason, Some(fix)),
            ConnectFailure::Other(reason) => other(masked_url, reason, None),
        }
    }
}

/// A connection to the one server `url` names, within [`CONNECT_TIMEOUT`]; a `rediss://`
/// one with the client certificate and CA `files` name.
pub(crate) async fn open(
    url: &str,
    files: &TlsFiles,
) -> std::result::Result<MultiplexedConnection, ConnectFailure> {
    let url = unix_aliases(url);
    let url = db_in_path(&url).map_err(ConnectFailure::InvalidUrl)?;
    let tls = UrlParts::of(&url).is_some_and(|parts| {
        matches!(
            parts.scheme.to_ascii_lowercase().as_str(),
            "rediss" | "valkeys"
        )
    });
    let certificates = if tls {
        super::tls::certificates(files)
            .map_err(|e| ConnectFailure::Setup(e.to_string(), Box::new(e)))?
    } else {
        None
    };
    let client = match certificates {
        Some(certificates) => Client::build_with_tls(url.as_ref(), certificates),
        None => Client::open(url.as_ref()),
    }
    .map_err(|e| ConnectFailure::InvalidUrl(url_problem(&url, &e)))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    // The whole handshake (TCP, TLS, AUTH, SELECT) must finish in time, not just the connect.
    // A server that does not speak TLS waits for a line that a TLS handshake never sends:
    // it is asked in plain text instead while the handshake waits.
    let connecting = tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    );
    let connected = tokio::select! {
        connected = connecting => connected,
        () = super::tls::plain_text_server(&url), if tls => {
            return Err(ConnectFailure::NotTls("it answers in plain text".to_string()));
        }
    };
    let place = place(&url);
    match connected {
        Ok(Ok(con)) => Ok(con),
        Ok(Err(e)) if e.is_timeout() => Err(no_answer(place.as_ref())),
        Ok(Err(e)) => match classify(&e, files) {
            // A server that is full says so as it accepts, then closes; our client only
            // sees the closed connection. Ask again and read what it says.
            ConnectFailure::Other(reason) => match refusal(&url).await {
                Some(said) => Err(match explain_text(&said) {
                    Some(fix) => ConnectFailure::Fixable { reason: said, fix },
                    None => ConnectFailure::Other(said),
                }),
                None => Err(unreachable(&e, place.as_ref(), &url)
                    .await
                    .unwrap_or(ConnectFailure::Other(reason))),
            },
            failure => Err(failure),
        },
        Err(_) => Err(no_answer(place.as_ref())),
    }
}

/// No answer within [`CONNECT_TIMEOUT`] (the crate's own timeout and ours are the same).
fn no_answer(place: Option<&Place>) -> ConnectFailure {
    match place {
        Some(place) => {
            let (reason, fix) = place.no_answer(CONNECT_TIMEOUT.as_secs());
            ConnectFailure::Unreachable { reason, fix }
        }
        None => ConnectFailure::Other(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Why the client would not take `url`, in a few words (the crate's own words end with its
/// error kind's name: `Redis URL did not parse - InvalidClientConfig`).
fn url_problem(url: &str, e: &redis::RedisError) -> String {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let known = [
        "redis",
        "rediss",
        "valkey",
        "valkeys",
        "unix",
        "redis+unix",
        "valkey+unix",
    ];
    if let Some(scheme) = scheme.filter(|s| !known.contains(&s.as_str())) {
        return format!("`{scheme}://` is not a Redis scheme");
    }
    let text = e.to_string();
    let text = text.trim_end_matches(" - InvalidClientConfig");
    match text {
        "Redis URL did not parse" => "it does not parse as a URL".to_string(),
        "Missing path" => "it names no socket".to_string(),
        other => other.to_string(),
    }
}

/// Where `url` (one server's) leads, for messages: `host:port`, or a socket's path.
fn place(url: &str) -> Option<Place> {
    if let Some(parts) = UrlParts::of(url) {
        let address = parts.tcp_address();
        let (host, port) = address.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        return Some(Place::tcp("Redis", "REDIS_URL", host, port.parse().ok()?));
    }
    let (scheme, rest) = url.split_once("://")?;
    scheme.to_ascii_lowercase().ends_with("unix").then(|| {
        Place::socket(
            "Redis",
            "REDIS_URL",
            rest.split(['?', '#']).next().unwrap_or(rest),
        )
    })
}

/// A connection that failed for a reason the user can fix at the address: nothing listens
/// there, the host does not resolve, or the server there is not Redis (it answers in another
/// protocol: asked again to tell how).
async fn unreachable(
    e: &redis::RedisError,
    place: Option<&Place>,
    url: &str,
) -> Option<ConnectFailure> {
    if e.to_string().contains("DB index is out of range") {
        let n = super::database(url).map_or("of that number".to_string(), |n| n.to_string());
        return Some(ConnectFailure::Unreachable {
            reason: format!("the server has no database {n} (DB index is out of range)"),
            fix: "use a database number the server has in REDIS_URL (0 to 15, unless its `databases` setting allows more)".to_string(),
        });
    }
    let place = place?;
    if let Some((reason, fix)) = place.explain(e) {
        return Some(ConnectFailure::Unreachable { reason, fix });
    }
    let not_redis = e.kind() == redis::ErrorKind::Parse
        || e.to_string().contains("Parse error")
        || e.to_string().contains("Incompatible type");
    if !not_redis {
        return None;
    }
    let what = match first_answer(url).await {
        Some(bytes) => crate::clear::unreachable::describe_answer(&bytes),
        None => "its answer is not Redis's protocol".to_string(),
    };
    let (reason, fix) = place.not_this_server(&what);
    Some(ConnectFailure::Unreachable { reason, fix })
}

/// What a plain TCP server at `url` answers to a PING, within a moment.
async fn first_answer(url: &str) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let parts = UrlParts::of(url)?;
    if !parts.scheme.eq_ignore_ascii_case("redis") {
        return None;
    }
    let wait = Duration::from_millis(500);
    let mut stream =
        tokio::time::timeout(wait, tokio::net::TcpStream::connect(parts.tcp_address()))
            .await
            .ok()?
            .ok()?;
    stream.write_all(b"PING\r\n").await.ok()?;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(wait, stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf[..n].to_vec())
}

/// Sort a connection error: a certificate that does not verify, certificates that cannot be
/// loaded, or anything else.
///
/// Long because it is one table: each way a connection can fail, and the fix it needs.
fn classify(e: &redis::RedisError, files: &TlsFiles) -> ConnectFailure {
    if let Some(none_given) = super::auth_failure(e) {
        return ConnectFailure::Auth { none_given };
    }
    let reason = e.to_string();
    match rustls_error(e) {
        // A server that does not speak TLS answered the handshake in its own protocol.
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            return ConnectFailure::NotTls(reason);
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            use rustls::AlertDescription as A;
            let given = files.client_cert_given();
            match alert {
                A::CertificateRequired => return ConnectFailure::ClientCertWanted(reason),
                A::HandshakeFailure if !given => return ConnectFailure::ClientCertWanted(reason),
                A::UnknownCA
                | A::BadCertificate
                | A::CertificateUnknown
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::UnsupportedCertificate
                | A::DecryptError
                | A::AccessDenied
                | A::HandshakeFailure
                    if given =>
                {
                    return ConnectFailure::ClientCertRefused(reason);
                }
                _ => {}
            }
        }
        _ => {}
    }
    if let Some(rustls::Error::InvalidCertificate(cert)) = rustls_error(e) {
        return match cert {
            // No trusted CA of that name, or one of that name that did not sign it.
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature => {
                ConnectFailure::Untrusted(reason)
            }
            // rustls' text for a wrong host has a `;` of its own.
            _ => ConnectFailure::Refused(reason.replace("; ", ", ")),
        };
    }
    // rustls-native-certs reads SSL_CERT_FILE / SSL_CERT_DIR instead of the system store
    // when they are set; one that cannot be read fails every TLS connection.
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let path = value.to_string_lossy().into_owned();
        let unreadable = std::env::split_paths(&value)
            .find_map(|p| std::fs::metadata(&p).err().map(|err| (p, err)));
        if let Some((p, err)) = unreadable {
            return ConnectFailure::Roots {
                var,
                path: p.display().to_string(),
                reason: err.to_string(),
            };
        }
        if !path.is_empty() && reason.contains(&path) {
            return ConnectFailure::Roots { var, path, reason };
        }
    }
    match explain(e) {
        (reason, Some(fix)) => ConnectFailure::Fixable { reason, fix },
        _ => ConnectFailure::Other(reason),
    }
}

/// What a plain TCP server at `url` says unasked as a connection opens (Redis at maxclients
/// sends its error and closes), within a moment; `None` for TLS, sockets or silence.
async fn refusal(url: &str) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let parts = UrlParts::of(url)?;
    if !parts.scheme.eq_ignore_ascii_case("redis") || parts.hosts.contains(',') {
        return None;
    }
    let addr = parts.tcp_address();
    let wait = Duration::from_millis(500);
    let mut stream = tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(wait, stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let said = String::from_utf8_lossy(&buf[..n]);
    said.strip_prefix('-').map(|e| e.trim().to_string())
}

/// The fix for a server's refusal known only by its text.
fn explain_text(text: &str) -> Option<String> {
    text.to_ascii_lowercase()
        .contains("max number of clients")
        .then(|| MAXCLIENTS_FIX.to_string())
}

pub(super) const MAXCLIENTS_FIX: &str = "the server has as many clients as its maxclients allows; close idle ones or raise maxclients, then run the command again";

/// The error rustls gave, wherever it sits in the error's chain (the redis crate keeps an
/// I/O error as an `Arc<dyn Error>`, tokio-rustls wraps rustls' error in an I/O error).
fn rustls_error(e: &redis::RedisError) -> Option<&rustls::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let err: &(dyn std::error::Error + 'static) = match err.downcast_ref::<Shared>() {
            Some(shared) => shared.as_ref(),
            None => err,
        };
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(found) = inner.or_else(|| err.downcast_ref::<rustls::Error>()) {
            return Some(found);
        }
        source = err.source();
    }
    None
}
