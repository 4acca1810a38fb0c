//! Reading a Redis URL: the seed nodes a list names, the database it selects, and the
//! spellings the redis crate would misread, put right before connecting.

use std::borrow::Cow;

/// The URLs of the nodes `url` names, in order. `REDIS_URL` is one URL, or a list of seed
/// nodes of one Redis Cluster in either of two forms:
///
/// - hosts separated by commas in one URL, sharing its scheme, user, password, database and
///   options: `redis://:pw@h1:7000,h2:7001,h3:7002`;
/// - whole URLs separated by commas: `redis://:pw@h1:7000,redis://h2:7001`. Only the first
///   may carry a user and password; they are used for every node.
///
/// A comma inside a password or an option is part of it (the host list is what lies between
/// the last `@` and the first `/`, `?` or `#`). Unix socket URLs are never split.
pub fn seeds(url: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut first_userinfo = "";
    for (i, piece) in crate::url::split_list(url).into_iter().enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err("an empty URL in the comma-separated list".to_string());
        }
        let Some(parts) = UrlParts::of(piece) else {
            out.push(piece.to_string());
            continue;
        };
        let userinfo = if i == 0 {
            first_userinfo = parts.userinfo;
            parts.userinfo
        } else if parts.userinfo.is_empty() {
            first_userinfo
        } else {
            return Err(format!(
                "URL number {} of the list has a user or password: only the first URL may, and its are used for every node",
                i + 1
            ));
        };
        for host in parts.hosts.split(',') {
            match host.trim() {
                "" => return Err(format!("an empty host in the list `{}`", parts.hosts)),
                host => out.push(format!("{}://{userinfo}{host}{}", parts.scheme, parts.tail)),
            }
        }
    }
    // One URL naming one host stays exactly as written.
    if out.len() == 1 {
        return Ok(vec![url.to_string()]);
    }
    Ok(out)
}

/// A TCP Redis URL cut where a host list can be: `scheme://` `userinfo@` `hosts` `tail`.
pub(super) struct UrlParts<'a> {
    pub(super) scheme: &'a str,
    /// With its `@`, or empty.
    pub(super) userinfo: &'a str,
    pub(super) hosts: &'a str,
    /// The path, options and fragment.
    pub(super) tail: &'a str,
}

impl<'a> UrlParts<'a> {
    /// `host:port` to open a TCP connection to (Redis' port when the URL names none).
    pub(super) fn tcp_address(&self) -> String {
        let has_port = self
            .hosts
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        if has_port {
            self.hosts.to_string()
        } else {
            format!("{}:6379", self.hosts)
        }
    }

    pub(super) fn of(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "redis" | "rediss" | "valkey" | "valkeys"
        ) {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => authority.split_at(at + 1),
            None => ("", authority),
        };
        Some(UrlParts {
            scheme,
            userinfo,
            hosts,
            tail,
        })
    }
}

/// The database a Redis URL names: the number in its path (`redis://host/5`) or its `?db=`
/// (`redis://host?db=5`, `redis+unix:///run/redis.sock?db=5`), 0 when it names none. A path
/// and a `?db=` that disagree are refused: which one the app's client reads is not ours to
/// guess on a delete.
pub fn database(url: &str) -> std::result::Result<u32, String> {
    let query_db = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("db="))
        .next_back();
    let parse = |text: &str, whence: &str| {
        text.parse::<u32>()
            .map_err(|_| format!("{whence} `{text}` is not a database number"))
    };
    let query_db = query_db.map(|d| parse(d, "?db=")).transpose()?;
    let path_db = match UrlParts::of(url) {
        Some(parts) => {
            let path = parts.tail.split(['?', '#']).next().unwrap_or_default();
            match path.trim_matches('/') {
                "" => None,
                n => Some(parse(n, "the path")?),
            }
        }
        None => None,
    };
    match (path_db, query_db) {
        (Some(p), Some(q)) if p != q => Err(format!(
            "it names database {p} in its path and {q} in `?db=`; keep one"
        )),
        (p, q) => Ok(p.or(q).unwrap_or(0)),
    }
}

