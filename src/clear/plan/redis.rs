//! The Redis side of the plan: which server, and which keys, from `REDIS_URL`, the flags and
//! the store in either API (the documentation's `url:`/`prefix:`, or the shard's client and
//! its fixed `session:` prefix).

use std::path::Path;

use crate::clear::target::RedisTarget;
use crate::cli::ClearArgs;
use crate::conventions::{DEFAULT_REDIS_URL, default_prefix};
use crate::error::{Error, Result};
use crate::initializer::{Alt, Part, RedisUrl, Store};
use crate::project::{self, Env};

/// The Redis server and keys: `REDIS_URL`, else the server the store names (which must be
/// evaluable: falling back to localhost would clear another server), else the default; the
/// prefix and its SCAN pattern. `file` is where the store was read, for messages.
pub(super) fn redis_target(
    args: &ClearArgs,
    store: Option<&Store>,
    file: &str,
    env: &Env,
) -> Result<RedisTarget> {
    let url = match env.get("REDIS_URL") {
        Some(url) => url,
        None => store_url(store, file, env)?,
    };
    let masked_url = crate::url::mask(&url);
    let invalid = |reason: String| Error::RedisUrlInvalid {
        url: masked_url.clone(),
        reason,
    };
    let first = crate::clear::redis::seeds(&url)
        .map_err(invalid)?
        .into_iter()
        .next()
        .unwrap_or_default();
    let database = crate::clear::redis::database(&first).map_err(invalid)?;
    let prefix = redis_prefix(args, store, env, &args.project.path)?;
    Ok(RedisTarget {
        pattern: crate::clear::redis::pattern(&prefix),
        prefix_given: args.prefix.is_some(),
        tls: crate::clear::redis::TlsFiles::from_env(env, &args.project.path),
        url,
        masked_url,
        database,
        prefix,
    })
}

/// How to give the store's URL when the variable `name` it reads is not set: `REDIS_URL`
/// itself (whose generated fallback to localhost is only for development and test: the
/// environment is named), or another variable, which `REDIS_URL` also overrides.
fn url_unset_fix(name: &str, env: &Env) -> String {
    if name != "REDIS_URL" {
        return "; export it or REDIS_URL, or add one of them to .env".to_string();
    }
    let environment = ["AZU_ENV", "CRYSTAL_ENV"]
        .iter()
        .find_map(|var| env.get(var).map(|value| format!("{var} is `{value}`")));
    match environment {
        Some(set) => format!(
            " and {set}, where the initializer has no fallback; export REDIS_URL or add it to .env"
        ),
        None => "; export it or add it to .env".to_string(),
    }
}

/// The server the store's code connects to, when `REDIS_URL` does not say.
fn store_url(store: Option<&Store>, file: &str, env: &Env) -> Result<String> {
    let in_file = |e: Error| match e {
        Error::PrefixEnvUnset { name } => Error::RedisUrlEnvUnset(format!(
            "the store's Redis server in {file} uses `{name}`, which is not set{}",
            url_unset_fix(&name, env)
        )),
        Error::PrefixUnresolvable { expr } => Error::RedisUrlUnresolvable {
            expr,
            file: file.to_string(),
        },
        other => other,
    };
    let Some(store) = store else {
        return Ok(DEFAULT_REDIS_URL.to_string());
    };
    match store.redis_url() {
        RedisUrl::Default => Ok(DEFAULT_REDIS_URL.to_string()),
        RedisUrl::Url(alts) => resolve(&alts, env).map_err(in_file),
        RedisUrl::Parts(parts) => parts
            .url(
                |alts| resolve(alts, env),
                |reason| Error::RedisUrlUnresolvable {
                    expr: reason,
                    file: file.to_string(),
                },
            )
            .map_err(in_file),
        RedisUrl::Unresolvable(expr) => Err(in_file(Error::PrefixUnresolvable { expr })),
        // Only `Session.use_store(...)` was seen: the server is made somewhere this reader
        // did not find, and localhost may well be another server.
        RedisUrl::NotSeen => Err(Error::RedisUrlUnresolvable {
            expr: "Session.use_store(...)".to_string(),
            file: format!("{file} (which names the store's type, not its server)"),
        }),
    }
}

/// The key prefix: `--prefix`, else the store's (`prefix:`, or the shard's `session:`
/// under the client's namespace), else what setup generates for the app.
fn redis_prefix(args: &ClearArgs, store: Option<&Store>, env: &Env, root: &Path) -> Result<String> {
    let prefix = if let Some(p) = &args.prefix {
        p.clone()
    } else if let Some(store) = store {
        store.redis_prefix().resolve(|alts| resolve(alts, env))?
    } else {
        // What session:setup generates: `<app>:session:`, the app named by shard.yml.
        match project::Project::open(root) {
            Ok(p) => default_prefix(&p.app_name),
            Err(Error::NoShardYml { dir, above: None }) => return Err(Error::NoPrefix(dir)),
            Err(e) => return Err(e),
        }
    };
    if prefix.is_empty() {
        return Err(Error::EmptyPrefix);
    }
    if prefix.chars().any(char::is_control) {
        return Err(Error::PrefixControl(prefix));
    }
    Ok(prefix)
}

