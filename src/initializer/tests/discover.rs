//! Finding stores in a project's own sources.

use std::fs;
use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
    fs::write(path, text).expect("a file");
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "shard.yml", "name: app\nversion: 0.1.0\n");
    dir
}

fn dev() -> impl Fn(&str) -> Option<String> {
    |_: &str| None
}

#[test]
fn authority_like_layout() {
    let dir = project();
    write(
        dir.path(),
        "src/config/session.cr",
        "Session.configure do |c|\n  c.timeout = 1.hour\n  c.session_key = \"authority.sess\"\n  c.secret = ENV.fetch(\"SESSION_SECRET\", \"K,n:U=1d\")\nend\n",
    );
    write(
        dir.path(),
        "src/config/authority.cr",
        "module Authority\n  # The session store.\n  STORE = Session::CookieStore(UserSession).provider\nend\n",
    );
    write(
        dir.path(),
        "src/app.cr",
        "require \"./config/**\"\nputs \"hi\"\n",
    );
    let d = discover(dir.path());
    assert_eq!(d.files_read, 3);
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(d.found.len(), 1);
    let Detected::One(f) = d.detect(&dev()) else {
        panic!("one store expected");
    };
    assert_eq!(f.file, Path::new("src/config/authority.cr"));
    assert_eq!(f.store.kind, StoreKind::Cookie);
    assert_eq!(f.store.holder.as_deref(), Some("STORE"));
    assert_eq!(f.place(), "src/config/authority.cr:3");
    assert_eq!(f.detected_from(), "detected from src/config/authority.cr");
    assert_eq!(
        f.store.place(dir.path()),
        "line 3 of src/config/authority.cr"
    );
}

#[test]
fn one_redis_store_in_app_cr() {
    let dir = project();
    write(
        dir.path(),
        "src/app.cr",
        "require \"session\"\nSession.use_store(Session::RedisStore(UserSession))\nSession.configure do |config|\n  config.store = Session::RedisStore(UserSession).new(client: Redis.new(url: ENV[\"REDIS_URL\"]))\nend\n",
    );
    let d = discover(dir.path());
    assert_eq!(d.found.len(), 2, "the declaration and the construction");
    let Detected::One(f) = d.detect(&dev()) else {
        panic!("one store expected");
    };
    assert_eq!((f.store.kind, f.store.line), (StoreKind::Redis, 4));
    assert_eq!(f.store.redis_prefix(), Prefix::Shard);
    assert_eq!(
        f.store.redis_url(),
        RedisUrl::Url(vec![Alt::Env("REDIS_URL".into())])
    );
}

#[test]
fn a_declaration_alone_tells_the_kind() {
    let dir = project();
    write(
        dir.path(),
        "src/config/session.cr",
        "Session.use_store(Session::MemoryStore(UserSession))\n",
    );
    let d = discover(dir.path());
    let Detected::One(f) = d.detect(&dev()) else {
        panic!("one store expected");
    };
    assert_eq!(
        (f.store.kind, f.store.form),
        (StoreKind::Memory, Form::Declared)
    );
}

#[test]
fn two_stores_of_different_kinds_conflict() {
    let dir = project();
    write(
        dir.path(),
        "src/app.cr",
        "STORE = Session::RedisStore(UserSession).new(client: Redis.new)\n",
    );
    write(
        dir.path(),
        "src/dev/store.cr",
        "\n\nDEV_STORE = Session::MemoryStore(UserSession).new\n",
    );
    let d = discover(dir.path());
    let Detected::Conflict(list) = d.detect(&dev()) else {
        panic!("a conflict expected");
    };
    let described: Vec<String> = list.iter().map(|f| f.describe()).collect();
    assert_eq!(
        described,
        [
            "RedisStore (src/app.cr:1)",
            "MemoryStore (src/dev/store.cr:3)"
        ]
    );
    let e = crate::error::Error::StoresDiffer {
        stores: described.join(", "),
    };
    assert!(e.to_string().contains("pass --backend"), "{e}");
}

#[test]
fn the_same_store_in_two_files_is_one() {
    let dir = project();
    let line = "X = Session::RedisStore(UserSession).new(client: Redis.new(url: \"redis://a\"))\n";
    write(dir.path(), "src/a.cr", line);
    write(dir.path(), "src/b.cr", line);
    let d = discover(dir.path());
    assert_eq!(d.found.len(), 2);
    let Detected::One(f) = d.detect(&dev()) else {
        panic!("one store expected");
    };
    assert_eq!(f.file, Path::new("src/a.cr"));
}

