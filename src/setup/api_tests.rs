use super::*;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const LOCK_1031: &str = "version: 2.0\nshards:\n  azu:\n    git: https://github.com/azutoolkit/azu.git\n    version: 0.5.2\n  session:\n    git: https://github.com/azutoolkit/session.git\n    version: 1.0.31\n";

#[test]
fn the_flag_always_wins() {
    let dir = project(&[("shard.lock", "shards:\n  session:\n    version: 1.0.15\n")]);
    let chosen = choose(Some(Api::Shard), dir.path()).expect("chosen");
    assert_eq!((chosen.api, chosen.source), (Api::Shard, Source::Flag));
    let chosen = choose(Some(Api::Docs), dir.path()).expect("chosen");
    assert_eq!(chosen.api, Api::Docs);
}

#[test]
fn no_pin_means_the_documentation() {
    let dir = project(&[]);
    let chosen = choose(None, dir.path()).expect("chosen");
    assert_eq!((chosen.api, chosen.source), (Api::Docs, Source::Default));
    // A lock without the session shard pins nothing.
    let dir = project(&[(
        "shard.lock",
        "version: 2.0\nshards:\n  azu:\n    version: 0.5.2\n",
    )]);
    assert_eq!(choose(None, dir.path()).expect("chosen").api, Api::Docs);
}

#[test]
fn a_pin_at_or_after_1_0_30_means_the_shard() {
    let dir = project(&[("shard.lock", LOCK_1031)]);
    let chosen = choose(None, dir.path()).expect("chosen");
    assert_eq!(chosen.api, Api::Shard);
    assert_eq!(
        chosen.source,
        Source::Pinned {
            file: "shard.lock",
            version: "1.0.31".into()
        }
    );
    for v in ["1.0.30", "1.0.31+git.commit.0123abc", "1.1", "2.0.0"] {
        let dir = project(&[(
            "shard.lock",
            &format!("shards:\n  session:\n    version: {v}\n"),
        )]);
        assert_eq!(choose(None, dir.path()).expect(v).api, Api::Shard, "{v}");
    }
    let dir = project(&[("lib/session/shard.yml", "name: session\nversion: 1.0.30\n")]);
    assert_eq!(choose(None, dir.path()).expect("chosen").api, Api::Shard);
}

#[test]
fn a_pin_below_1_0_30_is_refused_with_the_fix() {
    for v in ["1.0.29", "1.0.15", "0.9"] {
        let dir = project(&[(
            "shard.lock",
            &format!("shards:\n  session:\n    version: {v}\n"),
        )]);
        let err = choose(None, dir.path()).expect_err(v).to_string();
        assert!(
            err.contains(&format!("pins the session shard at {v}"))
                && err.contains("shards update session")
                && err.contains("--api docs"),
            "{err}"
        );
    }
}

#[test]
fn the_lock_comes_before_the_installed_copy() {
    let dir = project(&[
        ("shard.lock", LOCK_1031),
        ("lib/session/shard.yml", "name: session\nversion: 1.0.15\n"),
    ]);
    assert_eq!(choose(None, dir.path()).expect("chosen").api, Api::Shard);
}

#[test]
fn an_unreadable_pin_is_refused_rather_than_guessed() {
    for (file, text) in [
        ("shard.lock", "shards: [unclosed\n"),
        ("shard.lock", "shards:\n  session:\n    version: main\n"),
        ("lib/session/shard.yml", "name: session\n"),
    ] {
        let dir = project(&[(file, text)]);
        let err = choose(None, dir.path()).expect_err(text).to_string();
        assert!(
            err.contains(&format!("cannot tell which session shard `{file}` pins"))
                && err.contains("--api shard"),
            "{err}"
        );
    }
}
