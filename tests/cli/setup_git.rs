//! `.env` is kept out of git the way git itself decides it: negations, excludes outside
//! `.gitignore`, and a `.env` that git already tracks.

use std::process::Command;

use crate::support::project::Project;
use crate::support::run::{Says, run, stdout};

/// `git <args>` in the project; it must succeed.
fn git(p: &Project, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(p.root())
        .output()
        .expect("run git (install git to run these tests)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether git, asked in the project, ignores `.env`.
fn git_ignores_env(p: &Project) -> bool {
    Command::new("git")
        .args(["check-ignore", "-q", "--", ".env"])
        .current_dir(p.root())
        .status()
        .expect("run git")
        .success()
}

#[test]
fn a_later_negation_is_not_taken_for_ignored() {
    for in_repo in [false, true] {
        let p = Project::new();
        p.write(".gitignore", "/lib\n.env\n!.env\n");
        if in_repo {
            git(&p, &["init", "-q"]);
        }
        let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
        assert!(
            stdout(&out).contains("   update  .gitignore"),
            "in a repository: {in_repo}: {}",
            stdout(&out)
        );
        assert_eq!(p.read(".gitignore"), "/lib\n.env\n!.env\n.env\n");
        if !in_repo {
            git(&p, &["init", "-q"]);
        }
        assert!(git_ignores_env(&p), "git does not ignore .env");
    }
}

#[test]
fn an_exclude_outside_gitignore_counts() {
    let p = Project::new();
    git(&p, &["init", "-q"]);
    p.write(".git/info/exclude", ".env\n");
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
    assert!(!p.exists(".gitignore"), "{}", stdout(&out));
    assert!(git_ignores_env(&p));
}

#[test]
fn a_tracked_env_file_is_refused_with_the_fix() {
    let p = Project::new();
    git(&p, &["init", "-q"]);
    p.write(".env", "DATABASE_URL=sqlite3://./db/app.db\n");
    git(&p, &["add", ".env"]);
    let before = p.tree();
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 1);
    out.warns(&["is tracked by git, so a secret written there would be committed; untrack it with `git rm --cached .env`"]);
    assert_eq!(p.tree(), before, "nothing may change");

    // Untracked as the error says, setup goes through and git ignores the file.
    git(&p, &["rm", "-q", "--cached", ".env"]);
    run(p.cmd().args(["setup", "-b", "memory"]), 0);
    assert!(git_ignores_env(&p));
    assert!(p.read(".env").contains("SESSION_SECRET="));
}

/// A project in `app/` below the root of a temporary directory.
fn nested_project() -> Project {
    let p = Project::empty();
    p.write(
        "app/shard.yml",
        "name: myapp\nversion: 0.1.0\n\ndependencies:\n  azu:\n    github: azutoolkit/azu\n",
    );
    p
}

/// Whether git, asked in `app/`, ignores `app/.env`.
fn git_ignores_app_env(p: &Project) -> bool {
    Command::new("git")
        .args(["check-ignore", "-q", "--", ".env"])
        .current_dir(p.path("app"))
        .status()
        .expect("run git")
        .success()
}

#[test]
fn a_project_below_a_repository_whose_gitignore_ignores_env_adds_nothing() {
    let p = nested_project();
    git(&p, &["init", "-q"]);
    p.write(".gitignore", ".env\n");
    let out = run(
        p.cmd()
            .args(["setup", "-b", "memory", "-C"])
            .arg(p.path("app")),
        0,
    );
    assert!(!p.exists("app/.gitignore"), "{}", stdout(&out));
    assert_eq!(p.read(".gitignore"), ".env\n");
    assert!(p.read("app/.env").contains("SESSION_SECRET="));
    assert!(git_ignores_app_env(&p));
}

#[test]
fn a_nested_gitignore_that_unignores_env_gets_the_ignore_added() {
    let p = nested_project();
    git(&p, &["init", "-q"]);
    p.write(".gitignore", ".env\n");
    p.write("app/.gitignore", "/lib\n!.env\n");
    assert!(!git_ignores_app_env(&p), "the test's premise");
    let out = run(
        p.cmd()
            .args(["setup", "-b", "memory", "-C"])
            .arg(p.path("app")),
        0,
    );
    assert!(
        stdout(&out).contains("   update  .gitignore"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.read("app/.gitignore"), "/lib\n!.env\n.env\n");
    assert_eq!(p.read(".gitignore"), ".env\n");
    assert!(git_ignores_app_env(&p), "git does not ignore app/.env");

    // A .env the repository tracks in the nested project is refused, as at the root.
    let p = nested_project();
    git(&p, &["init", "-q"]);
    p.write("app/.env", "A=1\n");
    git(&p, &["add", "app/.env"]);
    let before = p.tree();
    let out = run(
        p.cmd()
            .args(["setup", "-b", "memory", "-C"])
            .arg(p.path("app")),
        1,
    );
    out.warns(&["is tracked by git, so a secret written there would be committed; untrack it with `git rm --cached .env`"]);
    assert_eq!(p.tree(), before, "nothing may change");
}

/// Outside a repository only the project's own `.gitignore` counts: git reads no
/// `.gitignore` above the repository a later `git init` in the project makes.
#[test]
fn outside_a_repository_a_parent_gitignore_does_not_count() {
    let p = nested_project();
    p.write(".gitignore", ".env\n");
    let out = run(
        p.cmd()
            .args(["setup", "-b", "memory", "-C"])
            .arg(p.path("app")),
        0,
    );
    assert!(
        stdout(&out).contains("   create  .gitignore"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.read("app/.gitignore"), ".env\n");
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(p.path("app"))
        .status()
        .expect("run git");
    assert!(init.success());
    assert!(git_ignores_app_env(&p));
}
