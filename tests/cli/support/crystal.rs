//! Crystal's own formatter as the judge of what is Crystal.

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether Crystal parses `text`; `None` when `crystal` is not installed.
pub fn parses(text: &str, cache: &std::path::Path) -> Option<Result<(), String>> {
    let mut child = Command::new("crystal")
        .args(["tool", "format", "-"])
        .env("CRYSTAL_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    stdin.write_all(text.as_bytes()).ok()?;
    drop(stdin);
    let out = child.wait_with_output().ok()?;
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}
