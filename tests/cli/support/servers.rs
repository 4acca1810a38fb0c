//! Finding what a test needs: a binary on PATH or a server URL. In CI (`CI=true`) something
//! missing fails the test; elsewhere the test says what it skipped and passes.

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
    assert!(
        !in_ci(),
        "{test}: {what}; CI must provide it (see scripts/test)"
    );
    eprintln!("SKIPPED {test}: {what} (set it up as scripts/test does to run this test)");
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}
