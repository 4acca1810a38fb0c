//! Which configuration API setup writes: `--api` when given, else what the project already
//! pins. The Azu documentation's API is the default; the session shard's own releases
//! (1.0.30 and later) need different code.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::cli::Api;
use crate::error::{Error, Result};

/// The first release of the session shard with the API `--api shard` writes for
/// (`Session.use_store`, typed `config.store`).
pub const FIRST_SHARD_API: [u64; 3] = [1, 0, 30];

/// Where the pinned version is looked for, in order: what `shards install` resolved, then
/// what it installed.
const PIN_FILES: [&str; 2] = ["shard.lock", "lib/session/shard.yml"];

/// The API chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub api: Api,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    /// The project pins the shard at `version` in `file`.
    Pinned {
        file: &'static str,
        version: String,
    },
    /// Nothing pins the shard: the documentation's API.
    Default,
}

impl Source {
    /// For the report: `flag`, `default`, or the file that pins the shard.
    pub fn describe(&self) -> String {
        match self {
            Source::Flag => "flag".to_string(),
            Source::Default => "default".to_string(),
            Source::Pinned { file, .. } => file.to_string(),
        }
    }
}

/// The documentation's API, said once: the shard's releases do not compile it.
pub const DOCS_NOTE: &str = "this initializer follows the Azu documentation's session API, which the session shard's releases do not compile; `--api shard` writes code that does (session 1.0.30 or later)";

/// What to tell the user about the API chosen: the documentation's API is not the shard's,
/// and code for the shard needs it at 1.0.30 or later where the project pins it lower.
pub fn notes(chosen: &Chosen, root: &Path) -> Vec<String> {
    match chosen.api {
        Api::Docs => vec![DOCS_NOTE.to_string()],
        Api::Shard => match pinned(root) {
            Ok(Some((file, version)))
                if parse_version(&version).is_some_and(|v| v < FIRST_SHARD_API) =>
            {
                vec![format!(
                    "`{file}` pins the session shard at {version}; the code written needs 1.0.30 or later: run `shards update session`"
                )]
            }
            _ => Vec::new(),
        },
    }
}

/// `--api` wins; else a pin at 1.0.30 or later means `shard`, a pin below it is refused
/// (neither API fits it), and no pin means `docs`.
pub fn choose(flag: Option<Api>, root: &Path) -> Result<Chosen> {
    if let Some(api) = flag {
        return Ok(Chosen {
            api,
            source: Source::Flag,
        });
    }
    let Some((file, version)) = pinned(root)? else {
        return Ok(Chosen {
            api: Api::Docs,
            source: Source::Default,
        });
    };
    let unreadable = |reason: &str| Error::ShardPinUnreadable {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    let parsed = parse_version(&version)
        .ok_or_else(|| unreadable(&format!("its version `{version}` is not a release number")))?;
    if parsed < FIRST_SHARD_API {
        return Err(Error::ShardApiTooOld {
            file: file.to_string(),
            version,
        });
    }
    Ok(Chosen {
        api: Api::Shard,
        source: Source::Pinned { file, version },
    })
}

/// The session shard's version as the first pin file that names it says.
pub(crate) fn pinned(root: &Path) -> Result<Option<(&'static str, String)>> {
    for file in PIN_FILES {
        let path = root.join(file);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::read(&path, e)),
        };
        let unreadable = |reason: String| Error::ShardPinUnreadable {
            file: file.to_string(),
            reason,
        };
        let text = String::from_utf8(text).map_err(|_| unreadable("not UTF-8 text".into()))?;
        let docs = YamlLoader::load_from_str(&text)
            .map_err(|e| unreadable(format!("not valid YAML: {e}")))?;
        let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
        // shard.lock lists every shard under `shards:`; an installed shard's own shard.yml
        // has its version at the top.
        let entry = if file == "shard.lock" {
            &doc["shards"]["session"]
        } else {
            &doc
        };
        match &entry["version"] {
            Yaml::String(v) => return Ok(Some((file, v.clone()))),
            Yaml::Real(v) => return Ok(Some((file, v.clone()))),
            Yaml::Integer(v) => return Ok(Some((file, v.to_string()))),
            Yaml::BadValue | Yaml::Null if file == "shard.lock" => continue,
            _ => return Err(unreadable("it has no version for `session`".into())),
        }
    }
    Ok(None)
}

/// `1.0.31`, `1.0.31+git.commit.abc` or `v1.0.31` as `[1, 0, 31]` (missing parts are 0).
pub(crate) fn parse_version(v: &str) -> Option<[u64; 3]> {
    let v = v.trim().trim_start_matches('v');
    let release = v.split(['+', '-']).next()?;
    let mut parts = [0u64; 3];
    let mut n = 0;
    for (i, part) in release.split('.').enumerate() {
        if i >= 3 {
            break;
        }
        parts[i] = part.parse().ok()?;
        n += 1;
    }
    (n > 0).then_some(parts)
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
