//! SQLite URLs as crystal-sqlite3 reads them: the file, relative to the project root, and the
//! pragmas a clear takes over.

use std::path::Path;
use std::time::Duration;

use super::{
    DatabaseUrl, Dialect, POOL_PARAMS, SqliteSettings, absolute_root, against_root, invalid,
    note_unknown, percent_decode, query_pairs,
};
use crate::error::{Error, Result};

/// crystal-sqlite3's per-connection settings that a clear does not take over: the cache and
/// checkpoint sizes are the app's tuning, `synchronous` is about the app's durability, and
/// `journal_mode` is stored in the database file itself, so applying it would change the
/// app's database.
const SQLITE_IGNORED: &[&str] = &[
    "cache_size",
    "journal_mode",
    "synchronous",
    "wal_autocheckpoint",
];

/// crystal-sqlite3 opens `hostname + path` of the URL, decoded: `sqlite3://./db/app.db` and
/// `sqlite3:db/app.db` are `./db/app.db` and `db/app.db` in the app's working directory,
/// `sqlite3:///var/db/app.db` is absolute.
///
/// Long because it is one match over the forms and parameters crystal-sqlite3 reads, each a
/// line or two.
pub(super) fn parse(url: &str, root: &Path) -> Result<DatabaseUrl> {
    let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let written = match before_query.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if authority == ":memory:" {
                String::new()
            } else if authority.contains(['@', ':', '[']) {
                // Crystal drops a user or port here and opens what is left, which is rarely
                // what was meant: say how to write it instead of guessing.
                return Err(invalid(
                    url,
                    format!("`{authority}` reads as a host, not part of a file path"),
                ));
            } else {
                format!("{authority}{path}")
            }
        }
        None => before_query.to_string(),
    };
    let file = percent_decode(&written, true).map_err(|reason| invalid(url, reason))?;
    if !names_a_file(&file, query) {
        return Err(Error::SqliteNoFile(crate::url::mask(url)));
    }

    let mut notes = Vec::new();
    let mut busy_timeout = None;
    let mut foreign_keys = false;
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "busy_timeout" => {
                let ms: u64 = value.trim().parse().map_err(|_| {
                    invalid(
                        url,
                        format!("busy_timeout `{value}` is not a whole number of milliseconds"),
                    )
                })?;
                busy_timeout = Some(Duration::from_millis(ms));
            }
            "foreign_keys" => {
                foreign_keys = sqlite_boolean(&value).ok_or_else(|| {
                    invalid(
                        url,
                        format!(
                            "foreign_keys `{value}` is not on or off (1, 0, true, false, yes, no)"
                        ),
                    )
                })?;
            }
            k if SQLITE_IGNORED.contains(&k) || POOL_PARAMS.contains(&k) => {}
            k => note_unknown(&mut notes, k, "crystal-sqlite3"),
        }
    }

    let root = absolute_root(root)?;
    let path = Path::new(&file);
    let resolved = against_root(&root, path);
    let shown = if path.is_absolute() {
        crate::url::mask(url)
    } else {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        crate::url::mask(&format!("{scheme}://{}{query}", resolved.display()))
    };
    match std::fs::metadata(&resolved) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(Error::SqliteFile {
                path: resolved,
                url: crate::url::mask(url),
                problem: "is not a file",
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::SqliteFile {
                path: resolved,
                url: crate::url::mask(url),
                problem: "does not exist",
            });
        }
        Err(e) => return Err(Error::read(resolved, e)),
    }

    // `mode=rw`: never create a database file that is not there.
    let connect = format!("sqlite://{}?mode=rw", encode_path(&resolved));
    Ok(DatabaseUrl {
        dialect: Dialect::Sqlite,
        shown,
        connect,
        secrets: Vec::new(),
        notes,
        sqlite: Some(SqliteSettings {
            file: resolved,
            busy_timeout,
            foreign_keys,
        }),
    })
}

/// Whether an `sqlite:` URL names a database file (not nothing, and not `:memory:`, where
/// there are no sessions to clear and a table would be reported missing).
fn names_a_file(file: &str, query: &str) -> bool {
    !file.is_empty()
        && file != ":memory:"
        && !query_pairs(query)
            .iter()
            .any(|(k, v)| k == "mode" && v == "memory")
}

