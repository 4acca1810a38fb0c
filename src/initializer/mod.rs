//! Reading an existing `src/initializers/session.cr`: which store it configures (for the
//! current environment: `CRYSTAL_ENV`, `AZU_ENV` or any variable its conditions read), and that store's prefix, table and URL arguments.
//!
//! This module owns the API and the choice of store ([`Initializer::select`]); the reading is
//! split in three. [`lexer`] masks the text, knowing every Crystal literal, so a store name in
//! a string, heredoc, regex or comment is never taken for code, while literal values are read
//! from the original at the same offsets. [`branches`] follows the conditions each store lies
//! under. [`args`] reads a store's arguments. Relative `require`s of project files are
//! followed ([`Initializer::parse_file`]), as Crystal would, once each.

mod args;
mod branches;
mod client;
mod discover;
mod forms;
mod lexer;
mod select;
mod store;

pub use branches::cond::{AZU_ENVIRONMENTS, Branch, CRYSTAL_ENV, Test, Vars, azu_environment};
pub use client::{Client, RedisUrl, UrlParts};
pub use discover::{
    Detected, Discovery, Found, Limit, MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, SRC_DIR,
    Skipped, Walked, discover, walk_sources,
};
pub use forms::{Api, Form};
pub use store::Prefix;

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// The kinds of store the session shard offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    Redis,
    ClusteredRedis,
    Database,
    Memory,
    Cookie,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Redis => "RedisStore",
            StoreKind::ClusteredRedis => "ClusteredRedisStore",
            StoreKind::Database => "DatabaseStore",
            StoreKind::Memory => "MemoryStore",
            StoreKind::Cookie => "CookieStore",
        }
    }
}

/// One alternative of an argument's value (`a || b || "c"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alt {
    /// `ENV["NAME"]`, `ENV["NAME"]?`, `ENV.fetch("NAME")`.
    Env(String),
    /// A string literal, as text and interpolated parts.
    Literal(Vec<Part>),
    /// Anything else, as written.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `#{ENV["NAME"]}` (or `?`, or `ENV.fetch("NAME")`).
    Env(String),
    /// Any other interpolation, as written.
    Other(String),
}

/// A store constructor found in the file.
#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    /// 1-based line of the constructor.
    pub line: usize,
    pub args: Vec<(String, Vec<Alt>)>,
    /// The conditions it lies under, outermost first.
    pub branches: Vec<Branch>,
    /// The required file it is in; `None` for the file given to the parser.
    pub file: Option<PathBuf>,
    /// The configuration API it is written in.
    pub api: Api,
    /// How it is made (or only declared, by `Session.use_store`).
    pub form: Form,
    /// What it is assigned to, as written (`config.store`, `config.provider`, `STORE`), if
    /// an assignment precedes it on its line.
    pub holder: Option<String>,
    /// For a shard-API Redis store (`RedisStore`, `ClusteredRedisStore`): the client its
    /// `client:`/`pool:` argument makes. Use [`Store::redis_url`] rather than this.
    pub client: Option<Client>,
}

impl Store {
    /// The value of the first of `names` given as an argument.
    pub fn arg(&self, names: &[&str]) -> Option<&[Alt]> {
        self.args
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.as_slice())
    }

    /// Where it is, for messages: `line 3`, or `line 3 of src/initializers/store.cr`.
    pub fn place(&self, root: &Path) -> String {
        match &self.file {
            None => format!("line {}", self.line),
            Some(f) => format!(
                "line {} of {}",
                self.line,
                f.strip_prefix(root).unwrap_or(f).display()
            ),
        }
    }
}

/// Why the file could not be read as Crystal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Unterminated {
        what: &'static str,
        line: usize,
    },
    Unbalanced {
        line: usize,
    },
    TooDeep {
        line: usize,
    },
    Binary,
    /// A required file that cannot be read.
    Require {
        file: PathBuf,
        reason: String,
    },
    /// An error in a required file.
    In {
        file: PathBuf,
        error: Box<ReadError>,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Unterminated { what, line } => {
                write!(f, "the {what} on line {line} is never closed")
            }
            ReadError::Unbalanced { line } => {
                write!(f, "the parenthesis on line {line} is never closed")
            }
            ReadError::TooDeep { line } => {
                write!(f, "the literal on line {line} nests too deeply")
            }
            ReadError::Binary => f.write_str("it holds binary data, not Crystal code"),
            ReadError::Require { file, reason } => {
                write!(
                    f,
                    "it requires `{}`, which cannot be read ({reason})",
                    file.display()
                )
            }
            ReadError::In { file, error } => {
                write!(f, "in the required `{}`, {error}", file.display())
            }
        }
    }
}

/// What the file says for one environment.
#[derive(Debug, Clone)]
pub enum Selection<'a> {
    Store(&'a Store),
    /// No store constructor at all.
    NoStore,
    /// Stores exist, but none for this environment.
    NoneForEnv,
    /// Which store applies hangs on conditions this reader cannot evaluate.
    Undecidable(Undecided<'a>),
}

/// The stores that may apply, in file order, when conditions cannot be evaluated.
#[derive(Debug, Clone)]
pub struct Undecided<'a> {
    pub candidates: Vec<&'a Store>,
    /// Whether it may also be that none applies.
    pub maybe_none: bool,
    /// The conditions that could not be evaluated, as written.
    pub conditions: Vec<String>,
    /// The environment variables that would decide them (`CRYSTAL_ENV` naming no
    /// environment), if any.
    pub variables: Vec<String>,
    /// The variables the conditions it cannot evaluate read (`ENV["REGION"]` in them).
    pub reads: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Initializer {
    pub stores: Vec<Store>,
}

/// `require "./path"` in code (the path's blob keeps its quotes).
static REQUIRE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)(?:^|[;{}])[ \t]*require[ \t]+"_*""#).expect("a valid regex")
});

