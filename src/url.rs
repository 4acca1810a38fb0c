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
/// `****`; a comma-separated list of URLs (Redis Cluster seeds) has each masked on its own.
pub fn mask(url: &str) -> String {
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

fn mask_one(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = mask_userinfo(before_query);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&mask_query(query));
    }
    out
}

fn mask_userinfo(s: &str) -> String {
    let (scheme, rest) = match s.find("://") {
        Some(i) => (&s[..i + 3], &s[i + 3..]),
        None => match s.split_once(':') {
            // `scheme:user:pass@host` and other forms without `//`
            Some((scheme, rest)) if rest.contains('@') => (&s[..scheme.len() + 1], rest),
            _ => return s.to_string(),
        },
    };
    // The authority ends at the first `/`, `#` (or the end); its user info at its last `@`.
    let auth_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(auth_end);
    let Some(at) = authority.rfind('@') else {
        return s.to_string();
    };
    let (userinfo, host) = authority.split_at(at);
    let masked = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:{MASK}"),
        // `redis://secret@host`: Redis reads a lone user info as the password.
        None if scheme.starts_with("redis") || scheme.starts_with("rediss") => MASK.to_string(),
        None => userinfo.to_string(),
    };
    format!("{scheme}{masked}{host}{path}")
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
            (
                "redis://:a@h1:7000,redis://:b@h2:7001",
                "redis://:****@h1:7000,redis://:****@h2:7001",
            ),
            (
                "redis://:p,w@h1:7000,h2:7001",
                "redis://:****@h1:7000,h2:7001",
            ),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }
}
