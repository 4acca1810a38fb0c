//! MySQL and MariaDB URLs as crystal-mysql reads them.

use std::path::{Path, PathBuf};

use url::Url;

use super::{
    DatabaseUrl, Dialect, POOL_PARAMS, absolute_root, against_root, invalid, note_unknown,
    parse_server_url, percent_decode, query_pairs, secrets_of, tls_file,
};
use crate::error::Result;

/// crystal-mysql: a URL with a host is TCP, its database the first path segment unless
/// `database=` says otherwise; a URL without one (`mysql:///run/mysqld/mysqld.sock`) is the
/// unix socket at its path, its database only `database=`. TLS is `ssl-mode`
/// (`disabled`, `preferred`, `required`, `verify_ca`, `verify_identity`) with `ssl-ca`,
/// `ssl-cert` and `ssl-key` files.
///
/// Long because it is one match over the parameters crystal-mysql reads, each a line or two.
pub(super) fn parse(url: &str, root: &Path) -> Result<DatabaseUrl> {
    let (parsed, socket) = parse_server_url(url)?;
    let root = absolute_root(root)?;
    let mut notes = Vec::new();
    let mut database: Option<String> = None;
    let mut keep: Vec<(String, String)> = Vec::new();
    for (key, value) in query_pairs(parsed.query().unwrap_or_default()) {
        match key.as_str() {
            "database" => database = Some(value),
            "ssl-mode" => keep.push((key, mysql_ssl_mode(url, &value)?.to_string())),
            "ssl-ca" | "ssl-cert" | "ssl-key" => {
                let path = param_path(&root, &value);
                keep.push(tls_file(url, &key, &value, path)?);
            }
            // The connection's collation: the clear sends no text that it would change.
            "encoding" => {}
            k if POOL_PARAMS.contains(&k) => {}
            k => note_unknown(&mut notes, k, "crystal-mysql"),
        }
    }

    let mut connect = Url::parse("mysql://localhost").map_err(|e| invalid(url, e.to_string()))?;
    match parsed.host_str().filter(|_| !socket) {
        Some(host) => {
            connect
                .set_host(Some(host))
                .map_err(|e| invalid(url, e.to_string()))?;
            connect
                .set_port(Some(parsed.port().unwrap_or(3306)))
                .map_err(|()| invalid(url, "the port cannot be set"))?;
            if database.is_none() {
                let first = parsed.path().trim_start_matches('/');
                if !first.is_empty() {
                    database =
                        Some(percent_decode(first, false).map_err(|reason| invalid(url, reason))?);
                }
            }
        }
        None => {
            let socket =
                percent_decode(parsed.path(), false).map_err(|reason| invalid(url, reason))?;
            if socket.is_empty() || socket == "/" {
                return Err(invalid(
                    url,
                    "it names neither a host nor a socket; use mysql://user:password@host/database or mysql:///path/to/mysqld.sock?database=name",
                ));
            }
            keep.push(("socket".to_string(), socket));
        }
    }
    connect
        .set_username(parsed.username())
        .map_err(|()| invalid(url, "the user cannot be set"))?;
    connect
        .set_password(parsed.password())
        .map_err(|()| invalid(url, "the password cannot be set"))?;
    if let Some(db) = &database
        && let Ok(mut segments) = connect.path_segments_mut()
    {
        segments.clear().push(db);
    }
    if !keep.is_empty() {
        connect.query_pairs_mut().extend_pairs(&keep);
    }
    Ok(DatabaseUrl {
        dialect: Dialect::MySql,
        shown: crate::url::mask(url),
        secrets: secrets_of(&parsed),
        connect: connect.to_string(),
        notes,
        sqlite: None,
    })
}

/// crystal-mysql's `ssl-mode`, read as Crystal reads an enum (case and underscores do not
/// matter), in sqlx's spelling.
fn mysql_ssl_mode(url: &str, value: &str) -> Result<&'static str> {
    let folded: String = value
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    Ok(match folded.as_str() {
        "disabled" => "DISABLED",
        "preferred" => "PREFERRED",
        "required" => "REQUIRED",
        "verifyca" => "VERIFY_CA",
        "verifyidentity" => "VERIFY_IDENTITY",
        _ => {
            return Err(invalid(
                url,
                format!(
                    "ssl-mode `{value}` is not one of disabled, preferred, required, verify_ca, verify_identity"
                ),
            ));
        }
    })
}

/// A file path from a URL parameter as crystal-mysql reads it: `~` is the home directory,
/// a relative path is read from the app's working directory, the project root.
fn param_path(root: &Path, value: &str) -> PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => against_root(root, Path::new(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database_url::test_root;
    use crate::error::Error;
    use url::Url;

    #[test]
    fn mysql_as_crystal_mysql_reads_it() {
        let dir = test_root();
        let db = DatabaseUrl::parse(
            "mysql://root:p%40ss@db/app?database=other&ssl-mode=VERIFY_CA&ssl-ca=ca.pem&encoding=utf8mb4_general_ci&sslmode=disabled",
            dir.path(),
        )
        .expect("parameters");
        let connect = Url::parse(&db.connect).expect("a URL");
        assert_eq!(connect.host_str(), Some("db"));
        assert_eq!(connect.port(), Some(3306));
        assert_eq!(connect.path(), "/other");
        assert_eq!(connect.password(), Some("p%40ss"));
        assert_eq!(db.scrub("for p@ss"), "for ****");
        let pairs = query_pairs(connect.query().unwrap_or_default());
        assert_eq!(
            pairs,
            vec![
                ("ssl-mode".into(), "VERIFY_CA".into()),
                (
                    "ssl-ca".into(),
                    dir.path().join("ca.pem").to_string_lossy().into_owned()
                ),
            ]
        );
        assert_eq!(db.notes.len(), 1, "{:?}", db.notes);

        let socket = DatabaseUrl::parse(
            "mysql://azs:azs@/run/mysqld/mysqld.sock?database=app",
            dir.path(),
        )
        .expect("a socket");
        let connect = Url::parse(&socket.connect).expect("a URL");
        assert_eq!(connect.path(), "/app");
        assert_eq!(
            query_pairs(connect.query().unwrap_or_default()),
            vec![("socket".into(), "/run/mysqld/mysqld.sock".into())]
        );
        assert!(matches!(
            DatabaseUrl::parse("mysql://h/app?ssl-mode=verify-ca", dir.path()),
            Err(Error::DatabaseUrlInvalid { .. })
        ));
    }
}