/// One file's stores, and the relative requires among them, in file order.
enum Item {
    Store(Store),
    Require(String, Vec<Branch>),
}

fn scan(text: &str) -> Result<Vec<Item>, ReadError> {
    if text.contains('\0') {
        return Err(ReadError::Binary);
    }
    let lexed = lexer::lex(text)?;
    let masked = lexed.masked.as_str();
    let mut points: Vec<(usize, Option<forms::Found>)> = Vec::new();
    for found in forms::find(masked) {
        points.push((found.start, Some(found)));
    }
    for m in REQUIRE_RE.find_iter(masked) {
        points.push((m.start(), None));
    }
    points.sort_by_key(|p| p.0);
    let offsets: Vec<usize> = points.iter().map(|p| p.0).collect();
    let branches = branches::branches_at(text, masked, &offsets);
    let mut items = Vec::with_capacity(points.len());
    for ((start, what), branches) in points.into_iter().zip(branches) {
        match what {
            Some(found) => {
                items.push(Item::Store(store::build(text, &lexed, &found, branches)?));
            }
            None => {
                let m = &masked[start..];
                let open = m.find('"').unwrap_or(0) + start;
                let close = masked[open + 1..].find('"').unwrap_or(0) + open + 1;
                let path = &text[open + 1..close];
                if path.starts_with("./") || path.starts_with("../") {
                    items.push(Item::Require(path.to_string(), branches));
                }
            }
        }
    }
    Ok(items)
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The files a relative `require` names, as Crystal finds them: `x.cr`, else `x/x.cr`; `x/*`
/// and `x/**` for the `.cr` files of a directory (and its subdirectories).
fn required_files(dir: &Path, req: &str) -> Result<Vec<PathBuf>, ReadError> {
    let unreadable = |file: PathBuf, e: std::io::Error| ReadError::Require {
        file,
        reason: e.to_string(),
    };
    let (base, recursive) = match req.strip_suffix("/**") {
        Some(b) => (Some(b), true),
        None => (req.strip_suffix("/*"), false),
    };
    if let Some(base) = base {
        let mut files = Vec::new();
        let mut dirs = vec![normalize(&dir.join(base))];
        while let Some(d) = dirs.pop() {
            let entries = std::fs::read_dir(&d).map_err(|e| unreadable(d.clone(), e))?;
            for entry in entries {
                let path = entry.map_err(|e| unreadable(d.clone(), e))?.path();
                if path.is_dir() {
                    if recursive {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|x| x == "cr") {
                    files.push(path);
                }
            }
        }
        files.sort();
        return Ok(files);
    }
    let plain = normalize(&dir.join(if req.ends_with(".cr") {
        req.to_string()
    } else {
        format!("{req}.cr")
    }));
    let name = Path::new(req)
        .file_name()
        .map(|n| format!("{}.cr", n.to_string_lossy()));
    let nested = name.map(|n| normalize(&dir.join(req).join(n)));
    match nested {
        Some(n) if !plain.exists() && n.exists() => Ok(vec![n]),
        _ => Ok(vec![plain]),
    }
}

impl Initializer {
    /// The stores of `text` alone; `require`s are not followed.
    pub fn parse(text: &str) -> Result<Self, ReadError> {
        let stores = scan(text)?
            .into_iter()
            .filter_map(|i| match i {
                Item::Store(s) => Some(s),
                Item::Require(..) => None,
            })
            .collect();
        Ok(Initializer { stores })
    }

    /// The stores of `text`, the file at `path`, with the project files it requires
    /// (relative `require "./x"`), each read once, in the order Crystal runs them.
    pub fn parse_file(text: &str, path: &Path) -> Result<Self, ReadError> {
        let mut seen = HashSet::new();
        seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path)));
        let mut stores = Vec::new();
        collect(text, path, None, &[], &mut seen, &mut stores)?;
        Ok(Initializer { stores })
    }
}

fn collect(
    text: &str,
    path: &Path,
    file: Option<&Path>,
    outer: &[Branch],
    seen: &mut HashSet<PathBuf>,
    stores: &mut Vec<Store>,
) -> Result<(), ReadError> {
    let in_file = |e: ReadError| match (file, e) {
        (Some(f), e @ ReadError::Unterminated { .. } | e @ ReadError::Unbalanced { .. })
        | (Some(f), e @ ReadError::TooDeep { .. } | e @ ReadError::Binary) => ReadError::In {
            file: f.to_path_buf(),
            error: Box::new(e),
        },
        (_, e) => e,
    };
    let items = scan(text).map_err(in_file)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for item in items {
        match item {
            Item::Store(mut s) => {
                s.file = file.map(Path::to_path_buf);
                s.branches.splice(0..0, outer.iter().cloned());
                stores.push(s);
            }
            Item::Require(req, branches) => {
                let mut under = outer.to_vec();
                under.extend(branches);
                for required in required_files(dir, &req)? {
                    let key = std::fs::canonicalize(&required).unwrap_or_else(|_| required.clone());
                    if !seen.insert(key) {
                        continue;
                    }
                    let bytes = std::fs::read(&required).map_err(|e| ReadError::Require {
                        file: required.clone(),
                        reason: e.to_string(),
                    })?;
                    let text = String::from_utf8(bytes).map_err(|_| ReadError::Require {
                        file: required.clone(),
                        reason: "it is not UTF-8 text".to_string(),
                    })?;
                    collect(&text, &required, Some(&required), &under, seen, stores)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
