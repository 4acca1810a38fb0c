//! Adding dependencies to shard.yml as text, so its comments, order and formatting survive.
//!
//! The file is parsed to learn what is already there; the new entries are then spliced into
//! the text of the `dependencies:` section (or a new section is appended), and the result is
//! parsed again and checked before anything is written: an edit that would change the
//! meaning of the file is refused rather than guessed at.

use std::path::Path;

use yaml_rust2::Yaml;

use crate::backend::Backend;
use crate::cli::Api;
use crate::error::{Error, Result};
use crate::project::parse_shard;

/// A shard dependency, by its name and GitHub repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub name: &'static str,
    pub github: &'static str,
    /// A version requirement written with the entry, when the generated code needs one.
    pub version: Option<&'static str>,
}

pub const SESSION: Shard = Shard {
    name: "session",
    github: "azutoolkit/session",
    version: None,
};
/// The session shard for `--api shard`: the API it writes for came with 1.0.30.
pub const SESSION_SHARD_API: Shard = Shard {
    version: Some(">= 1.0.30"),
    ..SESSION
};
pub const DB: Shard = Shard {
    name: "db",
    github: "crystal-lang/crystal-db",
    version: None,
};
pub const REDIS: Shard = Shard {
    name: "redis",
    github: "stefanwille/crystal-redis",
    version: None,
};
pub const CQL: Shard = Shard {
    name: "cql",
    github: "azutoolkit/cql",
    version: None,
};
pub const PG: Shard = Shard {
    name: "pg",
    github: "will/crystal-pg",
    version: None,
};
pub const MYSQL: Shard = Shard {
    name: "mysql",
    github: "crystal-lang/crystal-mysql",
    version: None,
};
pub const SQLITE3: Shard = Shard {
    name: "sqlite3",
    github: "crystal-lang/crystal-sqlite3",
    version: None,
};

/// The shards a backend needs with `api`'s code. For the database backend the driver follows
/// the scheme of `database_url` (PostgreSQL when it is unset or unknown); CQL runs the
/// migration, and the shard API's store talks to crystal-db itself.
pub fn required(backend: Backend, api: Api, database_url: Option<&str>) -> Vec<Shard> {
    let session = match api {
        Api::Docs => SESSION,
        Api::Shard => SESSION_SHARD_API,
    };
    match (backend, api) {
        (Backend::Redis, _) => vec![session, REDIS],
        (Backend::Memory, _) => vec![session],
        (Backend::Database, Api::Docs) => vec![session, CQL, driver_for(database_url)],
        (Backend::Database, Api::Shard) => vec![session, CQL, DB, driver_for(database_url)],
    }
}

/// The driver shard for `database_url`'s scheme.
pub fn driver_for(database_url: Option<&str>) -> Shard {
    driver_choice(database_url).0
}

/// Why the database driver is the one it is, for the next steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverReason {
    /// DATABASE_URL is not set: PostgreSQL, the default.
    NoUrl,
    /// DATABASE_URL's scheme (lower-cased) names it.
    Scheme(String),
    /// DATABASE_URL's scheme names no driver setup knows (it is not repeated: a URL
    /// without one may start with a user name): PostgreSQL, the default.
    OtherScheme,
}

/// The driver shard for `database_url`'s scheme, and why.
pub fn driver_choice(database_url: Option<&str>) -> (Shard, DriverReason) {
    let Some(url) = database_url else {
        return (PG, DriverReason::NoUrl);
    };
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    let driver = match scheme.as_str() {
        "postgres" | "postgresql" => PG,
        "mysql" | "mariadb" => MYSQL,
        "sqlite" | "sqlite3" => SQLITE3,
        _ => return (PG, DriverReason::OtherScheme),
    };
    (driver, DriverReason::Scheme(scheme))
}

