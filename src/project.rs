//! The Azu project on disk: its root, its app name from shard.yml, and its environment
//! (the process's variables, then `.env` in the root for what the process lacks).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

pub const SHARD_YML: &str = "shard.yml";
pub const INITIALIZER: &str = "src/initializers/session.cr";
pub const MIGRATIONS_DIR: &str = "src/db/migrations";
pub const DOTENV: &str = ".env";
pub const GITIGNORE: &str = ".gitignore";

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub app_name: String,
    /// shard.yml as it is on disk, kept so an edit can preserve every byte it does not change.
    pub shard_yml: String,
}

impl Project {
    /// Open the project rooted at `root`: it must hold a shard.yml with a `name:`.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::NotADirectory(root.to_path_buf()));
        }
        let shard_path = root.join(SHARD_YML);
        let shard_yml = match read_text(&shard_path) {
            Ok(text) => text,
            Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                // Name the directory as an absolute path: `.` tells the user nothing.
                let dir = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
                // Only an explicit --path can miss a shard.yml above: without one, the root
                // is already the nearest directory holding it.
                let above = dir.parent().and_then(find_root);
                return Err(Error::NoShardYml { dir, above });
            }
            Err(e) => return Err(e),
        };
        let app_name = app_name(&shard_path, &shard_yml)?;
        Ok(Project {
            root: root.to_path_buf(),
            app_name,
            shard_yml,
        })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// The project root for a command run in `dir` without `--path`, as cargo finds its
/// manifest: `dir` or the nearest directory above it that holds a shard.yml; `None` when none
/// does.
pub fn find_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(SHARD_YML).is_file())
        .map(Path::to_path_buf)
}

/// The root a command given no `--path` works in, run in `cwd` (absolute): `.` when `cwd`
/// holds shard.yml (or no directory above it does: the command then works in `cwd`, as
/// before), else the directory above that holds it (`Some`, to be said on stderr).
pub fn default_root(cwd: &Path) -> Option<PathBuf> {
    find_root(cwd).filter(|root| root != cwd)
}

/// The byte-order mark some editors put first in a UTF-8 file.
pub const BOM: &str = "\u{feff}";

/// `text` split into its byte-order mark (or `""`) and the rest.
pub fn split_bom(text: &str) -> (&str, &str) {
    match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => ("", text),
    }
}

