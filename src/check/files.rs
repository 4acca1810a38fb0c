//! `.env` (ignored by git, by git's own rules; not readable by other users) and, for the
//! documentation's API, the cookie settings.

use std::os::unix::fs::PermissionsExt;
use std::sync::LazyLock;

use regex::Regex;

use crate::initializer::Api;
use crate::project::{DOTENV, GITIGNORE, INITIALIZER};
use crate::setup::git::{self, EnvFile};

use super::{Check, Context};

/// `config.secure = <expression>` (the rest of the line, comments cut).
static SECURE: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]*\w+\.secure[ \t]*=[ \t]*([^#\n]*)"));

pub(super) fn checks(cx: &Context) -> Vec<Check> {
    let mut checks = Vec::new();
    if cx.root.join(DOTENV).exists() {
        checks.push(ignored(cx));
        checks.push(mode(cx));
    }
    checks.extend(cookies(cx));
    checks
}

fn ignored(cx: &Context) -> Check {
    let gitignore = std::fs::read_to_string(cx.root.join(GITIGNORE)).ok();
    match git::env_file(&cx.root, gitignore.as_deref()) {
        Ok(EnvFile::Ignored) => Check::ok("dotenv.ignored", ".env is ignored by git"),
        Ok(EnvFile::NotIgnored) => Check::error(
            "dotenv.ignored",
            ".env is not ignored by git: its secrets would be committed",
            "add a `.env` line to .gitignore",
        ),
        Ok(EnvFile::Tracked) => Check::error(
            "dotenv.ignored",
            ".env is committed to the repository",
            "run `git rm --cached .env`, add `.env` to .gitignore, and rotate its secrets (`azu-session session:rotate-secret`)",
        ),
        Err(e) => Check::from_error("dotenv.ignored", &e),
    }
}

fn mode(cx: &Context) -> Check {
    let path = cx.root.join(DOTENV);
    let mode = match std::fs::metadata(&path) {
        Ok(m) => m.permissions().mode() & 0o777,
        Err(e) => {
            return Check::error(
                "dotenv.mode",
                format!(".env cannot be read: {e}"),
                "check its permissions",
            );
        }
    };
    let fix = "run `chmod 600 .env`";
    if mode & 0o004 != 0 {
        Check::error(
            "dotenv.mode",
            format!(".env is readable by every user (mode {mode:o})"),
            fix,
        )
    } else if mode & 0o040 != 0 {
        Check::warning(
            "dotenv.mode",
            format!(".env is readable by its group (mode {mode:o})"),
            fix,
        )
    } else {
        Check::ok(
            "dotenv.mode",
            format!(".env is readable only by its owner (mode {mode:o})"),
        )
    }
}

/// For the documentation's API: `config.secure` must not be off in production.
fn cookies(cx: &Context) -> Option<Check> {
    let store = cx.store()?;
    if store.api != Api::Docs || !cx.from_initializer {
        return None;
    }
    let text = std::fs::read_to_string(cx.root.join(INITIALIZER)).ok()?;
    let re = SECURE.as_ref().ok()?;
    let value = re
        .captures_iter(&text)
        .last()
        .map(|c| c[1].trim().to_string());
    let production = cx.production();
    let fix =
        "set `config.secure = true` (or off only in development and test, as setup writes it)";
    Some(match value.as_deref() {
        Some("true") => Check::ok("cookies.secure", "cookies are sent over HTTPS only"),
        Some("false") if production => Check::error(
            "cookies.secure",
            "config.secure is false in production: session cookies go over plain HTTP",
            fix,
        ),
        Some("false") => Check::warning(
            "cookies.secure",
            "config.secure is false in every environment, production included",
            fix,
        ),
        Some(_) => Check::ok("cookies.secure", "config.secure depends on the environment"),
        None if production => Check::error(
            "cookies.secure",
            "config.secure is not set, so cookies go over plain HTTP in production",
            fix,
        ),
        None => Check::warning(
            "cookies.secure",
            "config.secure is not set (cookies go over plain HTTP)",
            fix,
        ),
    })
}
