//! PostgreSQL URLs as crystal-pg reads them.

use std::path::Path;

use super::{
    DatabaseUrl, Dialect, POOL_PARAMS, absolute_root, against_root, invalid, note_unknown,
    parse_server_url, query_pairs, secrets_of, tls_file,
};
use crate::error::Result;

/// crystal-pg reads `host` (only when the URL names no host), `application_name` and the TLS
/// parameters from the query; `dbname`, `user`, `password`, `port` and `options` there are
/// passed over by it, so they are here too (sqlx would honour them and reach another
/// database, or another schema).
pub(super) fn parse(url: &str, root: &Path) -> Result<DatabaseUrl> {
    let (mut parsed, no_host) = parse_server_url(url)?;
    let root = absolute_root(root)?;
    let mut notes = Vec::new();
    let mut keep: Vec<(String, String)> = Vec::new();
    let mut host_param = None;
    for (key, value) in query_pairs(parsed.query().unwrap_or_default()) {
        match key.as_str() {
            "sslmode" => {
                const MODES: &[&str] =
                    &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
                if !MODES.contains(&value.as_str()) {
                    return Err(invalid(
                        url,
                        format!("sslmode `{value}` is not one of {}", MODES.join(", ")),
                    ));
                }
                keep.push((key, value));
            }
            "sslrootcert" | "sslcert" | "sslkey" => {
                let path = against_root(&root, Path::new(&value));
                keep.push(tls_file(url, &key, &value, path)?);
            }
            "application_name" => keep.push((key, value)),
            "host" if !no_host => notes.push(
                "DATABASE_URL parameter `host` is passed over: the URL names a host, which crystal-pg uses".to_string(),
            ),
            "host" => host_param = Some(value),
            "auth_methods" => {}
            k if POOL_PARAMS.contains(&k) => {}
            k => note_unknown(&mut notes, k, "crystal-pg"),
        }
    }
    if no_host {
        // Where crystal-pg goes for a URL without a host: `host=`, else `PGHOST`, else the
        // first of its known socket files that exists, else localhost.
        match host_param.or_else(crystal_pg_default_host) {
            Some(socket) if socket.starts_with('/') => {
                let (dir, port) = postgres_socket(&socket);
                keep.push(("host".to_string(), dir));
                keep.extend(port.map(|p| ("port".to_string(), p)));
            }
            host => parsed
                .set_host(Some(host.as_deref().unwrap_or("localhost")))
                .map_err(|e| invalid(url, e.to_string()))?,
        }
    }
    parsed.set_query(None);
    if !keep.is_empty() {
        parsed.query_pairs_mut().extend_pairs(&keep);
    }
    Ok(DatabaseUrl {
        dialect: Dialect::Postgres,
        shown: crate::url::mask(url),
        secrets: secrets_of(&parsed),
        connect: parsed.to_string(),
        notes,
        sqlite: None,
    })
}

/// crystal-pg's host for a URL that names none: `PGHOST` (a directory there means its
/// `.s.PGSQL.5432`), else the first of its known socket files that exists.
fn crystal_pg_default_host() -> Option<String> {
    if let Some(host) = std::env::var("PGHOST").ok().filter(|h| !h.is_empty()) {
        return Some(if host.starts_with('/') {
            format!("{host}/.s.PGSQL.5432")
        } else {
            host
        });
    }
    [
        "/run/postgresql/.s.PGSQL.5432",
        "/tmp/.s.PGSQL.5432",
        "/var/run/postgresql/.s.PGSQL.5432",
    ]
    .into_iter()
    .find(|s| Path::new(s).exists())
    .map(str::to_string)
}

/// crystal-pg takes a `host` starting with `/` as the socket file itself
/// (`/run/postgresql/.s.PGSQL.5432`); libpq and sqlx take the directory holding it. Either
/// is accepted: the directory, and the port the socket's name carries.
fn postgres_socket(host: &str) -> (String, Option<String>) {
    let path = Path::new(host);
    if host.starts_with('/')
        && let Some(name) = path.file_name().and_then(|n| n.to_str())
        && let Some(port) = name.strip_prefix(".s.PGSQL.")
        && let Some(dir) = path.parent()
    {
        return (dir.to_string_lossy().into_owned(), Some(port.to_string()));
    }
    (host.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database_url::test_root;
    use crate::error::Error;
    use url::Url;

    #[test]
    fn postgres_parameters_as_crystal_pg_reads_them() {
        let dir = test_root();
        let db = DatabaseUrl::parse(
            "postgres://app:s3cret@db:5433/app?sslmode=require&sslrootcert=certs/ca.pem&max_pool_size=20&options=-c%20search_path%3Dother&dbname=other&application_name=web",
            dir.path(),
        )
        .expect("parameters");
        let ca = dir.path().join("certs/ca.pem");
        let want = Url::parse(&db.connect).expect("a URL");
        let pairs = query_pairs(want.query().unwrap_or_default());
        assert_eq!(
            pairs,
            vec![
                ("sslmode".into(), "require".into()),
                ("sslrootcert".into(), ca.to_string_lossy().into_owned()),
                ("application_name".into(), "web".into()),
            ]
        );
        assert_eq!(want.path(), "/app");
        assert_eq!(db.notes.len(), 2, "{:?}", db.notes);
        assert!(db.notes[0].contains("`options`") && db.notes[1].contains("`dbname`"));
        assert_eq!(
            db.shown,
            "postgres://app:****@db:5433/app?sslmode=require&sslrootcert=certs/ca.pem&max_pool_size=20&options=-c%20search_path%3Dother&dbname=other&application_name=web"
        );
        assert_eq!(db.scrub("bad password s3cret"), "bad password ****");

        let socket = DatabaseUrl::parse(
            "postgres:///app?host=/run/postgresql/.s.PGSQL.5433",
            dir.path(),
        )
        .expect("a socket file");
        assert!(
            socket
                .connect
                .ends_with("?host=%2Frun%2Fpostgresql&port=5433"),
            "{}",
            socket.connect
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://h/app?sslmode=verify_full", dir.path()),
            Err(Error::DatabaseUrlInvalid { .. })
        ));
    }
}