/// The values SQLite's own `PRAGMA` reads as on and off.
fn sqlite_boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// A path as sqlx's SQLite URL wants it: percent-encoded where a URL would split it.
fn encode_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database_url::test_root;

    #[test]
    fn relative_sqlite_paths_are_read_from_the_project_root() {
        let dir = test_root();
        let want = dir.path().join("db/app.db");
        for url in [
            "sqlite3://./db/app.db",
            "sqlite3:./db/app.db",
            "sqlite3:db/app.db",
            "sqlite3://db/app.db",
            "sqlite:db/app.db",
            "sqlite://db/app.db",
            "SQLITE3://./db/app.db",
            "sqlite3://%2E/db%2Fapp.db",
            "sqlite3://./db/app.db?busy_timeout=5000&journal_mode=wal#x",
        ] {
            let db = DatabaseUrl::parse(url, dir.path()).expect(url);
            assert_eq!(db.sqlite.as_ref().map(|s| &s.file), Some(&want), "{url}");
            assert!(
                db.shown.contains(&*want.to_string_lossy()),
                "{url}: {}",
                db.shown
            );
            assert!(
                db.connect.starts_with("sqlite:///"),
                "{url}: {}",
                db.connect
            );
            assert!(db.notes.is_empty(), "{url}: {:?}", db.notes);
        }
        // As crystal-sqlite3 decodes it: `+` is a space.
        let db = DatabaseUrl::parse("sqlite3://./my+db.db", dir.path()).expect("my+db");
        assert_eq!(db.sqlite.map(|s| s.file), Some(dir.path().join("my db.db")));
    }

    #[test]
    fn sqlite_files_that_are_not_there_are_named() {
        let dir = test_root();
        let err = DatabaseUrl::parse("sqlite3://./db/missing.db", dir.path())
            .expect_err("a missing file");
        let text = err.to_string();
        assert!(
            text.contains(&*dir.path().join("db/missing.db").to_string_lossy()),
            "{text}"
        );
        assert!(!dir.path().join("db/missing.db").exists());
        let err = DatabaseUrl::parse("sqlite3://./db", dir.path()).expect_err("a directory");
        assert!(err.to_string().contains("is not a file"), "{err}");
        for no_file in [
            "sqlite:",
            "sqlite://",
            "sqlite::memory:",
            "sqlite3://:memory:",
            "sqlite://?mode=memory",
        ] {
            assert!(
                matches!(
                    DatabaseUrl::parse(no_file, dir.path()),
                    Err(Error::SqliteNoFile(_))
                ),
                "{no_file}"
            );
        }
        for host_like in [
            "sqlite3://u@h/app.db",
            "sqlite3://h:5/app.db",
            "sqlite3://[::1]/x",
        ] {
            assert!(
                matches!(
                    DatabaseUrl::parse(host_like, dir.path()),
                    Err(Error::DatabaseUrlInvalid { .. })
                ),
                "{host_like}"
            );
        }
    }

    #[test]
    fn sqlite_parameters() {
        let dir = test_root();
        let abs = dir.path().join("db/app.db");
        let url = format!(
            "sqlite3://{}?busy_timeout=250&foreign_keys=ON&cache_size=10&max_pool_size=5&mode=rwc",
            abs.display()
        );
        let db = DatabaseUrl::parse(&url, dir.path()).expect("parameters");
        let settings = db.sqlite.expect("SQLite settings");
        assert_eq!(settings.busy_timeout, Some(Duration::from_millis(250)));
        assert!(settings.foreign_keys);
        // Absolute: shown as written.
        assert_eq!(db.shown, url);
        assert_eq!(db.notes.len(), 1, "{:?}", db.notes);
        assert!(db.notes[0].contains("`mode`"), "{:?}", db.notes);
        assert!(db.connect.ends_with("?mode=rw"), "{}", db.connect);
        assert!(
            !DatabaseUrl::parse("sqlite3://./db/app.db", dir.path())
                .expect("defaults")
                .sqlite
                .expect("settings")
                .foreign_keys
        );
        for bad in ["busy_timeout=soon", "foreign_keys=maybe"] {
            let url = format!("sqlite3://./db/app.db?{bad}");
            assert!(
                matches!(
                    DatabaseUrl::parse(&url, dir.path()),
                    Err(Error::DatabaseUrlInvalid { .. })
                ),
                "{bad}"
            );
        }
    }
}
