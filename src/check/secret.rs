//! `SESSION_SECRET`: set, at least 32 bytes, not a known placeholder, and no secret literal
//! in the project's Crystal sources. A value is never shown; a literal is named by file and
//! line only.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::initializer::walk_sources;
use crate::project::Origin;

use super::{Check, Context};

/// The session shard's HMAC needs at least this many bytes of key.
const MIN_BYTES: usize = 32;

/// Secrets that are public: the session shard's built-in default, and the documentation's
/// and tutorials' examples (compared case-insensitively, spaces trimmed).
const PLACEHOLDERS: &[&str] = &[
    "1sxc1aNxGHTTZKlK5cpCgufJAqGM4G13",
    "development-secret",
    "your-secret-key-here",
    "your-secret-key",
    "your_secret_key",
    "your-secret-here",
    "change-me",
    "changeme",
    "change-this-secret",
    "secret",
    "session-secret",
    "session_secret",
    "super-secret",
    "supersecret",
    "test-secret",
    "my-secret",
    "mysecret",
    "default-secret",
];

const SET_FIX: &str = "run `azu-session session:setup` or add SESSION_SECRET to .env";
const NEW_FIX: &str = "run `azu-session session:rotate-secret` for a new random one";

/// `config.secret = "..."`, `ENV.fetch("SESSION_SECRET", "...")`, `ENV["SESSION_SECRET"]? || "..."`.
static LITERALS: LazyLock<Result<Vec<Regex>, regex::Error>> = LazyLock::new(|| {
    [
        r#"\.secret\s*=\s*"[^"]"#,
        r#"ENV\.fetch\(\s*"SESSION_SECRET"\s*,\s*"[^"]"#,
        r#"ENV\[\s*"SESSION_SECRET"\s*\]\?\s*(\|\||\.\s*try|\bor\b)\s*"[^"]"#,
        r#"\bsecret:\s*"[^"]"#,
    ]
    .iter()
    .map(|r| Regex::new(r))
    .collect()
});

pub(super) fn checks(cx: &Context) -> Vec<Check> {
    let mut checks = Vec::new();
    match cx.env.lookup("SESSION_SECRET") {
        None => checks.push(Check::error(
            "secret.set",
            "SESSION_SECRET is not set (process or .env)",
            SET_FIX,
        )),
        Some((value, origin)) => {
            let from = match origin {
                Origin::Process => "the environment",
                Origin::Dotenv => ".env",
            };
            checks.push(Check::ok(
                "secret.set",
                format!("SESSION_SECRET is set in {from}"),
            ));
            checks.push(strength(&value));
            checks.push(placeholder(&value));
        }
    }
    checks.push(in_source(&cx.root));
    checks
}

fn strength(value: &str) -> Check {
    let n = value.len();
    if n >= MIN_BYTES {
        Check::ok("secret.strength", format!("SESSION_SECRET is {n} bytes"))
    } else {
        Check::error(
            "secret.strength",
            format!("SESSION_SECRET is {n} bytes, fewer than {MIN_BYTES}"),
            NEW_FIX,
        )
    }
}

fn placeholder(value: &str) -> Check {
    let v = value.trim();
    let known = PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(v))
        || v.chars().all(|c| v.starts_with(c));
    if known {
        Check::error(
            "secret.placeholder",
            "SESSION_SECRET is a published placeholder or default, known to anyone",
            NEW_FIX,
        )
    } else {
        Check::ok(
            "secret.placeholder",
            "SESSION_SECRET is no known placeholder",
        )
    }
}

/// A secret literal in `src/**/*.cr` or `config/**/*.cr`, by file and line.
fn in_source(root: &Path) -> Check {
    let Ok(patterns) = LITERALS.as_ref() else {
        return Check::ok("secret.in_source", "no secret literal found");
    };
    let mut hits = Vec::new();
    let walked = walk_sources(root, &["src", "config"], |rel, _, text| {
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with('#') && patterns.iter().any(|p| p.is_match(code)) {
                hits.push(format!("{}:{}", rel.display(), i + 1));
            }
        }
        Ok(())
    });
    if hits.is_empty() {
        return Check::ok(
            "secret.in_source",
            format!("no secret literal in {} Crystal file(s)", walked.files_read),
        );
    }
    Check::error(
        "secret.in_source",
        format!(
            "a session secret is written in the source at {}",
            hits.join(", ")
        ),
        "read it from ENV[\"SESSION_SECRET\"] with no literal default, then rotate it (`azu-session session:rotate-secret`): it is in git's history",
    )
}
