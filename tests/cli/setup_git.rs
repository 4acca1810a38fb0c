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
