//! `session:setup --api docs`: the generated initializer run by Crystal against a stand-in of
//! the documentation's API (`tests/fixtures/docs-standin`), and read by the tool in the same
//! environments. Where the app falls back to localhost, so does clear's plan; where the app
//! refuses to start without REDIS_URL, clear refuses too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::project::Project;
use crate::support::run::{run, stderr, stdout, text};
use crate::support::servers::have_binary;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A project set up with `--api docs -b backend`, its `.env` holding only the secret (the
/// app does not read `.env`; the tool does, so a REDIS_URL there would hide the fallback),
/// and `show.cr` built against the stand-in.
struct DocsApp {
    p: Project,
    secret: String,
    _cache: tempfile::TempDir,
}

impl DocsApp {
    fn build(backend: &str) -> DocsApp {
        let p = Project::new();
        run(p.cmd().args(["setup", "--api", "docs", "-b", backend]), 0);
        let secret = p
            .read(".env")
            .lines()
            .find_map(|l| l.strip_prefix("SESSION_SECRET=").map(str::to_string))
            .expect("setup wrote SESSION_SECRET to .env");
        p.write(".env", &format!("SESSION_SECRET={secret}\n"));
        std::os::unix::fs::symlink(fixtures().join("docs-standin"), p.path("lib"))
            .expect("link lib/ to the stand-in");
        std::fs::copy(fixtures().join("docs-app/show.cr"), p.path("show.cr"))
            .expect("copy the program");
        let cache = tempfile::tempdir().expect("a Crystal cache directory");
        let out = Command::new("crystal")
            .args(["build", "show.cr", "-o", "show"])
            .current_dir(p.root())
            .env("CRYSTAL_CACHE_DIR", cache.path())
            .output()
            .expect("run crystal");
        assert!(
            out.status.success(),
            "crystal build failed in {}:\n{}{}",
            p.root().display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        DocsApp {
            p,
            secret,
            _cache: cache,
        }
    }

    /// The app's output in `env` (and nothing else the initializer reads).
    fn show(&self, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(self.p.path("show"));
        for var in ["REDIS_URL", "DATABASE_URL", "AZU_ENV", "CRYSTAL_ENV"] {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.p.root())
            .env("SESSION_SECRET", &self.secret)
            .envs(env.iter().copied())
            .output()
            .expect("run the app")
    }

    /// What `session:check --offline` (clear's own plan, no server asked) says of the store.
    fn store_found(&self, env: &[(&str, &str)]) -> (String, String) {
        let mut cmd = self.p.cmd();
        cmd.args(["--format", "json", "check", "--offline"])
            .envs(env.iter().copied());
        let out = cmd.output().expect("run azu-session");
        let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON report");
        let check = json["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "store.found")
            .expect("a store.found check")
            .clone();
        let field = |k: &str| check[k].as_str().unwrap_or_default().to_string();
        (field("level"), field("message"))
    }
}

/// Every environment the generated Redis branch tells apart: the app's URL and clear's agree,
/// and where the app raises (naming REDIS_URL) clear refuses.
#[test]
fn the_redis_fallback_is_read_alike_by_the_app_and_by_clear() {
    if !have_binary("crystal", "docs_api_redis_fallback") {
        return;
    }
    let app = DocsApp::build("redis");
    let local = "redis://localhost:6379";
    let given = "redis://cache.internal:6380/1";
    // (environment, the URL the app uses, or None when it must refuse, and `secure`)
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, bool);
    let cases: [Case; 12] = [
        (&[], Some(local), false),
        (&[("CRYSTAL_ENV", "test")], Some(local), false),
        (&[("REDIS_URL", given)], Some(given), false),
        (&[("REDIS_URL", "")], Some(local), false),
        (
            &[("CRYSTAL_ENV", "production"), ("REDIS_URL", given)],
            Some(given),
            true,
        ),
        (&[("CRYSTAL_ENV", "production")], None, true),
        (
            &[("CRYSTAL_ENV", "production"), ("REDIS_URL", "")],
            None,
            true,
        ),
        (
            &[("AZU_ENV", "staging"), ("CRYSTAL_ENV", "development")],
            None,
            true,
        ),
        // AZU_ENV wins where set, for the store as for `secure`.
        (
            &[("AZU_ENV", "development"), ("CRYSTAL_ENV", "production")],
            Some(local),
            false,
        ),
        (&[("CRYSTAL_ENV", "nonsense")], None, true),
        // An empty variable is unset, for the app (`.presence`) as for the tool.
        (
            &[("AZU_ENV", ""), ("CRYSTAL_ENV", "production")],
            None,
            true,
        ),
        (&[("AZU_ENV", "")], Some(local), false),
    ];
    for (env, url, secure) in cases {
        let out = app.show(env);
        let (said, warned) = (text(&out.stdout), text(&out.stderr));
        match url {
            Some(url) => {
                assert!(out.status.success(), "{env:?}: the app failed:\n{warned}");
                assert_eq!(
                    said,
                    format!("store redis\nurl {url}\nprefix myapp:session:\nsecure {secure}\n"),
                    "{env:?}"
                );
                let (level, message) = app.store_found(env);
                assert_eq!(level, "ok", "{env:?}: {message}");
                assert!(
                    message.contains(&format!("{url}, prefix myapp:session:")),
                    "{env:?}: {message}"
                );
            }
            None => {
                assert!(!out.status.success(), "{env:?}: the app started:\n{said}");
                assert!(
                    warned.contains(
                        "REDIS_URL is not set; only development and test fall back to redis://localhost:6379"
                    ),
                    "{env:?}:\n{warned}"
                );
                let mut cmd = app.p.cmd();
                cmd.args(["clear", "--force"]).envs(env.iter().copied());
                let out = run(&mut cmd, 1);
                let refused = stderr(&out);
                assert!(
                    refused.contains("uses `REDIS_URL`, which is not set and ")
                        && refused.contains(
                            ", where the initializer has no fallback; export REDIS_URL or add it to .env"
                        ),
                    "{env:?}: {refused}"
                );
                assert!(!refused.contains(local), "{env:?}: {refused}");
                assert_eq!(stdout(&out), "", "{env:?}");
            }
        }
    }
}

/// The database and memory initializers load (the `require "session"` first) and set
/// `secure` by the same reading of the environment.
#[test]
fn the_other_backends_load_and_read_the_environment() {
    if !have_binary("crystal", "docs_api_other_backends") {
        return;
    }
    for (backend, store) in [
        ("database", "store database\ntable sessions\n"),
        ("memory", "store memory\n"),
    ] {
        let app = DocsApp::build(backend);
        for (env, secure) in [
            (&[][..], false),
            (&[("CRYSTAL_ENV", "production")], true),
            (&[("AZU_ENV", "test"), ("CRYSTAL_ENV", "production")], false),
        ] {
            let out = app.show(env);
            assert!(
                out.status.success(),
                "{backend} {env:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stdout),
                format!("{store}secure {secure}\n"),
                "{backend} {env:?}"
            );
        }
    }
}