/// The value of an argument: the first alternative that can be had. An environment variable
/// that is unset passes to the next alternative; if none is left, the error names it.
pub(super) fn resolve(alts: &[Alt], env: &Env) -> Result<String> {
    let mut unset = None;
    for alt in alts {
        match alt {
            Alt::Env(name) => match env.get(name) {
                Some(v) => return Ok(v),
                None => {
                    unset.get_or_insert_with(|| name.clone());
                }
            },
            Alt::Literal(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Env(name) => match env.get(name) {
                            Some(v) => out.push_str(&v),
                            None => return Err(Error::PrefixEnvUnset { name: name.clone() }),
                        },
                        Part::Other(expr) => {
                            return Err(Error::PrefixUnresolvable {
                                expr: format!("#{{{expr}}}"),
                            });
                        }
                    }
                }
                return Ok(out);
            }
            Alt::Other(expr) => return Err(Error::PrefixUnresolvable { expr: expr.clone() }),
        }
    }
    Err(match unset {
        Some(name) => Error::PrefixEnvUnset { name },
        None => Error::PrefixUnresolvable {
            expr: String::new(),
        },
    })
}

/// How an argument reads, for a message that cannot quote its value.
pub(super) fn alts_text(alts: &[Alt]) -> String {
    alts.iter()
        .map(|a| match a {
            Alt::Env(n) => format!("ENV[\"{n}\"]"),
            Alt::Literal(_) => "\"...\"".to_string(),
            Alt::Other(e) => e.clone(),
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// An empty `REDIS_URL=` line in `.env` is unset: with no store, the default server.
    /// (Through the binary this would reach whatever listens on localhost:6379.)
    #[test]
    fn an_empty_redis_url_in_dotenv_falls_back_to_the_default() {
        if std::env::var("REDIS_URL").is_ok_and(|v| !v.is_empty()) {
            return; // the process's value wins, and tests do not change the environment
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "REDIS_URL=\n").unwrap();
        std::fs::write(dir.path().join("shard.yml"), "name: myapp\n").unwrap();
        let cli = Cli::try_parse_from([
            "azu-session".as_ref(),
            "clear".as_ref(),
            "-C".as_ref(),
            dir.path().as_os_str(),
        ])
        .unwrap();
        let Command::Clear { args, .. } = cli.command else {
            panic!("not a clear");
        };
        let env = Env::load(dir.path()).unwrap();
        let target = redis_target(&args, None, crate::project::INITIALIZER, &env).unwrap();
        assert_eq!(target.url, DEFAULT_REDIS_URL);
        assert_eq!(target.prefix, "myapp:session:");
    }

    /// An `Env` of the process and a `.env` holding `lines`, or `None` when the process
    /// sets one of `vars` itself (its value would win; tests do not change the environment).
    fn env_with(lines: &str, vars: &[&str]) -> Option<(tempfile::TempDir, Env)> {
        if vars
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty()))
        {
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(dir.path().join(".env"), lines).expect("write .env");
        let env = Env::load(dir.path()).expect("read .env");
        Some((dir, env))
    }

    #[test]
    fn resolve_takes_the_first_alternative_that_is_set() {
        let vars = ["AZS_TEST_UNSET_A", "AZS_TEST_B"];
        let Some((_dir, env)) = env_with("AZS_TEST_B=b-value\n", &vars) else {
            return;
        };
        let unset = || Alt::Env("AZS_TEST_UNSET_A".into());
        let b = || Alt::Env("AZS_TEST_B".into());
        let text = |t: &str| Alt::Literal(vec![Part::Text(t.into())]);
        assert_eq!(
            resolve(&[unset(), b(), text("x")], &env).ok(),
            Some("b-value".into())
        );
        assert_eq!(resolve(&[unset(), text("x")], &env).ok(), Some("x".into()));
        let joined = Alt::Literal(vec![
            Part::Text("p:".into()),
            Part::Env("AZS_TEST_B".into()),
        ]);
        assert_eq!(resolve(&[joined], &env).ok(), Some("p:b-value".into()));
        match resolve(&[unset()], &env) {
            Err(Error::PrefixEnvUnset { name }) => assert_eq!(name, "AZS_TEST_UNSET_A"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn alts_read_as_the_code_gives_them() {
        let alts = [
            Alt::Env("A".into()),
            Alt::Literal(vec![Part::Text("secret".into())]),
            Alt::Other("x.y".into()),
        ];
        assert_eq!(alts_text(&alts), "ENV[\"A\"] || \"...\" || x.y");
    }

    #[test]
    fn the_fix_for_an_unset_url_names_what_set_the_environment() {
        let vars = ["AZU_ENV", "CRYSTAL_ENV"];
        let Some((_dir, env)) = env_with("AZU_ENV=production\n", &vars) else {
            return;
        };
        assert_eq!(
            url_unset_fix("REDIS_URL", &env),
            " and AZU_ENV is `production`, where the initializer has no fallback; export REDIS_URL or add it to .env"
        );
        assert_eq!(
            url_unset_fix("CACHE_URL", &env),
            "; export it or REDIS_URL, or add one of them to .env"
        );
        let Some((_dir, env)) = env_with("", &vars) else {
            return;
        };
        assert_eq!(
            url_unset_fix("REDIS_URL", &env),
            "; export it or add it to .env"
        );
    }
}
