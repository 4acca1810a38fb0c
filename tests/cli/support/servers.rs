//! Finding what a test needs: a binary on PATH or a server URL. In CI (`CI=true`) something
//! missing fails the test. Elsewhere it fails too, unless `AZU_SESSION_ALLOW_SKIP=1`: then
//! the test says what it skipped and passes. Every skip is also appended, one line each, to
//! the file `AZU_SESSION_SKIP_LOG` names (scripts/test sets it and counts them at the end).

use std::net::TcpListener;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `binary` is on PATH; if not, fail in CI or print a skip note.
pub fn have_binary(binary: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(binary).is_file()));
    if !found {
        missing(&format!("`{binary}` is not on PATH"), test);
    }
    found
}

/// The value of the environment variable `var`; if unset, fail in CI or print a skip note.
pub fn url_from_env(var: &str, test: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|v| !v.is_empty());
    if url.is_none() {
        missing(&format!("{var} is not set"), test);
    }
    url
}

fn missing(what: &str, test: &str) {
    skip(test, what);
}

/// `test` cannot run because of `what`: a failure in CI, and elsewhere unless
/// `AZU_SESSION_ALLOW_SKIP=1`; otherwise logged (see the module notes) and passed.
pub fn skip(test: &str, what: &str) {
    assert!(
        !in_ci(),
        "{test}: {what}; CI must provide it (see scripts/test)"
    );
    log_skip(test, what);
    assert!(
        std::env::var("AZU_SESSION_ALLOW_SKIP").as_deref() == Ok("1"),
        "{test}: {what}; provide it (see scripts/services and docs/development.md), or set \
         AZU_SESSION_ALLOW_SKIP=1 to let the test be skipped"
    );
}

/// A check that is optional everywhere, CI included (a man page formatter that is not
/// installed): never a failure, but logged like every skip.
pub fn skip_optional(test: &str, what: &str) {
    log_skip(test, what);
}

fn log_skip(test: &str, what: &str) {
    eprintln!("SKIPPED {test}: {what}");
    if let Some(log) = std::env::var_os("AZU_SESSION_SKIP_LOG").filter(|v| !v.is_empty()) {
        use std::io::Write;
        let line = format!("{test}: {}\n", what.replace('\n', " "));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("append to AZU_SESSION_SKIP_LOG");
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}
