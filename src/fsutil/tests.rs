use super::*;
use std::os::unix::fs::symlink;

fn planned(path: PathBuf, text: &str) -> PlannedWrite {
    PlannedWrite {
        path,
        contents: text.as_bytes().to_vec(),
        new_mode: 0o644,
    }
}

#[test]
fn writes_through_a_chain_of_links() {
    let dir = tempfile::tempdir().expect("test fixture");
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).expect("test fixture");
    fs::write(shared.join(".env"), "A=1\n").expect("test fixture");
    let app = dir.path().join("app");
    fs::create_dir(&app).expect("test fixture");
    symlink("../shared/.env", app.join("middle")).expect("test fixture");
    symlink("middle", app.join(".env")).expect("test fixture");

    let target = resolve(&app.join(".env")).expect("test fixture");
    assert_eq!(
        target,
        fs::canonicalize(&shared)
            .expect("test fixture")
            .join(".env"),
        "{target:?}"
    );
    write_all(&[planned(app.join(".env"), "A=2\n")]).expect("test fixture");
    assert!(
        fs::symlink_metadata(app.join(".env"))
            .expect("test fixture")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(shared.join(".env")).expect("test fixture"),
        "A=2\n"
    );
    let mut names: Vec<_> = fs::read_dir(&shared)
        .expect("test fixture")
        .map(|e| e.expect("test fixture").file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec![".env"]);
}

#[test]
fn a_prepared_change_dropped_uncommitted_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("test fixture");
    fs::write(dir.path().join("one"), "old one").expect("test fixture");
    let prepared = prepare(&[
        planned(dir.path().join("one"), "new one"),
        planned(dir.path().join("a/b/new"), "new"),
    ])
    .expect("test fixture");
    // Staged next to their targets, and the replaced file linked aside.
    assert_eq!(fs::read_dir(dir.path()).expect("test fixture").count(), 4);
    drop(prepared);
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("test fixture")
        .map(|e| e.expect("test fixture").file_name())
        .collect();
    assert_eq!(names, vec!["one"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).expect("test fixture"),
        "old one"
    );

    prepare(&[planned(dir.path().join("one"), "new one")])
        .expect("test fixture")
        .commit()
        .expect("test fixture");
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).expect("test fixture"),
        "new one"
    );
    assert_eq!(fs::read_dir(dir.path()).expect("test fixture").count(), 1);
}

#[test]
fn a_loop_of_links_is_an_error() {
    let dir = tempfile::tempdir().expect("test fixture");
    symlink("b", dir.path().join("a")).expect("test fixture");
    symlink("a", dir.path().join("b")).expect("test fixture");
    assert!(resolve(&dir.path().join("a")).is_err());
}

/// A path that cannot be looked at (a loop of links or an over-long name on the way to it)
/// is an error, not a file to create: only a missing file, or a file where a directory
/// should be, is left for the write to report.
#[test]
fn a_path_that_cannot_be_looked_at_is_an_error() {
    let dir = tempfile::tempdir().expect("test fixture");
    symlink("loop", dir.path().join("loop")).expect("test fixture");
    assert!(resolve(&dir.path().join("loop/.env")).is_err());
    assert!(resolve(&dir.path().join("x".repeat(300)).join(".env")).is_err());
    fs::write(dir.path().join("file"), "").expect("test fixture");
    let under_a_file = dir.path().join("file/.env");
    assert_eq!(
        resolve(&under_a_file).expect("left to the write"),
        under_a_file
    );
    let missing = dir.path().join("missing/.env");
    assert_eq!(resolve(&missing).expect("left to the write"), missing);
}

/// A bare file name is in `.`, not in ``: run as root, a new file takes the owner of its
/// directory, and `` has none to read (`fs::metadata("")` fails).
#[test]
fn a_bare_name_is_in_the_current_directory() {
    assert_eq!(parent_dir(Path::new(".env")), Path::new("."));
    assert_eq!(parent_dir(Path::new("app/.env")), Path::new("app"));
    assert!(fs::metadata("").is_err());
}

