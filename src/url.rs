//! Connection URLs as the user may see them: every password masked.
//!
//! Masking works on the text rather than a parsed URL so that whatever the user wrote, even a
//! URL no parser accepts, is shown as written except for the secret parts.

const MASK: &str = "****";

/// Query parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "auth",
    "sslpassword",
    "token",
];

/// `url` with the password of its user info and any secret query parameter replaced by
/// `****`; a comma-separated list of Redis URLs (Redis Cluster seeds) has each masked on its
/// own. Only a Redis URL can be a list: in any other, a `,scheme://` is part of the password
/// and masked with it.
pub fn mask(url: &str) -> String {
    if !url.trim_start().to_ascii_lowercase().starts_with("redis") {
        return mask_one(url);
    }
    split_list(url)
        .into_iter()
        .map(mask_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// `url` split at each comma that starts another URL (`,scheme://`); a comma anywhere else
/// (in a password, or between hosts of one URL) stays where it is.
pub fn split_list(url: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in url.char_indices() {
        if c == ',' && starts_with_scheme(&url[i + 1..]) {
            out.push(&url[start..i]);
            start = i + 1;
        }
    }
    out.push(&url[start..]);
    out
}

fn starts_with_scheme(s: &str) -> bool {
    let s = s.trim_start();
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where a URL's scheme ends: after its first `://`, or after its first `:` for
/// `scheme:user:pw@host` forms.
fn scheme_end(url: &str) -> Option<usize> {
    url.find("://")
        .map(|i| i + 3)
        .or_else(|| url.find(':').map(|i| i + 1))
}

/// A URL split around its user info: the scheme, the user info, and the rest from its `@`.
/// The user info runs to the *last* `@`, so a password written with unencoded `/`, `?`, `#`
/// or `@` is all inside it; where an `@` stands in a path or query instead, more is masked
/// than needed, never less.
fn split_userinfo(url: &str) -> Option<(&str, &str, &str)> {
    let end = scheme_end(url)?;
    let rest = &url[end..];
    let at = rest.rfind('@')?;
    Some((&url[..end], &rest[..at], &rest[at..]))
}

fn mask_one(url: &str) -> String {
    let (mut out, rest) = match split_userinfo(url) {
        Some((scheme, userinfo, rest)) => {
            let masked = match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}{user}:{MASK}"),
                // `redis://secret@host`: Redis reads a lone user info as the password.
                None if scheme.to_ascii_lowercase().starts_with("redis") => {
                    format!("{scheme}{MASK}")
                }
                None => format!("{scheme}{userinfo}"),
            };
            (masked, rest)
        }
        None => {
            // Only what follows the scheme can be a query: masking never reaches the text
            // that tells where the scheme ends, so masking twice changes nothing.
            let (scheme, rest) = url.split_at(scheme_end(url).unwrap_or(0));
            (scheme.to_string(), rest)
        }
    };
    match rest.split_once('?') {
        Some((before, query)) => {
            out.push_str(before);
            out.push('?');
            out.push_str(&mask_query(query));
        }
        None => out.push_str(rest),
    }
    out
}

fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}={MASK}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masking_twice_changes_nothing() {
        // Found by the url fuzz target: the only `://` deep in the text, after a query.
        let found = "\u{2}\0,J.st:/,&pass=dick?JJJis\0/////redis:sock?,\0=/\0\0\0\0\0@st:/,&pass=dick?JJJis\0/////redis://:*";
        for url in [
            found,
            "redis://u:pa?ss@h?password=x",
            "sqlite:./db?pass=x",
            "a?b://c@d",
        ] {
            assert_eq!(mask(&mask(url)), mask(url), "{url:?}");
        }
    }

    #[test]
    fn masks_every_form() {
        let cases = [
            ("redis://localhost:6379", "redis://localhost:6379"),
            (
                "redis://:pw@localhost:6379/1",
                "redis://:****@localhost:6379/1",
            ),
            ("redis://user:pw@host", "redis://user:****@host"),
            ("redis://pw@host", "redis://****@host"),
            ("rediss://u:p%40ss@host:6380", "rediss://u:****@host:6380"),
            ("redis://u:p@ss@host", "redis://u:****@host"),
            (
                "redis+unix:///tmp/r.sock?db=2&pass=secret",
                "redis+unix:///tmp/r.sock?db=2&pass=****",
            ),
            (
                "postgres://app:s3cret@db/app?sslmode=require",
                "postgres://app:****@db/app?sslmode=require",
            ),
            (
                "postgres://db/app?user=app&password=s3cret",
                "postgres://db/app?user=app&password=****",
            ),
            (
                "mysql://root@127.0.0.1:3306/app",
                "mysql://root@127.0.0.1:3306/app",
            ),
            ("sqlite:./db/app.sqlite3", "sqlite:./db/app.sqlite3"),
            ("mysql:root:pw@host", "mysql:root:****@host"),
            ("not a url", "not a url"),
            // Passwords written with unencoded URL delimiters are masked whole.
            ("redis://u:pa?ss@host:6379", "redis://u:****@host:6379"),
            ("redis://:p/a#s@host/2", "redis://:****@host/2"),
            (
                "postgres://u:p?w@h/db?password=x",
                "postgres://u:****@h/db?password=****",
            ),
            // From the url fuzz target: everything up to the last `@` after the scheme is
            // user info, even when it looks like masks and hosts.
            (
                "x//r)+?dis://u:****@:****@1;1ost//r)+?dis://u:**db\0t@g,\0,s:/**@:****>1;11s",
                "x//r)+?dis://u:****@:****>1;11s",
            ),
            // Found by the url fuzz target: a `?` before the scheme hid the user info.
            (
                "?redis://u:p@ss*@stlh:p@ss*@stlhoost:6379@host",
                "?redis://u:****@host",
            ),
            (
                "redis://:a@h1:7000,redis://:b@h2:7001",
                "redis://:****@h1:7000,redis://:****@h2:7001",
            ),
            (
                "redis://:p,w@h1:7000,h2:7001",
                "redis://:****@h1:7000,h2:7001",
            ),
            ("", ""),
            // Schemes are case-insensitive, masking included.
            ("REDIS://user:pw@host", "REDIS://user:****@host"),
            ("REDIS://pw@host", "REDIS://****@host"),
            ("Rediss://pw@host:6380/1", "Rediss://****@host:6380/1"),
            (
                "REDIS://:a@h1:7000,Redis://b@h2:7001",
                "REDIS://:****@h1:7000,Redis://****@h2:7001",
            ),
            (
                "POSTGRES://u:pw@h/db?PASSWORD=x",
                "POSTGRES://u:****@h/db?PASSWORD=****",
            ),
            // A database URL is never a list: its password holds the comma.
            ("postgres://u:p,postgres://x@h/db", "postgres://u:****@h/db"),
            ("mysql://u:a,redis://b@h/db?x=1", "mysql://u:****@h/db?x=1"),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }
}
