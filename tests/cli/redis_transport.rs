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
            "error: Redis at `redis+unix://{socket}?db=2&pass=****` refused the user or password in REDIS_URL; "
        )),
        "{err}"
    );
    assert!(!err.contains("not-it"));
    assert_eq!(server.count(2, "myapp:session:*"), 2);
}

/// The binary with the TLS variables of the developer's shell removed.
fn mtls_cmd(p: &Project) -> assert_cmd::Command {
    let mut cmd = tls_cmd(p);
    for var in [
        "REDIS_TLS_CERT_FILE",
        "REDIS_TLS_KEY_FILE",
        "REDIS_TLS_CA_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn redis_tls_client_certificates_from_redis_tls_cert_file_and_key_file() {
    let test = "redis_tls_client_certificates";
    let Some(certs) = Certs::make(test) else {
        return;
    };
    let Some(other) = Certs::make(test) else {
        return;
    };
    let Some(server) = RedisServer::start_tls(
        test,
        &certs,
        &["--requirepass", "mtls-pw", "--tls-auth-clients", "yes"],
    ) else {
        return;
    };
    server.plant(0, "myapp:session:", 12);
    server.set(0, "other:session:1");
    let p = Project::new();
    let shown = format!("rediss://:****@127.0.0.1:{}", server.port);
    let clear = |cmd: &mut assert_cmd::Command| {
        cmd.args(["clear", "-f"]).env("REDIS_URL", server.url());
    };

    // No client certificate: the server closes the handshake; the error says what to set.
    let mut cmd = mtls_cmd(&p);
    clear(&mut cmd);
    let out = run(cmd.env("SSL_CERT_FILE", &certs.ca), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `{shown}` wants a TLS client certificate ("
        )) && err.contains("); set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE to the PEM files of a certificate and key signed by a CA the server trusts\n"),
        "{err}"
    );

    // A client certificate signed by another CA.
    let mut cmd = mtls_cmd(&p);
    clear(&mut cmd);
    let out = run(
        cmd.env("SSL_CERT_FILE", &certs.ca)
            .env("REDIS_TLS_CERT_FILE", &other.client_cert)
            .env("REDIS_TLS_KEY_FILE", &other.client_key),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `{shown}` refused the TLS client certificate in REDIS_TLS_CERT_FILE ("
        )) && err.contains(
            "); use a certificate and key signed by a CA the server trusts (its tls-ca-cert-file)\n"
        ),
        "{err}"
    );

    // A certificate file that does not exist: named with its variable, before connecting.
    let missing = other.dir.path().join("nope.crt");
    let mut cmd = mtls_cmd(&p);
    clear(&mut cmd);
    let out = run(
        cmd.env("SSL_CERT_FILE", &certs.ca)
            .env("REDIS_TLS_CERT_FILE", &missing)
            .env("REDIS_TLS_KEY_FILE", &certs.client_key),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot use the file REDIS_TLS_CERT_FILE names (`{}`): ",
            missing.display()
        )) && err.contains("; point REDIS_TLS_CERT_FILE at a readable PEM file, or unset it\n"),
        "{err}"
    );

    // A key without its certificate.
    let mut cmd = mtls_cmd(&p);
    clear(&mut cmd);
    let out = run(
        cmd.env("SSL_CERT_FILE", &certs.ca)
            .env("REDIS_TLS_KEY_FILE", &certs.client_key),
        1,
    );
    assert!(
        stderr(&out).ends_with("error: REDIS_TLS_KEY_FILE is set but REDIS_TLS_CERT_FILE is not; a client certificate needs both, so set REDIS_TLS_CERT_FILE too (or unset REDIS_TLS_KEY_FILE)\n"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("Cleared"));
    assert_eq!(server.count(0, "myapp:session:*"), 12);

    // The right certificate, the CA trusted through REDIS_TLS_CA_FILE.
    let mut cmd = mtls_cmd(&p);
    clear(&mut cmd);
    let out = run(
        cmd.env("REDIS_TLS_CA_FILE", &certs.ca)
            .env("REDIS_TLS_CERT_FILE", &certs.client_cert)
            .env("REDIS_TLS_KEY_FILE", &certs.client_key),
        0,
    );
    assert_eq!(stdout(&out), redis_lines(&shown, "myapp:session:*", 12));
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert!(server.exists(0, "other:session:1"));
}