/// A TCP URL's `?db=N` moved into its path, where the redis crate reads it (it reads
/// `?db=` only on unix sockets, and would use database 0).
pub(super) fn db_in_path(url: &str) -> std::result::Result<Cow<'_, str>, String> {
    let db = database(url)?;
    let Some(parts) = UrlParts::of(url) else {
        return Ok(Cow::Borrowed(url));
    };
    let Some((_, query)) = parts.tail.split_once('?') else {
        return Ok(Cow::Borrowed(url));
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, format!("#{f}")),
        None => (query, String::new()),
    };
    if !query.split('&').any(|pair| pair.starts_with("db=")) {
        return Ok(Cow::Borrowed(url));
    }
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("db="))
        .collect();
    let query = if rest.is_empty() {
        String::new()
    } else {
        format!("?{}", rest.join("&"))
    };
    Ok(Cow::Owned(format!(
        "{}://{}{}/{db}{query}{fragment}",
        parts.scheme, parts.userinfo, parts.hosts
    )))
}

/// A unix socket URL with `password=` / `username=` spelled the way the redis crate reads
/// them (`pass=` / `user=`): it would silently ignore the long names.
pub(super) fn unix_aliases(url: &str) -> Cow<'_, str> {
    let is_unix = url
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().ends_with("unix"));
    let Some((base, query)) = url.split_once('?').filter(|_| is_unix) else {
        return Cow::Borrowed(url);
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let has = |key: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    };
    let renamed: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "password" if !has("pass") => format!("pass={value}"),
                "username" if !has("user") => format!("user={value}"),
                _ => pair.to_string(),
            }
        })
        .collect();
    let mut out = format!("{base}?{}", renamed.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{seeds, unix_aliases};

    #[test]
    fn seed_lists() {
        let one = |u: &str| vec![u.to_string()];
        for single in [
            "redis://localhost:6379",
            "redis://:pa,ss@host:6379/2",
            "redis://host:6379/0?name=a,b",
            "redis+unix:///tmp/a,b.sock?db=1",
            "not a url, really",
        ] {
            assert_eq!(seeds(single).unwrap(), one(single), "{single}");
        }
        assert_eq!(
            seeds("redis://:p,w@h1:7000,h2:7001 , [::1]:7002/0?protocol=resp3").unwrap(),
            [
                "redis://:p,w@h1:7000/0?protocol=resp3",
                "redis://:p,w@h2:7001/0?protocol=resp3",
                "redis://:p,w@[::1]:7002/0?protocol=resp3",
            ]
        );
        assert_eq!(
            seeds("rediss://u:a,b@h1:7000,rediss://h2:7001/1, rediss://h3,h4").unwrap(),
            [
                "rediss://u:a,b@h1:7000",
                "rediss://u:a,b@h2:7001/1",
                "rediss://u:a,b@h3",
                "rediss://u:a,b@h4"
            ]
        );
        assert_eq!(
            seeds("redis://h1:7000,redis://h2:7001").unwrap(),
            ["redis://h1:7000", "redis://h2:7001"]
        );
        let refused = seeds("redis://:one@h1:7000,redis://:two@h2:7001").unwrap_err();
        assert!(
            refused.contains("URL number 2") && !refused.contains("two"),
            "{refused}"
        );
        assert!(seeds("redis://h1:7000,,h2:7001").is_err());
        assert!(seeds("redis://h1:7000,").is_err());
        assert!(seeds("redis://h1:7000,redis://h2,").is_err());
    }

    #[test]
    fn every_accepted_seed_list_is_masked_whole() {
        for accepted in [
            "redis://:one@h1:7000,h2:7001",
            "redis://u:one@h1:7000,redis://h2:7001,redis://h3:7002/0?protocol=3",
        ] {
            assert!(seeds(accepted).is_ok());
            assert!(!crate::url::mask(accepted).contains("one"), "{accepted}");
        }
        // A refused list is still masked URL by URL wherever it is shown.
        assert!(seeds("redis://:one@h1:7000,redis://:two@h2:7001").is_err());
        assert_eq!(
            crate::url::mask("redis://:one@h1:7000,redis://u:two@h2:7001"),
            "redis://:****@h1:7000,redis://u:****@h2:7001"
        );
    }

    #[test]
    fn unix_urls_take_long_parameter_names() {
        assert_eq!(
            unix_aliases("redis+unix:///tmp/r.sock?db=2&password=s&username=u"),
            "redis+unix:///tmp/r.sock?db=2&pass=s&user=u"
        );
        for unchanged in [
            "redis+unix:///tmp/r.sock?db=2&pass=s",
            "redis+unix:///tmp/r.sock?pass=a&password=b",
            "redis://h/?password=x",
            "unix:///tmp/r.sock",
        ] {
            assert_eq!(unix_aliases(unchanged), unchanged);
        }
    }
}
