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
        openssl(
            d,
            &[
                &["req", "-new"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write server.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        Some(Certs {
            ca: d.join("ca.crt"),
            cert: d.join("server.crt"),
            key: d.join("server.key"),
            dir,
        })
    }
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