/// The directory lock is held until dropped; a path that is not a directory is not locked.
#[test]
fn the_directory_lock_keeps_another_out_until_dropped() {
    let dir = tempfile::tempdir().expect("test fixture");
    let other = File::open(dir.path()).expect("test fixture");
    let lock = lock_dir(dir.path()).expect("the lock");
    assert!(lock.is_some());
    assert!(matches!(
        other.try_lock(),
        Err(fs::TryLockError::WouldBlock)
    ));
    drop(lock);
    other.try_lock().expect("free once dropped");
    other.unlock().expect("test fixture");
    fs::write(dir.path().join("file"), "").expect("test fixture");
    assert!(
        lock_dir(&dir.path().join("file"))
            .expect("no error")
            .is_none()
    );
    assert!(
        lock_dir(&dir.path().join("missing"))
            .expect("no error")
            .is_none()
    );
}

/// A directory where a file goes is found when the file it replaces is linked aside, before
/// anything is moved.
#[test]
fn a_directory_where_a_file_goes_is_refused_before_anything_moves() {
    let dir = tempfile::tempdir().expect("test fixture");
    fs::write(dir.path().join("one"), "old one").expect("test fixture");
    // A directory where the third file goes: it cannot be linked aside.
    fs::create_dir(dir.path().join("two")).expect("test fixture");
    fs::write(dir.path().join("two/x"), "x").expect("test fixture");
    let err = write_all(&[
        planned(dir.path().join("one"), "new one"),
        planned(dir.path().join("new"), "new"),
        planned(dir.path().join("two"), "new two"),
    ])
    .unwrap_err();
    assert!(matches!(err, Error::RenameUndone { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).expect("test fixture"),
        "old one"
    );
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .expect("test fixture")
        .map(|e| {
            e.expect("test fixture")
                .file_name()
                .into_string()
                .expect("test fixture")
        })
        .collect();
    names.sort();
    assert_eq!(names, vec!["one", "two"]);
}

/// Every file and directory under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).expect("test fixture") {
            let path = e.expect("test fixture").path();
            out.push(
                path.strip_prefix(dir)
                    .expect("test fixture")
                    .display()
                    .to_string(),
            );
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A rename that fails at commit time, after the ones before it succeeded: what each earlier
/// one replaced is put back byte for byte and with its mode, what it created is removed (with
/// the directory made for it), and no temporary is left. The failure is provoked as a
/// concurrent change would: once everything is staged, the k-th target becomes a non-empty
/// directory, which no rename can replace.
#[test]
fn a_late_failed_rename_puts_back_every_earlier_file() {
    let one: &[u8] = b"old one\r\n\xff\x00";
    let three: &[u8] = b"old three\n";
    for k in 0..3 {
        let dir = tempfile::tempdir().expect("test fixture");
        let d = dir.path();
        fs::write(d.join("one"), one).expect("test fixture");
        fs::set_permissions(d.join("one"), fs::Permissions::from_mode(0o600))
            .expect("test fixture");
        fs::write(d.join("three"), three).expect("test fixture");
        let targets = [d.join("one"), d.join("made/new"), d.join("three")];
        let prepared = prepare(&[
            planned(targets[0].clone(), "new one"),
            planned(targets[1].clone(), "new"),
            planned(targets[2].clone(), "new three"),
        ])
        .expect("test fixture");
        // Staged: a temporary beside each target, and each replaced file linked aside.
        assert_eq!(tree(d).len(), 3 + 2 + 1 + 1 + 1, "k={k}: {:?}", tree(d));
        let stuck = &targets[k];
        if stuck.exists() {
            fs::remove_file(stuck).expect("test fixture");
        }
        fs::create_dir(stuck).expect("test fixture");
        fs::write(stuck.join("x"), "x").expect("test fixture");

        let err = prepared.commit().unwrap_err();
        match &err {
            Error::RenameUndone { path, .. } => assert_eq!(path, stuck, "k={k}"),
            _ => panic!("k={k}: {err}"),
        }
        // The directory made for the new file stays only when it holds the stuck one.
        let want = match k {
            0 => vec!["one", "one/x", "three"],
            1 => vec!["made", "made/new", "made/new/x", "one", "three"],
            _ => vec!["one", "three", "three/x"],
        };
        assert_eq!(tree(d), want, "k={k}");
        if k != 0 {
            assert_eq!(fs::read(d.join("one")).expect("test fixture"), one, "k={k}");
            let mode = fs::metadata(d.join("one"))
                .expect("test fixture")
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o600, "k={k}");
        }
        if k != 2 {
            assert_eq!(
                fs::read(d.join("three")).expect("test fixture"),
                three,
                "k={k}"
            );
        }
    }
}