/// The names of `wanted` that shard.yml lacks, and the edited text; `None` when nothing is
/// missing.
pub fn add_dependencies(path: &Path, text: &str, wanted: &[Shard]) -> Result<Option<String>> {
    let doc = parse_shard(path, text)?;
    let existing = existing_dependencies(path, &doc)?;
    let missing = missing_from(path, &doc, wanted)?;
    if missing.is_empty() {
        return Ok(None);
    }
    let edit_error = |reason: &str| Error::ShardYmlEdit {
        path: path.to_path_buf(),
        reason: reason.to_string(),
        wanted: missing
            .iter()
            .map(|s| match s.version {
                Some(v) => format!("{} (github: {}, version: {v})", s.name, s.github),
                None => format!("{} (github: {})", s.name, s.github),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    // A byte-order mark stays first, and out of the way of the splice.
    let (bom, body) = crate::project::split_bom(text);
    let has_section = !matches!(doc["dependencies"], Yaml::BadValue);
    let edited = format!(
        "{bom}{}",
        splice(body, has_section, &missing).map_err(&edit_error)?
    );

    // The edit must keep the name and every entry, and add exactly what was missing.
    let after = parse_shard(path, &edited).map_err(|_| edit_error("the result did not parse"))?;
    let after_deps = existing_dependencies(path, &after)
        .map_err(|_| edit_error("the result's dependencies are not a mapping"))?;
    let all_there = missing.iter().all(|s| after_deps.iter().any(|e| e.is(s)));
    if after["name"] != doc["name"]
        || after_deps.len() != existing.len() + missing.len()
        || !all_there
    {
        return Err(edit_error(
            "the result would not hold exactly the old and new entries",
        ));
    }
    // Nothing else may change: not even a key that refers to the section through an alias.
    let others = |d: &Yaml| match d {
        Yaml::Hash(h) => h
            .iter()
            .filter(|(k, _)| k.as_str() != Some("dependencies"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    if others(&after) != others(&doc) {
        return Err(edit_error(
            "another key refers to its `dependencies:` through an alias, and would change with it",
        ));
    }
    Ok(Some(edited))
}

/// An entry already under `dependencies:`: its key and where it comes from.
#[derive(Debug)]
struct Existing {
    key: String,
    repo: Option<String>,
}

impl Existing {
    /// Whether this entry is `shard`, in any spelling: the same key in any case, a key that is
    /// the repository's name, or a source (github/gitlab/git) naming the same repository.
    fn is(&self, shard: &Shard) -> bool {
        let key = self.key.to_ascii_lowercase();
        let repo_name = shard.github.rsplit('/').next().unwrap_or(shard.github);
        key == shard.name
            || key == repo_name
            || self.repo.as_deref().is_some_and(|r| r == shard.github)
    }
}

/// The shards of `wanted` that shard.yml's `dependencies:` lacks (by name or repository).
pub fn missing(path: &Path, text: &str, wanted: &[Shard]) -> Result<Vec<Shard>> {
    missing_from(path, &parse_shard(path, text)?, wanted)
}

fn missing_from(path: &Path, doc: &Yaml, wanted: &[Shard]) -> Result<Vec<Shard>> {
    let existing = existing_dependencies(path, doc)?;
    Ok(wanted
        .iter()
        .copied()
        .filter(|s| !existing.iter().any(|e| e.is(s)))
        .collect())
}

fn existing_dependencies(path: &Path, doc: &Yaml) -> Result<Vec<Existing>> {
    match &doc["dependencies"] {
        Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
        Yaml::Hash(h) => Ok(h
            .iter()
            .map(|(k, v)| Existing {
                key: yaml_scalar(k),
                repo: source_repo(v),
            })
            .collect()),
        _ => Err(Error::ShardYmlDependenciesNotMapping(path.to_path_buf())),
    }
}

fn yaml_scalar(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `owner/repo` (lowercase, no `.git`) from a dependency's `github:`, `gitlab:` or `git:`.
fn source_repo(entry: &Yaml) -> Option<String> {
    let raw = ["github", "gitlab", "codeberg", "bitbucket", "git"]
        .iter()
        .find_map(|k| entry[*k].as_str())?;
    let trimmed = raw.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let mut parts = trimmed.rsplit(['/', ':']);
    let repo = parts.next()?;
    let owner = parts.next()?;
    Some(format!("{owner}/{repo}").to_ascii_lowercase())
}

/// Splice `missing` into the text; `has_section` tells whether the parsed file has a
/// `dependencies:` key. Errors are reasons, wrapped by the caller.
///
/// Long because it walks shard.yml's lines once, carrying where the `dependencies:` section
/// starts and ends and its indent, to splice entries in without touching anything else.
fn splice(
    text: &str,
    has_section: bool,
    missing: &[Shard],
) -> std::result::Result<String, &'static str> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();

    let header = lines.iter().position(|l| {
        l.strip_prefix("dependencies")
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(':'))
    });

    let Some(header) = header else {
        if has_section {
            return Err(
                "its `dependencies:` key is not written plainly at the start of a line (quoted, indented, or in a flow mapping)",
            );
        }
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        if !out.is_empty() && !out.ends_with(&format!("{eol}{eol}")) {
            out.push_str(eol);
        }
        out.push_str("dependencies:");
        out.push_str(eol);
        out.push_str(&entries(missing, "  ", eol));
        return Ok(out);
    };

    // What follows `dependencies:` on its own line: nothing, a comment, or an empty value,
    // each perhaps after an anchor (`&deps`) or the mapping tag.
    let line = lines[header].trim_end_matches(['\r', '\n']);
    let after_colon = line.split_once(':').map(|(_, r)| r).unwrap_or("");
    let (value, comment) = split_comment(after_colon);
    let mut props = String::new();
    let mut rest = value.trim();
    while let Some(word) = rest
        .split([' ', '\t'])
        .next()
        .filter(|w| w.len() > 1 && (w.starts_with('&') || *w == "!!map"))
    {
        props.push(' ');
        props.push_str(word);
        rest = rest[word.len()..].trim_start();
    }
    let new_header = match rest {
        "" => None,
        "{}" | "~" | "null" | "Null" | "NULL" => {
            Some(format!("dependencies:{props}{comment}{eol}"))
        }
        _ if rest.starts_with('*') => return Err("its `dependencies:` is an alias of another key"),
        _ => return Err("its `dependencies:` is written inline"),
    };

    // The section's entries: the indented lines up to the next top-level key.
    let mut indent: Option<&str> = None;
    let mut last_content = header;
    for (i, l) in lines.iter().enumerate().skip(header + 1) {
        let body = l.trim_end_matches(['\r', '\n']);
        let stripped = body.trim_start_matches(' ');
        if stripped.is_empty() || stripped.starts_with('#') {
            continue;
        }
        if stripped.len() == body.len() {
            break; // a top-level key (or document marker): the section is over
        }
        if stripped.starts_with('\t') {
            return Err("it indents with tabs");
        }
        if indent.is_none() {
            indent = Some(&body[..body.len() - stripped.len()]);
        }
        last_content = i;
    }
    let indent = indent.unwrap_or("  ");

    let mut out = String::with_capacity(text.len() + 128);
    for (i, l) in lines.iter().enumerate() {
        if i == header {
            match &new_header {
                Some(h) => out.push_str(h),
                None => out.push_str(l),
            }
        } else {
            out.push_str(l);
        }
        if i == last_content {
            if !out.ends_with('\n') {
                out.push_str(eol);
            }
            out.push_str(&entries(missing, indent, eol));
        }
    }
    Ok(out)
}

fn entries(shards: &[Shard], indent: &str, eol: &str) -> String {
    shards
        .iter()
        .map(|s| {
            let mut entry = format!(
                "{indent}{}:{eol}{indent}{indent}github: {}{eol}",
                s.name, s.github
            );
            if let Some(v) = s.version {
                // Quoted: a plain scalar may not start with `>`.
                entry.push_str(&format!("{indent}{indent}version: \"{v}\"{eol}"));
            }
            entry
        })
        .collect()
}

/// Split a YAML line's remainder into its value and its comment (with the space before it).
fn split_comment(s: &str) -> (&str, &str) {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            let start = s[..i].trim_end().len();
            return (&s[..i], &s[start..]);
        }
    }
    (s, "")
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
