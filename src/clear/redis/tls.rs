//! TLS beyond the server's certificate: a client certificate for servers that want one
//! (mutual TLS), a private CA file, and telling a server that does not speak TLS at all.
//!
//! The files are named by environment variables, as redis-cli's `--cert`, `--key` and
//! `--cacert` name them on its command line:
//!
//! - `REDIS_TLS_CERT_FILE` and `REDIS_TLS_KEY_FILE`: the client certificate (PEM, its chain
//!   after it) and its private key, given together;
//! - `REDIS_TLS_CA_FILE`: the CA certificates (PEM) to trust instead of the system's (or
//!   SSL_CERT_FILE's).
//!
//! Each is read from the process, then from the project's `.env` (an empty value is unset in
//! both); a relative path in `.env` names a file in the project root, one in the process a
//! file in the working directory.

use std::path::Path;
use std::time::Duration;

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::UrlParts;
use crate::error::Error;
use crate::project::{Env, Origin};

pub const CERT_VAR: &str = "REDIS_TLS_CERT_FILE";
pub const KEY_VAR: &str = "REDIS_TLS_KEY_FILE";
pub const CA_VAR: &str = "REDIS_TLS_CA_FILE";

/// How long a TLS handshake may go unanswered before the server is asked, in plain text,
/// whether it speaks Redis without TLS.
pub const PLAIN_PROBE_AFTER: Duration = Duration::from_millis(300);

/// The files the TLS variables name, found once by the plan (process, then `.env`) and
/// read only when a `rediss://` connection is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    cert: Option<String>,
    key: Option<String>,
    ca: Option<String>,
}

impl TlsFiles {
    /// The files `env` names; a relative path from `.env` is taken from `root`.
    pub fn from_env(env: &Env, root: &Path) -> Self {
        let file = |var: &str| {
            env.lookup(var).map(|(value, origin)| match origin {
                Origin::Dotenv if Path::new(&value).is_relative() => {
                    root.join(&value).display().to_string()
                }
                _ => value,
            })
        };
        TlsFiles {
            cert: file(CERT_VAR),
            key: file(KEY_VAR),
            ca: file(CA_VAR),
        }
    }

    /// Whether a client certificate is given (for the error when the server refuses one).
    pub fn client_cert_given(&self) -> bool {
        self.cert.is_some()
    }
}

/// The client certificate and CA files `files` names, read and checked; `None` when it
/// names none. An error names the variable and the file.
pub fn certificates(files: &TlsFiles) -> Result<Option<TlsCertificates>, Error> {
    let cert = files.cert.clone();
    let key = files.key.clone();
    let ca = files.ca.clone();
    let client_tls = match (cert, key) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(Error::RedisTlsPair {
                set: CERT_VAR,
                unset: KEY_VAR,
            });
        }
        (None, Some(_)) => {
            return Err(Error::RedisTlsPair {
                set: KEY_VAR,
                unset: CERT_VAR,
            });
        }
        (Some(cert), Some(key)) => {
            let client_cert = read(CERT_VAR, &cert)?;
            let certs = CertificateDer::pem_slice_iter(&client_cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(CERT_VAR, &cert, format!("not a PEM certificate: {e}")))?;
            if certs.is_empty() {
                return Err(file_error(CERT_VAR, &cert, "it holds no PEM certificate"));
            }
            let client_key = read(KEY_VAR, &key)?;
            PrivateKeyDer::from_pem_slice(&client_key).map_err(|e| {
                file_error(KEY_VAR, &key, format!("it holds no PEM private key ({e})"))
            })?;
            Some(ClientTlsConfig {
                client_cert,
                client_key,
            })
        }
    };
    let root_cert = match ca {
        None => None,
        Some(ca) => {
            let pem = read(CA_VAR, &ca)?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(CA_VAR, &ca, format!("not a PEM certificate: {e}")))?;
            if certs.is_empty() {
                return Err(file_error(CA_VAR, &ca, "it holds no PEM certificate"));
            }
            Some(pem)
        }
    };
    if client_tls.is_none() && root_cert.is_none() {
        return Ok(None);
    }
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

fn read(var: &'static str, path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(Path::new(path)).map_err(|e| file_error(var, path, e.to_string()))
}

fn file_error(var: &'static str, path: &str, reason: impl Into<String>) -> Error {
    Error::RedisTlsFile {
        var,
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Whether the server at a `rediss://` URL answers a plain-text PING in Redis' own protocol
/// (`+PONG`, `-NOAUTH ...`): a server that does so does not speak TLS on that port. Waits
/// [`PLAIN_PROBE_AFTER`] first, so a TLS server that answers its handshake at once is
/// never probed; never returns when the answer is not plain Redis.
pub async fn plain_text_server(url: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::sleep(PLAIN_PROBE_AFTER).await;
    let answered = async {
        let parts = UrlParts::of(url)?;
        let addr = parts.tcp_address();
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.ok()?;
        let said = &buf[..n];
        (said.starts_with(b"+") || said.starts_with(b"-")).then_some(())
    };
    if answered.await.is_none() {
        std::future::pending::<()>().await;
    }
}
