//! Faults injected for real: a tree that cannot be written, a full filesystem, servers that
//! die, hang or refuse part-way, and Ctrl-C. The tool must fail cleanly: exit 1 (130 for
//! Ctrl-C), say what happened, leave files whole and delete nothing it was not asked to.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::project::Project;
use crate::support::run::{run, text};
use crate::support::servers::in_ci;

/// Whether this machine lets the test make a directory immutable (root on ext4 and the like;
/// root ignores permission bits, so `chattr +i` is how a read-only tree is made). Outside CI a
/// machine that cannot is skipped with a note; in CI it is a failure.
fn can(what: &str, probe: impl FnOnce() -> bool, test: &str) -> bool {
    let ok = probe();
    if !ok {
        assert!(
            !in_ci(),
            "{test}: cannot {what} on this machine; CI must be able to"
        );
        eprintln!("SKIPPED {test}: cannot {what} here");
    }
    ok
}

fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes directories immutable, and mutable again when dropped (or the temporary directory
/// could not be removed).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn new(paths: &[PathBuf]) -> Self {
        for p in paths {
            assert!(chattr("+i", p), "chattr +i {}", p.display());
        }
        Immutable(paths.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            chattr("-i", p);
        }
    }
}

fn chattr_works() -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let ok = chattr("+i", dir.path()) && std::fs::write(dir.path().join("x"), "x").is_err();
    chattr("-i", dir.path());
    ok
}

/// Setup must fail with exit 1 and leave every byte (and no temporary file) behind.
fn setup_fails_cleanly(p: &Project, backend: &str, part: &str) {
    let before = p.tree();
    let out = run(p.cmd().args(["setup", "-b", backend, "--force"]), 1);
    let err = text(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains(part), "{err}");
    assert!(
        p.tree() == before,
        "the tree changed:\nbefore {:?}\nafter  {:?}",
        before.keys().collect::<Vec<_>>(),
        p.tree().keys().collect::<Vec<_>>()
    );
}

#[test]
fn setup_into_a_read_only_tree_changes_nothing() {
    if !can(
        "make a directory immutable",
        chattr_works,
        "setup_read_only",
    ) {
        return;
    }
    // The whole root read-only: not even src/ can be made.
    let p = Project::new();
    {
        let _ro = Immutable::new(&[p.root().to_path_buf()]);
        setup_fails_cleanly(&p, "database", "cannot write");
    }

    // The initializer's directory writable, the root not: the initializer is staged first,
    // then shard.yml cannot be, and the staged initializer must be taken back.
    let p = Project::new();
    p.write("src/initializers/.keep", "");
    {
        let _ro = Immutable::new(&[p.root().to_path_buf()]);
        setup_fails_cleanly(&p, "redis", "cannot write");
    }

    // The migrations directory read-only, everything else writable.
    let p = Project::new();
    p.write("src/db/migrations/.keep", "");
    {
        let _ro = Immutable::new(&[p.path("src/db/migrations")]);
        setup_fails_cleanly(&p, "database", "cannot write");
    }
}

#[test]
fn setup_with_a_file_where_a_directory_belongs_changes_nothing() {
    let p = Project::new();
    p.write("src", "not a directory");
    setup_fails_cleanly(&p, "memory", "cannot write");

    let p = Project::new();
    p.write("src/db", "not a directory");
    setup_fails_cleanly(&p, "database", "src/db/migrations`: Not a directory");
}

/// A tmpfs of `size`, unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn setup_on_a_full_filesystem_changes_nothing() {
    let mut fs = None;
    if !can(
        "mount a small tmpfs",
        || {
            fs = SmallFs::mount("256k");
            fs.is_some()
        },
        "setup_full_filesystem",
    ) {
        return;
    }
    let fs = fs.expect("mounted");
    let root = fs.path().join("app");
    std::fs::create_dir(&root).unwrap();
    // A shard.yml big enough that its rewritten copy cannot fit once the disk is filled.
    let shard = format!(
        "name: myapp\n{}dependencies:\n  azu:\n    github: azutoolkit/azu\n",
        "# padding line\n".repeat(4000)
    );
    std::fs::write(root.join("shard.yml"), &shard).unwrap();
    // Fill what is left but a few KiB.
    let mut filler = std::fs::File::create(fs.path().join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    let filler_len = std::fs::metadata(fs.path().join("filler")).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(fs.path().join("filler"))
        .unwrap()
        .set_len(filler_len.saturating_sub(8 * 1024))
        .unwrap();

    let listing = |dir: &Path| {
        let mut names: Vec<String> = walk(dir);
        names.sort();
        names
    };
    let before = listing(&root);
    let shard_before = std::fs::read(root.join("shard.yml")).unwrap();
    let out = crate::support::project::azu()
        .args(["setup", "-b", "redis", "-C"])
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot write"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(listing(&root), before, "files were left behind");
    assert_eq!(std::fs::read(root.join("shard.yml")).unwrap(), shard_before);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read a directory") {
        let path = e.expect("a directory entry").path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}