/// shard.yml's top-level mapping, parsed as Crystal's YAML (libyaml) reads it: a byte-order
/// mark is skipped, and a tab after a key's `:` separates as a space does (yaml-rust2
/// refuses it; libyaml and the YAML spec do not). Text that is not YAML, or whose first
/// document is not a mapping, is an error naming `path`.
pub fn parse_shard(path: &Path, text: &str) -> Result<Yaml> {
    let (_, text) = split_bom(text);
    let mut text = std::borrow::Cow::Borrowed(text);
    let docs = loop {
        match YamlLoader::load_from_str(&text) {
            Ok(docs) => break docs,
            Err(e) => {
                // The tab is the last `:<TAB>` on the marker's line, at or before it.
                let tab = (e.info().contains("':' must be followed by"))
                    .then(|| tab_after_colon(&text, e.marker().line(), e.marker().col()))
                    .flatten();
                match tab {
                    Some(i) => {
                        text.to_mut().replace_range(i..=i, " ");
                    }
                    _ => {
                        return Err(Error::ShardYmlInvalid {
                            path: path.to_path_buf(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
    };
    match docs.into_iter().next() {
        Some(doc @ Yaml::Hash(_)) => Ok(doc),
        Some(_) | None => Err(Error::ShardYmlInvalid {
            path: path.to_path_buf(),
            reason: "the top level is not a mapping".to_string(),
        }),
    }
}

/// The byte offset of the last tab right after a `:` on 1-based `line`, no further than
/// `col` characters in.
fn tab_after_colon(text: &str, line: usize, col: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let body = text[start..].split('\n').next()?;
    let mut prev = None;
    let mut found = None;
    for (n, (i, c)) in body.char_indices().enumerate() {
        if n > col {
            break;
        }
        if c == '\t' && prev == Some(':') {
            found = Some(start + i);
        }
        prev = Some(c);
    }
    found
}

/// The app's name from shard.yml's `name:`. A name YAML reads as a number or a boolean
/// (`name: 123`) is still a name: shards reads it as the text it is.
fn app_name(path: &Path, text: &str) -> Result<String> {
    let doc = parse_shard(path, text)?;
    let name = match &doc["name"] {
        Yaml::String(s) | Yaml::Real(s) => s.trim().to_string(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    };
    if name.is_empty() {
        return Err(Error::ShardYmlNoName(path.to_path_buf()));
    }
    Ok(name)
}

/// Read a file that must be UTF-8 text.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::read(path, e))?;
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8(path.to_path_buf()))
}

/// Read a file that may not exist.
pub fn read_text_opt(path: &Path) -> Result<Option<String>> {
    match read_text(path) {
        Ok(t) => Ok(Some(t)),
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The 1-based line of `text` that dotenvy refused (0 when it cannot be told).
fn bad_line(text: &str, err: &dotenvy::Error) -> usize {
    let dotenvy::Error::LineParse(content, _) = err else {
        return 0;
    };
    // dotenvy reports the logical line, which a quoted value can stretch over several.
    let first = content.lines().next().unwrap_or_default();
    text.lines()
        .position(|l| l == first || (!first.is_empty() && l.contains(first)))
        .map_or(0, |i| i + 1)
}

/// The variables of a `.env` text as dotenvy reads them (a later line wins over an earlier
/// one; a byte-order mark is skipped). A line that does not parse is an error naming it.
/// Everything that asks what `.env` holds asks this.
pub fn parse_dotenv(path: &Path, text: &str) -> Result<HashMap<String, String>> {
    let (_, text) = split_bom(text);
    let mut vars = HashMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (k, v) = item.map_err(|e| Error::DotenvInvalid {
            path: path.to_path_buf(),
            line: bad_line(text, &e),
        })?;
        vars.insert(k, v);
    }
    Ok(vars)
}

/// The project's `.env` as read once: its text, kept so an edit can preserve every byte it
/// does not change, and its variables as the app's loader reads them.
#[derive(Debug, Clone)]
pub struct Dotenv {
    pub path: PathBuf,
    /// `None` when the file does not exist.
    pub text: Option<String>,
    pub vars: HashMap<String, String>,
}

impl Dotenv {
    /// Read `.env` in `root`, if it exists. A line that does not parse is an error naming it.
    pub fn read(root: &Path) -> Result<Self> {
        let path = root.join(DOTENV);
        let text = read_text_opt(&path)?;
        Self::parse(path, text)
    }

    /// A `.env` text (or none) read from `path`.
    pub fn parse(path: PathBuf, text: Option<String>) -> Result<Self> {
        let vars = match &text {
            Some(text) => parse_dotenv(&path, text)?,
            None => HashMap::new(),
        };
        Ok(Dotenv { path, text, vars })
    }
}

/// Where [`Env::lookup`] found a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Process,
    Dotenv,
}

/// Variables from the process, then from the project's `.env` for what the process lacks.
#[derive(Debug, Clone)]
pub struct Env {
    dotenv: Dotenv,
}

impl Env {
    /// Load `.env` from `root` if it exists. A line that does not parse is an error naming it.
    pub fn load(root: &Path) -> Result<Self> {
        Ok(Env {
            dotenv: Dotenv::read(root)?,
        })
    }

    /// The value of `name`: the process's, else `.env`'s. An empty value counts as unset in
    /// both, so `REDIS_URL= azu-session ...` (a deploy script's unset variable) does not
    /// hide the value in `.env`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.lookup(name).map(|(value, _)| value)
    }

    /// [`Env::get`], with where the value came from.
    pub fn lookup(&self, name: &str) -> Option<(String, Origin)> {
        let from_process = std::env::var(name).ok().filter(|v| !v.is_empty());
        match from_process {
            Some(value) => Some((value, Origin::Process)),
            None => self
                .dotenv
                .vars
                .get(name)
                .filter(|v| !v.is_empty())
                .map(|v| (v.clone(), Origin::Dotenv)),
        }
    }

    /// `.env` as it was read.
    pub fn dotenv(&self) -> &Dotenv {
        &self.dotenv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Result<String> {
        app_name(Path::new("shard.yml"), text)
    }

    #[test]
    fn names_crystals_yaml_accepts() {
        assert_eq!(name("\u{feff}name: myapp\n").unwrap(), "myapp");
        assert_eq!(name("name:\tmyapp\n").unwrap(), "myapp");
        assert_eq!(name("version: 1\nname:\t\tmyapp # x\n").unwrap(), "myapp");
        assert_eq!(name("name: 123\n").unwrap(), "123");
        assert_eq!(name("name: \"a:\\tb\"\n").unwrap(), "a:\tb");
        assert!(matches!(name("name:\n"), Err(Error::ShardYmlNoName(_))));
        assert!(matches!(
            name("name: [a\n"),
            Err(Error::ShardYmlInvalid { .. })
        ));
    }

    #[test]
    fn the_root_is_the_nearest_directory_holding_shard_yml() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = dir.path().join("app");
        let deep = app.join("src/models");
        std::fs::create_dir_all(&deep).expect("mkdir");
        assert_eq!(find_root(&deep), None);
        std::fs::write(app.join(SHARD_YML), "name: app\n").expect("write");
        assert_eq!(find_root(&deep), Some(app.clone()));
        assert_eq!(default_root(&deep), Some(app.clone()));
        assert_eq!(default_root(&app), None, "the current directory stays `.`");
        // A directory named shard.yml is not a project.
        std::fs::create_dir_all(app.join("src/shard.yml")).expect("mkdir");
        assert_eq!(find_root(&deep), Some(app));
    }

    #[test]
    fn dotenv_with_a_byte_order_mark() {
        let vars = parse_dotenv(Path::new(".env"), "\u{feff}A=1\r\nB=\"x\"\r\n").unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "x");
    }
}