#[test]
fn rediss_to_a_plain_text_server_says_it_does_not_speak_tls_without_waiting() {
    let Some(server) = RedisServer::start_with("rediss_to_plain_text", &["--requirepass", "pl-pw"])
    else {
        return;
    };
    server.plant(0, "myapp:session:", 3);
    let p = Project::new();
    let url = format!("rediss://:pl-pw@127.0.0.1:{}", server.port);
    let started = std::time::Instant::now();
    let out = run(mtls_cmd(&p).args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let took = started.elapsed();
    assert!(
        stderr(&out).ends_with(&format!(
            "error: Redis at `rediss://:****@127.0.0.1:{}` does not speak TLS on that port (it answers in plain text); use redis:// instead of rediss://, or the port where the server listens for TLS\n",
            server.port
        )),
        "{}",
        stderr(&out)
    );
    // The connect timeout is 5 s: the answer must not have waited for it.
    assert!(took < std::time::Duration::from_secs(4), "took {took:?}");
    assert_eq!(server.dbsize(0), 3);
}

#[test]
fn redis_tls_files_named_in_dotenv_are_read_from_the_project_root() {
    let test = "redis_tls_files_in_dotenv";
    let Some(certs) = Certs::make(test) else {
        return;
    };
    let Some(server) = RedisServer::start_tls(
        test,
        &certs,
        &["--requirepass", "env-pw", "--tls-auth-clients", "yes"],
    ) else {
        return;
    };
    server.plant(0, "myapp:session:", 6);
    server.set(0, "other:session:1");
    let p = Project::new();
    for (from, to) in [
        (&certs.ca, "tls/ca.crt"),
        (&certs.client_cert, "tls/client.crt"),
        (&certs.client_key, "tls/client.key"),
    ] {
        p.write(
            to,
            &std::fs::read_to_string(from).expect("read a test certificate"),
        );
    }
    // Relative paths, and an empty process variable that does not hide them.
    p.write(
        ".env",
        &format!(
            "REDIS_URL={}\nREDIS_TLS_CERT_FILE=tls/client.crt\nREDIS_TLS_KEY_FILE=tls/client.key\nREDIS_TLS_CA_FILE=tls/ca.crt\n",
            server.url()
        ),
    );
    // Run from elsewhere: the paths are the project's, not the working directory's.
    let elsewhere = tempfile::tempdir().expect("a working directory");
    let shown = format!("rediss://:****@127.0.0.1:{}", server.port);
    let out = run(
        mtls_cmd(&p)
            .current_dir(elsewhere.path())
            .args(["clear", "-f", "-C"])
            .arg(p.root())
            .env("REDIS_TLS_CA_FILE", ""),
        0,
    );
    assert_eq!(stdout(&out), redis_lines(&shown, "myapp:session:*", 6));
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert!(server.exists(0, "other:session:1"));

    // A file `.env` names that is not there: named as the project's, nothing deleted.
    server.plant(0, "myapp:session:", 2);
    std::fs::remove_file(p.path("tls/client.key")).expect("remove the key");
    let out = run(
        mtls_cmd(&p)
            .current_dir(elsewhere.path())
            .args(["clear", "-f", "-C"])
            .arg(p.root()),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot use the file REDIS_TLS_KEY_FILE names (`{}`): ",
            p.path("tls/client.key").display()
        )),
        "{err}"
    );
    assert_eq!(server.count(0, "myapp:session:*"), 2);
}
