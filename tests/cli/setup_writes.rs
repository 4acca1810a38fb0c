//! `session:setup` writes files as their owners left them: through symbolic links, with
//! their owner, group and mode, all or nothing, one run at a time, and `.env` and shard.yml
//! edited by the rules they are read by.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::project::Project;
use crate::support::run::{Says, finish, run, spawn, stderr, stdout};
use crate::support::servers::skip;

const INITIALIZER: &str = "src/initializers/session.cr";

fn line(action: &str, path: &str) -> String {
    format!("{action:>9}  {path}")
}

/// The value dotenvy-like readers see for `KEY=value` lines (last wins), without the
/// line ending.
fn value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .map(|l| l.strip_prefix("export ").unwrap_or(l))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .next_back()
}

fn is_secret(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// Run setup expecting exit 1; the tree must be unchanged byte for byte. Returns stderr.
fn refused(p: &Project, args: &[&str]) -> String {
    let before = p.tree();
    let out = run(p.cmd().args(args), 1);
    assert_eq!(stdout(&out), "");
    let after = p.tree();
    let changed: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k)
        .chain(after.keys().filter(|k| !before.contains_key(*k)))
        .collect();
    assert!(
        changed.is_empty(),
        "{args:?}: a refused run changed the tree: {changed:?}\n{}",
        stderr(&out)
    );
    stderr(&out)
}

// ---------------------------------------------------------------------------------------------
// Symbolic links are written through
// ---------------------------------------------------------------------------------------------

