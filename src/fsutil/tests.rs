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
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::write(shared.join(".env"), "A=1\n").unwrap();
    let app = dir.path().join("app");
    fs::create_dir(&app).unwrap();
    symlink("../shared/.env", app.join("middle")).unwrap();
    symlink("middle", app.join(".env")).unwrap();

    let target = resolve(&app.join(".env")).unwrap();
    assert_eq!(
        target,
        fs::canonicalize(&shared).unwrap().join(".env"),
        "{target:?}"
    );
    write_all(&[planned(app.join(".env"), "A=2\n")]).unwrap();
    assert!(
        fs::symlink_metadata(app.join(".env"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(shared.join(".env")).unwrap(), "A=2\n");
    let mut names: Vec<_> = fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec![".env"]);
}

#[test]
fn a_prepared_change_dropped_uncommitted_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("one"), "old one").unwrap();
    let prepared = prepare(&[
        planned(dir.path().join("one"), "new one"),
        planned(dir.path().join("a/b/new"), "new"),
    ])
    .unwrap();
    // Staged next to their targets, and the replaced file linked aside.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    drop(prepared);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["one"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).unwrap(),
        "old one"
    );

    prepare(&[planned(dir.path().join("one"), "new one")])
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).unwrap(),
        "new one"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_loop_of_links_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    assert!(resolve(&dir.path().join("a")).is_err());
}

/// A directory where a file goes is found when the file it replaces is linked aside, before
/// anything is moved.
#[test]
fn a_directory_where_a_file_goes_is_refused_before_anything_moves() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("one"), "old one").unwrap();
    // A directory where the third file goes: it cannot be linked aside.
    fs::create_dir(dir.path().join("two")).unwrap();
    fs::write(dir.path().join("two/x"), "x").unwrap();
    let err = write_all(&[
        planned(dir.path().join("one"), "new one"),
        planned(dir.path().join("new"), "new"),
        planned(dir.path().join("two"), "new two"),
    ])
    .unwrap_err();
    assert!(matches!(err, Error::RenameUndone { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("one")).unwrap(),
        "old one"
    );
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["one", "two"]);
}

/// Every file and directory under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
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
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("one"), one).unwrap();
        fs::set_permissions(d.join("one"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(d.join("three"), three).unwrap();
        let targets = [d.join("one"), d.join("made/new"), d.join("three")];
        let prepared = prepare(&[
            planned(targets[0].clone(), "new one"),
            planned(targets[1].clone(), "new"),
            planned(targets[2].clone(), "new three"),
        ])
        .unwrap();
        // Staged: a temporary beside each target, and each replaced file linked aside.
        assert_eq!(tree(d).len(), 3 + 2 + 1 + 1 + 1, "k={k}: {:?}", tree(d));
        let stuck = &targets[k];
        if stuck.exists() {
            fs::remove_file(stuck).unwrap();
        }
        fs::create_dir(stuck).unwrap();
        fs::write(stuck.join("x"), "x").unwrap();

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
            assert_eq!(fs::read(d.join("one")).unwrap(), one, "k={k}");
            let mode = fs::metadata(d.join("one")).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o600, "k={k}");
        }
        if k != 2 {
            assert_eq!(fs::read(d.join("three")).unwrap(), three, "k={k}");
        }
    }
}
