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
                let shown = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
                return Err(Error::NoShardYml(shown));
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

/// Parse shard.yml and return its `name:`.
pub fn parse_shard(path: &Path, text: &str) -> Result<Yaml> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| Error::ShardYmlInvalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    match docs.into_iter().next() {
        Some(doc @ Yaml::Hash(_)) => Ok(doc),
        Some(_) | None => Err(Error::ShardYmlInvalid {
            path: path.to_path_buf(),
            reason: "the top level is not a mapping".to_string(),
        }),
    }
}

fn app_name(path: &Path, text: &str) -> Result<String> {
    let doc = parse_shard(path, text)?;
    match &doc["name"] {
        Yaml::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(Error::ShardYmlNoName(path.to_path_buf())),
    }
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

/// Variables from the process, then from the project's `.env` for what the process lacks.
#[derive(Debug, Clone, Default)]
pub struct Env {
    dotenv: HashMap<String, String>,
}

impl Env {
    /// Load `.env` from `root` if it exists. A line that does not parse is an error naming it.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(DOTENV);
        let Some(text) = read_text_opt(&path)? else {
            return Ok(Env::default());
        };
        let mut dotenv = HashMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (k, v) = item.map_err(|e| Error::DotenvInvalid {
                path: path.clone(),
                line: bad_line(&text, &e),
            })?;
            dotenv.insert(k, v);
        }
        Ok(Env { dotenv })
    }

    /// The value of `name`: the process's, else `.env`'s. An empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|v| !v.is_empty())
    }
}