#[test]
fn conditions_for_other_environments_leave_a_store_out() {
    let dir = project();
    write(
        dir.path(),
        "src/app.cr",
        "if Azu::CONFIG.env.production?\n  S = Session::RedisStore(U).new\nelse\n  S = Session::MemoryStore(U).new\nend\n",
    );
    let d = discover(dir.path());
    let Detected::One(f) = d.detect(&dev()) else {
        panic!("one store expected: {:?}", d.detect(&dev()));
    };
    assert_eq!(f.store.kind, StoreKind::Memory);
    let prod = |n: &str| (n == CRYSTAL_ENV).then(|| "production".to_string());
    let Detected::One(f) = d.detect(&prod) else {
        panic!("one store expected");
    };
    assert_eq!(f.store.kind, StoreKind::Redis);
}

#[test]
fn stores_only_in_lib_are_ignored() {
    let dir = project();
    write(
        dir.path(),
        "lib/session/src/stores/redis_store.cr",
        "X = Session::RedisStore(T).new(client: Redis.new)\n",
    );
    write(dir.path(), "src/app.cr", "puts 1\n");
    let d = discover(dir.path());
    assert!(d.found.is_empty());
    assert!(matches!(d.detect(&dev()), Detected::None));
}

#[test]
fn links_into_lib_or_outside_are_skipped_with_a_reason() {
    let dir = project();
    write(
        dir.path(),
        "lib/session/store.cr",
        "X = Session::RedisStore(T).new\n",
    );
    let outside = tempfile::tempdir().expect("a temporary directory");
    write(outside.path(), "o.cr", "X = Session::MemoryStore(T).new\n");
    fs::create_dir_all(dir.path().join("src")).expect("src");
    std::os::unix::fs::symlink("../lib/session", dir.path().join("src/vendored")).expect("a link");
    std::os::unix::fs::symlink(outside.path().join("o.cr"), dir.path().join("src/o.cr"))
        .expect("a link");
    // A loop is read once.
    std::os::unix::fs::symlink(".", dir.path().join("src/again")).expect("a link");
    write(
        dir.path(),
        "src/app.cr",
        "Y = Session::CookieStore(T).new\n",
    );
    let d = discover(dir.path());
    assert_eq!(d.found.len(), 1, "{:?}", d.found);
    let skipped: Vec<(String, String)> = d
        .skipped
        .iter()
        .map(|s| (s.file.display().to_string(), s.reason.clone()))
        .collect();
    assert!(
        skipped.contains(&("src/o.cr".into(), "it leads outside the project".into())),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&("src/vendored".into(), "it leads into lib/".into())),
        "{skipped:?}"
    );
}

#[test]
fn commented_out_and_quoted_stores_are_ignored() {
    let dir = project();
    write(
        dir.path(),
        "src/app.cr",
        concat!(
            "# STORE = Session::RedisStore(UserSession).new(client: Redis.new)\n",
            "# config.store = Session::MemoryStore(UserSession).new\n",
            "DOC = \"config.store = Session::RedisStore(UserSession).new\"\n",
            "HELP = <<-TEXT\n  Session.use_store(Session::RedisStore(UserSession))\n  TEXT\n",
            "{% if false %}{{ \"Session::MemoryStore(U).new\" }}{% end %}\n",
        ),
    );
    let d = discover(dir.path());
    assert!(d.found.is_empty(), "{:?}", d.found);
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
}

#[test]
fn unreadable_files_are_skipped_and_the_rest_still_read() {
    let dir = project();
    write(dir.path(), "src/a.cr", "S = Session::MemoryStore(U).new\n");
    fs::write(dir.path().join("src/bin.cr"), b"\x00\x01binary").expect("a file");
    fs::write(dir.path().join("src/latin1.cr"), b"# caf\xe9\n").expect("a file");
    write(dir.path(), "src/open.cr", "x = \"never closed\n");
    write(
        dir.path(),
        "src/notes.txt",
        "S = Session::RedisStore(U).new\n",
    );
    let big = "# padding\n".repeat((MAX_FILE_BYTES as usize) / 10 + 1);
    write(dir.path(), "src/big.cr", &big);
    let d = discover(dir.path());
    assert_eq!(d.found.len(), 1);
    let files: Vec<String> = d
        .skipped
        .iter()
        .map(|s| s.file.display().to_string())
        .collect();
    assert_eq!(
        files,
        ["src/big.cr", "src/bin.cr", "src/latin1.cr", "src/open.cr"]
    );
    assert!(d.stopped.is_none());
}

#[test]
fn no_src_is_nothing_found() {
    let dir = project();
    let d = discover(dir.path());
    assert!(d.found.is_empty() && d.skipped.is_empty() && d.files_read == 0);
}

#[test]
fn reading_stops_at_the_file_bound() {
    let dir = project();
    for i in 0..=MAX_FILES {
        write(dir.path(), &format!("src/f{i:05}.cr"), "");
    }
    let d = discover(dir.path());
    assert_eq!(d.files_read, MAX_FILES);
    assert_eq!(d.stopped, Some(Limit::Files));
}
