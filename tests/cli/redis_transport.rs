//! `session:clear` against Redis over TLS (a certificate from a private CA) and over a unix
//! socket.

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{redis_lines, run, stderr, stdout};
use crate::support::tls::Certs;

/// The binary with the certificate-store variables of the developer's shell removed.
fn tls_cmd(p: &Project) -> assert_cmd::Command {
    let mut cmd = p.cmd();
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    cmd
}

fn tls_server(test: &str) -> Option<(Certs, RedisServer)> {
    let certs = Certs::make(test)?;
    // 127.0.0.2 too: an address the certificate does not name.
    let server = RedisServer::start_tls(
        test,
        &certs,
        &["--requirepass", "tls-pw", "--bind", "127.0.0.1 127.0.0.2"],
    )?;
    server.plant(0, "myapp:session:", 25);
    server.set(0, "other:session:1");
    Some((certs, server))
}

#[test]
fn redis_tls_with_a_private_ca_trusted_through_ssl_cert_file() {
    let Some((certs, server)) = tls_server("redis_tls_trusted") else {
        return;
    };
    let p = Project::new();
    let url = server.url();
    assert!(url.starts_with("rediss://:tls-pw@127.0.0.1:"), "{url}");
    let out = run(
        tls_cmd(&p)
            .args(["clear", "-f"])
            .env("REDIS_URL", &url)
            .env("SSL_CERT_FILE", &certs.ca),
        0,
    );
    assert_eq!(
        stdout(&out),
        redis_lines(
            &format!("rediss://:****@127.0.0.1:{}", server.port),
            "myapp:session:*",
            25
        )
    );
    assert!(!stdout(&out).contains("tls-pw") && !stderr(&out).contains("tls-pw"));
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert!(server.exists(0, "other:session:1"));
}

#[test]
fn redis_tls_certificate_from_an_untrusted_ca_is_refused_and_nothing_is_deleted() {
    let Some((certs, server)) = tls_server("redis_tls_untrusted") else {
        return;
    };
    let Some(other) = Certs::make("redis_tls_untrusted") else {
        return;
    };
    let p = Project::new();
    let shown = format!("rediss://:****@127.0.0.1:{}", server.port);
    let untrusted = format!(
        "error: the TLS certificate of Redis at `{shown}` is not trusted (invalid peer certificate: UnknownIssuer); set SSL_CERT_FILE to a PEM file holding the CA that signed it, or add that CA to the system's trusted certificates\n"
    );

    // The system store, which does not hold the test's CA.
    let out = run(
        tls_cmd(&p)
            .args(["clear", "-f"])
            .env("REDIS_URL", server.url()),
        1,
    );
    assert!(stderr(&out).ends_with(&untrusted), "{}", stderr(&out));
    assert!(!stdout(&out).contains("Cleared"));

    // SSL_CERT_FILE naming another CA, of the same name (a CA made again): its key did not
    // sign the server's certificate.
    let out = run(
        tls_cmd(&p)
            .args(["clear", "-f"])
            .env("REDIS_URL", server.url())
            .env("SSL_CERT_FILE", &other.ca),
        1,
    );
    assert!(
        stderr(&out).ends_with(&untrusted.replace("UnknownIssuer", "BadSignature")),
        "{}",
        stderr(&out)
    );

    // The right CA, but an address the certificate does not name.
    let url = format!("rediss://:tls-pw@127.0.0.2:{}", server.port);
    let out = run(
        tls_cmd(&p)
            .args(["clear", "-f"])
            .env("REDIS_URL", &url)
            .env("SSL_CERT_FILE", &certs.ca),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: the TLS certificate of Redis at `rediss://:****@127.0.0.2:{}` was refused (invalid peer certificate: certificate not valid for name \"127.0.0.2\"",
            server.port
        )) && err.contains("; the server's certificate must be current and name the host in REDIS_URL"),
        "{err}"
    );

    // SSL_CERT_FILE naming no file.
    let missing = other.dir.path().join("missing.pem");
    let out = run(
        tls_cmd(&p)
            .args(["clear", "-f"])
            .env("REDIS_URL", server.url())
            .env("SSL_CERT_FILE", &missing),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot load the trusted TLS certificates from SSL_CERT_FILE (`{}`): ",
            missing.display()
        )) && err.contains("; point SSL_CERT_FILE at a readable PEM file, or unset it"),
        "{err}"
    );

    assert!(!err.contains("tls-pw"));
    assert_eq!(server.count(0, "myapp:session:*"), 25);
}

#[test]
fn redis_unix_socket_with_database_and_password() {
    let Some(server) = RedisServer::start_unix("redis_unix_socket", &["--requirepass", "sock-pw"])
    else {
        return;
    };
    server.plant(2, "myapp:session:", 9);
    server.set(2, "other:session:1");
    server.plant(0, "myapp:session:", 4);
    let socket = server.socket().display().to_string();
    assert!(socket.starts_with('/'), "{socket}");
    let p = Project::new();

    let url = format!("redis+unix://{socket}?db=2&pass=sock-pw");
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 0);
    assert_eq!(
        stdout(&out),
        redis_lines(
            &format!("redis+unix://{socket}?db=2&pass=**** (database 2)"),
            "myapp:session:*",
            9
        )
    );
    assert!(!stdout(&out).contains("sock-pw") && !stderr(&out).contains("sock-pw"));
    assert_eq!(server.count(2, "myapp:session:*"), 0);
    assert!(server.exists(2, "other:session:1"));
    assert_eq!(server.dbsize(0), 4);

    // `password=` is read as `pass=`; `unix://` is the same as `redis+unix://`.
    server.plant(2, "myapp:session:", 3);
    let url = format!("unix://{socket}?password=sock-pw&db=2");
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 0);
    assert_eq!(
        stdout(&out),
        redis_lines(
            &format!("unix://{socket}?password=****&db=2 (database 2)"),
            "myapp:session:*",
            3
        )
    );
    assert_eq!(server.dbsize(0), 4);

    // A wrong password is an error, masked.
    server.plant(2, "myapp:session:", 2);
    let url = format!("redis+unix://{socket}?db=2&pass=not-it");
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `redis+unix://{socket}?db=2&pass=****` refused the tool's commands: "
        )),
        "{err}"
    );
    assert!(!err.contains("not-it"));
    assert_eq!(server.count(2, "myapp:session:*"), 2);
}
