//! Connection URLs as the user may see them: every password masked.
//!
//! Masking works on the text rather than a parsed URL so that whatever the user wrote, even a
//! URL no parser accepts, is shown as written except for the secret parts.

const MASK: &str = "****";

/// Query parameters whose values are credentials: the names Redis clients and the database
/// drivers read (the user's name is masked too: half a credential is still one). Public for
/// the url fuzz target's oracle.
pub const SECRET_PARAMS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "auth",
    "sslpassword",
    "token",
    "user",
    "username",
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

/// The byte ranges of the values of secret query parameters in `url` after `start`: each
/// from its `=` to the next `&` or `#` (or the end). A query starts at a `?`: an `&` before
/// any (`redis://:a&pass=@host`) is part of a user info, not a parameter.
fn secret_values(url: &str, start: usize) -> Vec<std::ops::Range<usize>> {
    let bytes = url.as_bytes();
    let mut out = Vec::new();
    let mut i = start;
    let mut in_query = false;
    while i < bytes.len() {
        in_query |= bytes[i] == b'?';
        if in_query && matches!(bytes[i], b'?' | b'&') {
            let key_start = i + 1;
            let key_end = bytes[key_start..]
                .iter()
                .position(|&b| matches!(b, b'=' | b'&' | b'?' | b'#'))
                .map_or(bytes.len(), |p| key_start + p);
            if bytes.get(key_end) == Some(&b'=') {
                let key = url[key_start..key_end].to_ascii_lowercase();
                if SECRET_PARAMS.contains(&key.as_str()) {
                    let value_start = key_end + 1;
                    let value_end = bytes[value_start..]
                        .iter()
                        .position(|&b| matches!(b, b'&' | b'#'))
                        .map_or(bytes.len(), |p| value_start + p);
                    out.push(value_start..value_end);
                    i = value_end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// `url` with its secrets masked. Secret query values are found first; the user info then
/// runs to the *last* `@` after the scheme that is not inside one of them, so a password
/// written with unencoded `/`, `?`, `#` or `@` is all inside it, and an `@` in a secret
/// value (`?pass=abc@def`) is not taken for the end of a user info. Where an `@` stands in
/// a path or another query value instead, more is masked than needed, never less.
fn mask_one(url: &str) -> String {
    // Only what follows the scheme can be secret: masking never reaches the text that tells
    // where the scheme ends, so masking twice changes nothing.
    let start = scheme_end(url).unwrap_or(0);
    let values = secret_values(url, start);
    let inside = |i: usize| values.iter().any(|r| r.contains(&i));
    let at = url[start..]
        .rmatch_indices('@')
        .map(|(i, _)| start + i)
        .find(|&i| !inside(i));
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    if let Some(at) = at {
        let userinfo = &url[start..at];
        // The password starts after the first `:` that is not inside a secret value (one
        // inside would mask the value's end and show its start).
        let colon = userinfo
            .match_indices(':')
            .map(|(i, _)| i)
            .find(|&i| !inside(start + i));
        match colon {
            Some(colon) => spans.push(start + colon + 1..at),
            // `redis://secret@host`: Redis reads a lone user info as the password.
            None if url[..start].to_ascii_lowercase().starts_with("redis") => {
                spans.push(start..at);
            }
            None => {}
        }
    }
    // Secret values inside the user info are masked with it.
    let covered = spans.first().cloned();
    spans.extend(values.into_iter().filter(|r| {
        covered
            .as_ref()
            .is_none_or(|c| r.start >= c.end || r.end <= c.start)
    }));
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for span in spans {
        out.push_str(&url[last..span.start]);
        out.push_str(MASK);
        last = span.end;
    }
    out.push_str(&url[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{SECRET_PARAMS, mask};

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

    /// Any password, in the user info or a query parameter named by any of
    /// [`SECRET_PARAMS`] in any case, under any scheme in any case, is gone from the masked
    /// text. Passwords hold every URL delimiter, `=` and `*` included, and leave out only,
    /// for Redis, `,` (a Redis URL may be a list, split at `,scheme://`); a query value
    /// leaves out the `&` and `#` that end it.
    ///
    /// Long because it is one generator and one table of forms, each with its masked text.
    #[test]
    fn no_password_survives_in_any_position_or_scheme_case() {
        const CHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@:/?#,%+!.-_~$;&=*";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let schemes = [
            "redis",
            "REDIS",
            "rediss",
            "Redis+Unix",
            "unix",
            "postgres",
            "PostgreSQL",
            "mysql",
            "MariaDB",
            "sqlite3",
        ];
        for _ in 0..3000 {
            let scheme = schemes[(next() % schemes.len() as u64) as usize];
            let redis = scheme.to_ascii_lowercase().starts_with("redis");
            let len = 8 + (next() % 12) as usize;
            let mut password = String::new();
            while password.len() < len {
                let c = CHARS[(next() % CHARS.len() as u64) as usize] as char;
                if !(redis && c == ',') {
                    password.push(c);
                }
            }
            let value: String = password
                .chars()
                .filter(|c| !matches!(c, '&' | '#'))
                .collect();
            // Any secret parameter's name, in a random case.
            let name: String = SECRET_PARAMS[(next() % SECRET_PARAMS.len() as u64) as usize]
                .chars()
                .map(|c| {
                    if next() % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let forms = [
                (
                    format!("{scheme}://user:{password}@host:6379/0"),
                    format!("{scheme}://user:****@host:6379/0"),
                ),
                (
                    format!("{scheme}://:{password}@host/2?db=1"),
                    format!("{scheme}://:****@host/2?db=1"),
                ),
                (
                    format!("{scheme}://host/app?password={value}&x=1"),
                    format!("{scheme}://host/app?password=****&x=1"),
                ),
                (
                    format!("{scheme}:///tmp/r.sock?db=2&pass={value}"),
                    format!("{scheme}:///tmp/r.sock?db=2&pass=****"),
                ),
                (
                    format!("{scheme}://h/app?user=u&PASSWORD={value}#f"),
                    format!("{scheme}://h/app?user=****&PASSWORD=****#f"),
                ),
                (
                    format!("{scheme}://u:{password}@h/app?pass={value}"),
                    format!("{scheme}://u:****@h/app?pass=****"),
                ),
                (
                    format!("{scheme}://h:5432/app?sslmode=require&{name}={value}&db=1"),
                    format!("{scheme}://h:5432/app?sslmode=require&{name}=****&db=1"),
                ),
                (
                    format!("{scheme}:///tmp/x.sock?{name}={value}"),
                    format!("{scheme}:///tmp/x.sock?{name}=****"),
                ),
            ];
            for (url, want) in forms {
                let masked = mask(&url);
                assert_eq!(masked, want, "{url}");
                assert_eq!(mask(&masked), masked, "{url}");
            }
        }
    }

    // Long: one table of URL forms and their masked text, kept whole so it reads as a list.
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
                "postgres://db/app?user=****&password=****",
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
            // A comma before what is not a scheme (a digit first, as no scheme starts) is in
            // the password (kills the mutant `&&` -> `||` in starts_with_scheme).
            ("redis://:p,9w://x@h1:7000", "redis://:****@h1:7000"),
            ("redis://:p,a_b://x@h1:7000", "redis://:****@h1:7000"),
            // A secret value ending before the user info's `:` is masked on its own (kills
            // the mutant `<=` -> `>` in mask_one's filter of values the user info covers).
            (
                "redis://?pass=s3cret&:pw@host",
                "redis://?pass=****&:****@host",
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
            // Secret query values first: an `@` in one is not the end of a user info.
            (
                "unix:///tmp/r.sock?db=2&pass=abc@def",
                "unix:///tmp/r.sock?db=2&pass=****",
            ),
            (
                "redis+unix:///tmp/r.sock?password=abc@def&db=2",
                "redis+unix:///tmp/r.sock?password=****&db=2",
            ),
            (
                "postgres://h/app?user=u&password=p@ss",
                "postgres://h/app?user=****&password=****",
            ),
            ("REDIS://user:pw@host", "REDIS://user:****@host"),
            // A `:` inside a secret value is not the user info's: the value is masked whole.
            (
                "postgres://?password=secret:tail&x@host",
                "postgres://?password=****&x@host",
            ),
            ("redis://?password=se:cret&x@host", "redis://****@host"),
            // Found by the url fuzz target: in a Redis URL, `,x://` starts the next URL of
            // the list, even inside a query value.
            (
                "rediss://h/?a&pwd=,x://[`sp))),u)s",
                "rediss://h/?a&pwd=****,x://[`sp))),u)s",
            ),
            // Found by the url fuzz target: an `&` before any `?` does not start a query.
            (
                "u/     :    r,&{slpais://:=r so&pass=@j",
                "u/     :    r,&{slpais://:****@j",
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
