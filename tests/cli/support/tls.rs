//! A private certificate authority and a server certificate it signs, made with the
//! `openssl` command for one test and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::servers::have_binary;

pub struct Certs {
    pub dir: TempDir,
    /// The CA's certificate (PEM): what SSL_CERT_FILE points at to trust the server.
    pub ca: PathBuf,
    /// The server's certificate, for `127.0.0.1` and `localhost`, and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A client certificate the CA signs (for servers with `tls-auth-clients yes`), and its
    /// key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Certs {
    /// Make a CA and a server certificate, or `None` (outside CI) when openssl is missing.
    pub fn make(test: &str) -> Option<Self> {
        if !have_binary("openssl", test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for certificates");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=azu-session test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        sign(
            d,
            &ec,
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        );
        sign(
            d,
            &ec,
            "client",
            "/CN=azu-session test client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        );
        Some(Certs {
            ca: d.join("ca.crt"),
            cert: d.join("server.crt"),
            key: d.join("server.key"),
            client_cert: d.join("client.crt"),
            client_key: d.join("client.key"),
            dir,
        })
    }
}

/// A key and a certificate `<name>.crt` for `subject`, with the extensions `ext`, signed by
/// the CA in `dir`.
fn sign(dir: &Path, ec: &[&str], name: &str, subject: &str, ext: &str) {
    let (key, csr, crt, extfile) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            &["req", "-new"][..],
            ec,
            &["-keyout", &key, "-out", &csr, "-subj", subject],
        ]
        .concat(),
    );
    std::fs::write(dir.join(&extfile), ext).expect("write the extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &extfile,
            "-out",
            &crt,
        ],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
