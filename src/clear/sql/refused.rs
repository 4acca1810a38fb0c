//! Why a database connection failed, and the fix, in the user's terms: a database that does
//! not exist, a user or password refused, a user that may not use the database, a server
//! that does not offer TLS, a port where another kind of server listens, or an address
//! nothing can be reached at. The server's own words stay in the reason where they help;
//! the fix names what to change (DATABASE_URL, the server's settings).

use url::Url;

use super::dialect::error_code;
use super::{CONNECT_TIMEOUT, describe_connect};
use crate::clear::unreachable::Place;
use crate::database_url::{DatabaseUrl, Dialect};

/// What `DATABASE_URL` names, for messages: the server's kind, where it is, the user and the
/// database.
struct Named {
    place: Option<Place>,
    user: String,
    database: String,
}

fn named(url: &DatabaseUrl) -> Named {
    let parsed = Url::parse(url.connect_url()).ok();
    let server = match url.dialect {
        Dialect::Postgres => "PostgreSQL",
        _ => "MySQL",
    };
    let Some(parsed) = parsed else {
        return Named {
            place: None,
            user: String::new(),
            database: String::new(),
        };
    };
    let param = |key: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let socket = param("socket").or_else(|| param("host").filter(|h| h.starts_with('/')));
    let place = match socket {
        Some(path) => Some(Place::socket(server, "DATABASE_URL", &path)),
        None => {
            let host = parsed.host_str().unwrap_or("localhost");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let default = match url.dialect {
                Dialect::Postgres => 5432,
                _ => 3306,
            };
            Some(Place::tcp(
                server,
                "DATABASE_URL",
                host,
                parsed.port().unwrap_or(default),
            ))
        }
    };
    Named {
        place,
        user: decode(parsed.username()),
        database: param("dbname")
            .or_else(|| param("database"))
            .unwrap_or_else(|| decode(parsed.path().trim_start_matches('/'))),
    }
}

/// A URL part with its `%XX` escapes decoded (as the drivers read it).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fix when nothing more precise is known.
pub(crate) const GENERIC_FIX: &str = "check that the server is running and DATABASE_URL is right";

/// What an SQLite file that cannot be opened needs.
pub(crate) const SQLITE_FIX: &str = "the file must be an SQLite database that this user may read and write (and its directory, for the journal), or correct DATABASE_URL";

/// The reason and the fix for a connection to `url` that failed with `e`.
///
/// Long: it is one table, each way a connection fails and the fix it needs.
pub(crate) fn connect_failure(e: &sqlx::Error, url: &DatabaseUrl) -> (String, String) {
    let reason = describe_connect(e, url);
    if url.sqlite.is_some() {
        return (reason, SQLITE_FIX.to_string());
    }
    let Named {
        place,
        user,
        database,
    } = named(url);
    if let Some(db) = e.as_database_error() {
        let code = error_code(db);
        let create = match url.dialect {
            Dialect::Postgres => format!("`createdb {database}`"),
            _ => format!("`CREATE DATABASE {database}`"),
        };
        let (reason, fix) = match code.as_str() {
            // PostgreSQL's invalid_catalog_name, MySQL's ER_BAD_DB_ERROR.
            "3D000" | "1049" => (
                format!("the database `{database}` does not exist"),
                format!("create it ({create}), or correct the database name in DATABASE_URL"),
            ),
            // A refused password: PostgreSQL's invalid_password, MySQL's ER_ACCESS_DENIED.
            "28P01" | "1045" | "1698" => (
                format!("the server refused the user `{user}` and its password ({reason})"),
                "correct the user and password in DATABASE_URL".to_string(),
            ),
            "28000" if reason.contains("pg_hba.conf") => (
                reason,
                format!(
                    "let the user `{user}` connect from here in the server's pg_hba.conf, or use a user it lets in"
                ),
            ),
            "28000" => (
                reason,
                "correct the user in DATABASE_URL: it must be a role the server has".to_string(),
            ),
            // MySQL's ER_DBACCESS_DENIED: also what a database that does not exist gets when
            // the user could not see it anyway.
            "1044" => (
                format!("the user `{user}` may not use the database `{database}`, or it does not exist ({reason})"),
                format!(
                    "correct the database name in DATABASE_URL, or grant the user access to it (GRANT ALL ON `{database}`.* TO ...)"
                ),
            ),
            "53300" | "1040" => (
                reason,
                "the server has as many connections as it allows; close idle ones or raise its limit (max_connections), then run the command again".to_string(),
            ),
            _ => (reason, GENERIC_FIX.to_string()),
        };
        return (reason, fix);
    }
    let text = e.to_string();
    if let sqlx::Error::Tls(_) = e {
        if text.contains("does not support TLS") {
            return (
                "the server does not offer TLS, which DATABASE_URL asks for".to_string(),
                "drop the TLS requirement from DATABASE_URL (sslmode=require, ssl-mode=REQUIRED), or turn TLS on at the server".to_string(),
            );
        }
        return (
            reason,
            "check the server's certificate against DATABASE_URL's TLS settings (its CA, the host name it names)".to_string(),
        );
    }
    let Some(place) = place else {
        return (reason, GENERIC_FIX.to_string());
    };
    if let sqlx::Error::Protocol(_) = e
        && url.dialect == Dialect::Postgres
    {
        return place.not_this_server("it does not answer PostgreSQL's handshake");
    }
    if text.contains("timed out") {
        return place.no_answer(CONNECT_TIMEOUT.as_secs());
    }
    place
        .explain(e)
        .unwrap_or((reason, GENERIC_FIX.to_string()))
}

/// No answer within the connection's time.
pub(crate) fn no_answer(url: &DatabaseUrl) -> (String, String) {
    match named(url).place {
        Some(place) if url.sqlite.is_none() => place.no_answer(CONNECT_TIMEOUT.as_secs()),
        _ => (
            format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
            GENERIC_FIX.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_server_user_and_database() {
        let url = DatabaseUrl::parse(
            "postgres://app%40x:pw@db.example:6543/my_app",
            std::path::Path::new("/"),
        )
        .expect("a URL");
        let n = named(&url);
        assert_eq!(n.user, "app@x");
        assert_eq!(n.database, "my_app");
        let place = n.place.expect("a place");
        assert_eq!(place.address, "db.example:6543");
        assert_eq!(place.server, "PostgreSQL");
        let url = DatabaseUrl::parse("mysql://root@localhost/shop", std::path::Path::new("/"))
            .expect("a URL");
        assert_eq!(
            named(&url).place.expect("a place").address,
            "localhost:3306"
        );
    }
}