#[test]
fn linked_dotenv_and_shard_yml_are_written_through_the_link() {
    let shared = tempfile::tempdir().expect("a shared directory");
    let shared_dir = fs::canonicalize(shared.path()).expect("canonical");
    fs::write(shared_dir.join(".env"), "DATABASE_URL=postgres://db/app\n").expect("write");
    fs::write(
        shared_dir.join("shard.yml"),
        "name: myapp\ndependencies:\n  azu:\n    github: azutoolkit/azu\n",
    )
    .expect("write");
    let p = Project::empty();
    symlink(shared_dir.join(".env"), p.path(".env")).expect("link .env");
    // A relative link, through a second link.
    fs::create_dir(p.path("config")).expect("mkdir");
    symlink(shared_dir.join("shard.yml"), p.path("config/shard.yml")).expect("link");
    symlink("config/shard.yml", p.path("shard.yml")).expect("link shard.yml");

    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    let o = stdout(&out);
    let env = shared_dir.join(".env");
    let shard = shared_dir.join("shard.yml");
    assert!(
        o.starts_with(&format!(
            "{}\n{} (through the link to {})\n{} (through the link to {})\n{}\n",
            line("create", INITIALIZER),
            line("update", "shard.yml"),
            shard.display(),
            line("update", ".env"),
            env.display(),
            line("create", ".gitignore"),
        )),
        "{o}"
    );
    for link in [".env", "shard.yml", "config/shard.yml"] {
        let meta = fs::symlink_metadata(p.path(link)).expect("lstat");
        assert!(meta.file_type().is_symlink(), "{link} is still a link");
    }
    let text = fs::read_to_string(&env).expect("read the shared .env");
    assert!(
        text.starts_with("DATABASE_URL=postgres://db/app\n"),
        "{text}"
    );
    assert!(
        value(&text, "SESSION_SECRET").is_some_and(|s| is_secret(&s)),
        "{text}"
    );
    let text = fs::read_to_string(&shard).expect("read the shared shard.yml");
    assert!(text.contains("  session:\n    github: azutoolkit/session\n"));
    // Nothing else appeared next to the shared files.
    let mut names: Vec<_> = fs::read_dir(&shared_dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .collect();
    names.sort();
    assert_eq!(names, vec![".env", "shard.yml"]);

    // The JSON report says so too.
    fs::remove_file(p.path(INITIALIZER)).expect("rm");
    let out = run(
        p.cmd().args(["setup", "-b", "redis", "--format", "json"]),
        0,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let notes: Vec<_> = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["note"].clone())
        .collect();
    assert_eq!(notes[0], serde_json::Value::Null);
    assert_eq!(
        notes[1],
        format!("through the link to {}", shard.display()).as_str()
    );
}

#[test]
fn a_dangling_link_is_created_at_its_target() {
    let shared = tempfile::tempdir().expect("a shared directory");
    let shared_dir = fs::canonicalize(shared.path()).expect("canonical");
    let p = Project::new();
    symlink(shared_dir.join(".env"), p.path(".env")).expect("link");
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
    out.says(&[&format!(
        "{} (through the link to {})\n",
        line("create", ".env"),
        shared_dir.join(".env").display()
    )]);
    assert!(
        fs::symlink_metadata(p.path(".env"))
            .expect("lstat")
            .file_type()
            .is_symlink()
    );
    let text = fs::read_to_string(shared_dir.join(".env")).expect("created");
    assert_eq!(
        fs::metadata(shared_dir.join(".env"))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(value(&text, "SESSION_SECRET").is_some_and(|s| is_secret(&s)));
}

#[test]
fn a_link_into_a_missing_directory_is_refused() {
    let p = Project::new();
    symlink("/nonexistent-azu-session-dir/.env", p.path(".env")).expect("link");
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 1);
    let e = stderr(&out);
    assert!(
        e.starts_with("error: cannot write `/nonexistent-azu-session-dir/.env`: "),
        "{e}"
    );
    assert_eq!(
        p.list(""),
        vec![".env".to_string(), "shard.yml".to_string()]
    );
    assert!(!Path::new("/nonexistent-azu-session-dir").exists());
}

// ---------------------------------------------------------------------------------------------
// Owner, group and mode
// ---------------------------------------------------------------------------------------------

fn owner(path: &Path) -> (u32, u32) {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

#[test]
fn files_keep_their_owner_and_new_files_get_their_directorys() {
    let p = Project::new();
    if owner(p.root()).0 != 0 {
        skip(
            "files_keep_their_owner_and_new_files_get_their_directorys",
            "not running as root",
        );
        return;
    }
    let user = (12345, 12345);
    let other = (23456, 34567);
    p.write(".env", "A=1\n");
    p.set_mode(".env", 0o640);
    p.write(".gitignore", "/lib\n");
    for rel in ["", "shard.yml", ".gitignore"] {
        chown(p.path(rel), Some(user.0), Some(user.1)).expect("chown");
    }
    // A file owned by someone else than its directory keeps that owner too.
    chown(p.path(".env"), Some(other.0), Some(other.1)).expect("chown");

    let out = run(p.cmd().args(["setup", "-b", "database"]), 0);
    let o = stdout(&out);
    assert!(o.contains(&line("update", ".env")), "{o}");
    assert_eq!(owner(&p.path(".env")), other);
    assert_eq!(p.mode(".env"), 0o640);
    for rel in [
        "shard.yml",
        ".gitignore",
        "src",
        "src/initializers",
        INITIALIZER,
        "src/db",
        "src/db/migrations",
    ] {
        assert_eq!(owner(&p.path(rel)), user, "{rel}");
    }
    let migrations = p.list("src/db/migrations");
    assert_eq!(migrations.len(), 1);
    assert_eq!(
        owner(&p.path(&format!("src/db/migrations/{}", migrations[0]))),
        user
    );
    assert_eq!(p.mode(INITIALIZER), 0o644);

    // Overwriting keeps them as well, and a set-group-id mode survives the change of owner.
    p.set_mode(INITIALIZER, 0o2664);
    chown(p.path(INITIALIZER), Some(other.0), Some(other.1)).expect("chown");
    run(p.cmd().args(["setup", "-b", "memory", "--force"]), 0);
    assert_eq!(owner(&p.path(INITIALIZER)), other);
    assert_eq!(p.mode(INITIALIZER), 0o2664);
}

/// Not root, and a writable file of another user's: replacing it would make it ours, so the
/// run is refused and nothing changes.
#[test]
fn another_users_file_is_not_taken_over() {
    let p = Project::new();
    if owner(p.root()).0 != 0 || Command::new("setpriv").arg("--help").output().is_err() {
        skip(
            "another_users_file_is_not_taken_over",
            "needs root and setpriv",
        );
        return;
    }
    // The temporary directory's parents must let uid 12345 in.
    fs::set_permissions(p.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
    p.write(".env", "A=1\n");
    p.set_mode(".env", 0o666);
    for rel in ["", "shard.yml"] {
        chown(p.path(rel), Some(12345), Some(12345)).expect("chown");
    }
    chown(p.path(".env"), Some(23456), Some(23456)).expect("chown");
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    let mut cmd = assert_cmd::Command::new("setpriv");
    cmd.args(["--reuid=12345", "--regid=12345", "--clear-groups"])
        .arg(bin)
        .current_dir(p.root());
    let before = p.tree();
    let out = cmd.args(["setup", "-b", "memory"]).output().expect("run");
    if stderr(&out).contains("Permission denied") && !stderr(&out).contains("owner") {
        // The temporary directory is not reachable by uid 12345 on this machine.
        crate::support::servers::skip_optional(
            "another_users_file_is_not_taken_over",
            &stderr(&out),
        );
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: cannot give `./.env` the owner 23456:23456 of the file it replaces or the directory it is in: Operation not permitted (os error 1); run as that user or as root (nothing was changed)\n"
    );
    assert!(p.tree() == before, "the tree changed");
    assert_eq!(owner(&p.path(".env")), (23456, 23456));
}

/// Not root: a new file is the user's own, as created, even in a directory whose group is
/// not the user's (only root gives new files their directory's owner; a user could not).
#[test]
fn a_user_who_is_not_root_makes_new_files_their_own() {
    let test = "a_user_who_is_not_root_makes_new_files_their_own";
    let p = Project::new();
    if owner(p.root()).0 != 0 || Command::new("setpriv").arg("--help").output().is_err() {
        skip(test, "needs root and setpriv");
        return;
    }
    fs::set_permissions(p.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
    chown(p.root(), Some(12345), Some(0)).expect("chown");
    chown(p.path("shard.yml"), Some(12345), Some(12345)).expect("chown");
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    let mut cmd = assert_cmd::Command::new("setpriv");
    cmd.args(["--reuid=12345", "--regid=12345", "--clear-groups"])
        .arg(bin)
        .current_dir(p.root());
    let out = cmd.args(["setup", "-b", "memory"]).output().expect("run");
    if stderr(&out).contains("Permission denied") && !stderr(&out).contains("owner") {
        crate::support::servers::skip_optional(test, &stderr(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for rel in [".env", ".gitignore", "src", INITIALIZER] {
        assert_eq!(owner(&p.path(rel)), (12345, 12345), "{rel}");
    }
}

// ---------------------------------------------------------------------------------------------
// All or nothing, when a file cannot be replaced late in the run
// ---------------------------------------------------------------------------------------------

fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether an immutable file can be made here (root on ext4 and the like).
fn chattr_works() -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let f = dir.path().join("x");
    if fs::write(&f, "x").is_err() {
        return false;
    }
    let ok = chattr("+i", &f) && fs::write(&f, "y").is_err();
    chattr("-i", &f);
    ok
}

/// Makes a file immutable, and mutable again when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: PathBuf) -> Self {
        assert!(chattr("+i", &path), "chattr +i {}", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

/// Make each file in turn impossible to replace (`chattr +i`): the files replaced before it
/// are put back, the ones created are removed, and the tree is as it was.
#[test]
fn a_file_that_cannot_be_replaced_undoes_the_whole_run() {
    if !chattr_works() {
        skip(
            "a_file_that_cannot_be_replaced_undoes_the_whole_run",
            "no chattr here",
        );
        return;
    }
    // In the order setup moves them into place.
    let files = [INITIALIZER, "shard.yml", ".env", ".gitignore"];
    for (i, stuck) in files.iter().enumerate() {
        for with_initializer in [true, false] {
            if *stuck == INITIALIZER && !with_initializer {
                continue;
            }
            let p = Project::new();
            if with_initializer {
                p.write(INITIALIZER, "# the old initializer\n");
            }
            p.write(".env", "A=1\r\n");
            p.write(".gitignore", "/lib\n");
            let _guard = Immutable::new(p.path(stuck));
            let args = ["setup", "-b", "database", "--force"];
            let e = refused(&p, &args);
            assert_eq!(
                e,
                format!(
                    "error: cannot move the new `./{stuck}` into place: Operation not permitted (os error 1); nothing was changed (every file already moved was put back), so check that file and its directory (permissions, `lsattr`) and run again\n"
                ),
                "file {i} ({stuck}) stuck, initializer there before: {with_initializer}"
            );
            if !with_initializer {
                // The directories the run made are gone again.
                assert_eq!(p.list("src"), Vec::<String>::new());
            }
        }
    }
}

/// Marks a directory append-only (`chattr +a`), and not when dropped.
struct AppendOnly(PathBuf);

impl AppendOnly {
    fn new(path: PathBuf) -> Self {
        assert!(chattr("+a", &path), "chattr +a {}", path.display());
        AppendOnly(path)
    }
}

impl Drop for AppendOnly {
    fn drop(&mut self) {
        chattr("-a", &self.0);
    }
}

/// An append-only directory (`chattr +a`) lets a file be made in it but never renamed or
/// removed: the one failure that would come after a rename (the initializer moves first,
/// then shard.yml fails), with temporaries no undo could remove. It is refused before
/// anything is made, whichever directory it is, and the tree is as it was.
#[test]
fn an_append_only_directory_is_refused_before_anything_is_made() {
    if !chattr_works() {
        skip(
            "an_append_only_directory_is_refused_before_anything_is_made",
            "no chattr here",
        );
        return;
    }
    for (stuck, with_initializer) in [(".", true), (".", false), ("src/initializers", true)] {
        let p = Project::new();
        if with_initializer {
            p.write(INITIALIZER, "# the old initializer\n");
        }
        p.write(".env", "A=1\r\n");
        let _guard = AppendOnly::new(p.path(stuck));
        let e = refused(&p, &["setup", "-b", "database", "--force"]);
        assert_eq!(
            e,
            format!(
                "error: cannot write in `{}`: the directory is append-only (`chattr +a`), so a file made in it could be neither moved into place nor removed again; nothing was changed, so run `chattr -a` on it (`lsattr -d` shows it) and run again\n",
                if stuck == "." {
                    ".".to_string()
                } else {
                    format!("./{stuck}")
                }
            ),
            "{stuck} append-only, initializer there before: {with_initializer}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// One run at a time
// ---------------------------------------------------------------------------------------------

fn parallel(p: &Project, args: &[&str], n: usize) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n).map(|_| spawn(p, args, &[])).collect();
    children
        .into_iter()
        .map(|c| finish(c, Duration::from_secs(60)))
        .collect()
}

fn count(outs: &[std::process::Output], needle: &str) -> usize {
    outs.iter().filter(|o| stdout(o).contains(needle)).count()
}

#[test]
fn parallel_runs_take_turns() {
    const N: usize = 10;
    let create = format!("{}\n", line("create", INITIALIZER));

    // Without --force: one creates, the others find the initializer and refuse.
    let p = Project::new();
    let outs = parallel(&p, &["setup", "-b", "redis"], N);
    let ok: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(ok.len(), 1, "one run succeeds");
    assert!(stdout(ok[0]).starts_with(&create), "{}", stdout(ok[0]));
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(o),
            format!("error: `{INITIALIZER}` already exists; pass --force to overwrite\n")
        );
    }
    let env = p.read(".env");
    assert_eq!(env.matches("SESSION_SECRET=").count(), 1, "{env}");

    // With --force: all succeed, one after another; one creates each file, the rest
    // overwrite the initializer and keep the others.
    let p = Project::new();
    let outs = parallel(&p, &["setup", "-b", "redis", "--force"], N);
    assert!(outs.iter().all(|o| o.status.success()));
    assert_eq!(count(&outs, &create), 1);
    assert_eq!(
        count(&outs, &format!("{}\n", line("overwrite", INITIALIZER))),
        N - 1
    );
    assert_eq!(count(&outs, &format!("{}\n", line("create", ".env"))), 1);
    assert_eq!(count(&outs, &format!("{}\n", line("keep", ".env"))), N - 1);
    assert_eq!(
        count(&outs, &format!("{}\n", line("update", "shard.yml"))),
        1
    );
    let env = p.read(".env");
    assert_eq!(env.matches("SESSION_SECRET=").count(), 1, "{env}");
    assert_eq!(env.matches("REDIS_URL=").count(), 1, "{env}");
    assert_eq!(p.read("shard.yml").matches("  session:\n").count(), 1);
    assert_eq!(p.read(".gitignore"), ".env\n");
    // No lock file or temporary is left behind.
    assert_eq!(p.list(""), vec![".env", ".gitignore", "shard.yml", "src"]);
    assert_eq!(p.list("src/initializers"), vec!["session.cr"]);
}

// ---------------------------------------------------------------------------------------------
// .env: edited by the rules it is read by
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_secret_with_a_comment_is_filled_in_place() {
    let p = Project::new();
    p.write(".env", "A=1\r\nexport SESSION_SECRET= # TODO\r\nB=2\r\n");
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
    out.says(&[&line("update", ".env")]);
    let text = p.read(".env");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert_eq!((lines[0], lines[2], lines[3]), ("A=1", "B=2", ""));
    let secret = lines[1]
        .strip_prefix("export SESSION_SECRET=")
        .and_then(|l| l.strip_suffix(" # TODO"))
        .expect("the same line, export and comment kept");
    assert!(is_secret(secret), "{text:?}");
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF kept");
}

#[test]
fn a_secret_line_inside_a_quoted_value_is_left_alone() {
    let p = Project::new();
    let cert = "CERT=\"-----BEGIN-----\nSESSION_SECRET=\n-----END-----\"\n";
    p.write(".env", &format!("{cert}export SESSION_SECRET=''\n"));
    run(p.cmd().args(["setup", "-b", "memory"]), 0);
    let text = p.read(".env");
    let rest = text
        .strip_prefix(cert)
        .expect("the quoted value is untouched");
    let secret = rest
        .strip_prefix("export SESSION_SECRET='")
        .and_then(|r| r.strip_suffix("'\n"))
        .expect("quotes and export kept");
    assert!(is_secret(secret), "{text}");

    // Only the look-alike inside the value: a new line is added instead.
    let p = Project::new();
    p.write(".env", cert);
    run(p.cmd().args(["setup", "-b", "memory"]), 0);
    let text = p.read(".env");
    let secret = text
        .strip_prefix(cert)
        .and_then(|r| r.strip_prefix("SESSION_SECRET="))
        .and_then(|r| r.strip_suffix('\n'))
        .expect("appended");
    assert!(is_secret(secret), "{text}");
}

#[test]
fn an_export_with_a_secret_is_kept() {
    let p = Project::new();
    let text = "export SESSION_SECRET=\"already\"\nexport REDIS_URL='redis://r:6379'\n";
    p.write(".env", text);
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    out.says(&[&line("keep", ".env")]);
    out.says(&["REDIS_URL is in .env (redis://r:6379)"]);
    assert_eq!(p.read(".env"), text);
}

// ---------------------------------------------------------------------------------------------
// What Crystal's YAML accepts is accepted
// ---------------------------------------------------------------------------------------------

#[test]
fn byte_order_marks_are_accepted_and_kept() {
    let p = Project::with_shard("\u{feff}name: myapp\ndependencies:\n  azu:\n    github: a/azu\n");
    p.write(".env", "\u{feff}A=1\n");
    run(p.cmd().args(["setup", "-b", "memory"]), 0);
    assert_eq!(
        p.read("shard.yml"),
        "\u{feff}name: myapp\ndependencies:\n  azu:\n    github: a/azu\n  session:\n    github: azutoolkit/session\n"
    );
    let env = p.read(".env");
    assert!(env.starts_with("\u{feff}A=1\nSESSION_SECRET="), "{env:?}");
    assert!(p.read(INITIALIZER).contains("Session storage for myapp"));
}

#[test]
fn shard_yml_forms_crystal_accepts() {
    for (shard, app) in [
        ("name:\tmyapp\nversion: 0.1.0\n", "myapp"),
        ("name: 123\n", "123"),
        (
            "name: myapp\ndescription: |\n  dependencies: none, it says\n",
            "myapp",
        ),
        (
            "name: myapp\ndependencies: &deps\n  azu:\n    github: a/azu\n",
            "myapp",
        ),
    ] {
        let p = Project::with_shard(shard);
        let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
        assert!(
            stdout(&out).contains(&line("update", "shard.yml")),
            "{shard:?}"
        );
        let text = p.read("shard.yml");
        assert!(
            text.starts_with(shard),
            "{shard:?}: every byte kept\n{text}"
        );
        assert!(
            text.ends_with("  session:\n    github: azutoolkit/session\n"),
            "{text}"
        );
        assert!(
            p.read(INITIALIZER)
                .starts_with(&format!("# Session storage for {app} (backend: memory).\n")),
            "{shard:?}"
        );
    }
}

#[test]
fn shard_yml_that_cannot_be_edited_is_refused_with_the_true_reason() {
    let p = Project::with_shard(
        "name: myapp\ndependencies: &deps\n  azu:\n    github: a/azu\ndevelopment_dependencies: *deps\n",
    );
    let e = refused(&p, &["setup", "-b", "memory"]);
    assert!(
        e.contains(
            "(another key refers to its `dependencies:` through an alias, and would change with it)"
        ),
        "{e}"
    );
    let p = Project::with_shard("name: myapp\n\"dependencies\":\n  azu:\n    github: a/azu\n");
    let e = refused(&p, &["setup", "-b", "memory"]);
    assert!(
        e.contains("not written plainly at the start of a line"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Upper-case schemes are masked
// ---------------------------------------------------------------------------------------------

#[test]
fn an_upper_case_redis_scheme_is_masked() {
    let p = Project::new();
    p.write(".env", "REDIS_URL=REDIS://s3cretpw@127.0.0.1:1\n");
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    let o = stdout(&out);
    assert!(
        o.contains("REDIS_URL is in .env (REDIS://****@127.0.0.1:1)"),
        "{o}"
    );
    assert!(!o.contains("s3cretpw"), "{o}");

    let out = p
        .cmd()
        .args(["clear", "-b", "redis", "--force"])
        .output()
        .expect("run");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("s3cretpw"), "{all}");
    assert!(all.contains("REDIS://****@127.0.0.1:1"), "{all}");
}
