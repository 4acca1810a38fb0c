//! A Redis clear that finds nothing under its prefix looks, briefly, for sessions under
//! another one: it never ends in a bare success while the sessions are still there.

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stderr, stdout};

#[test]
fn sessions_under_the_shards_prefix_are_named_and_never_taken() {
    let Some(server) = RedisServer::start("elsewhere_shard_prefix") else {
        return;
    };
    let p = Project::new();
    run(p.cmd().args(["setup", "-b", "redis"]), 0);
    server.plant(0, "session:", 30);
    server.plant(0, "blog:session:", 4);
    server.set(0, "cache:1");
    let env = ("REDIS_URL", server.url());

    for args in [vec!["clear", "--force"], vec!["clear", "--dry-run"]] {
        let out = run(p.cmd().args(&args).env(env.0, &env.1), 1);
        assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
        out.warns(&[
            "warning: no key matches myapp:session:*, but 30 keys match session:* (the session shard's own prefix); pass --prefix 'session:' to clear them, or --prefix 'myapp:session:' if they are not this app's\n",
            "warning: no key matches myapp:session:*, but 4 keys match blog:session:*; pass --prefix 'blog:session:' to clear them, or --prefix 'myapp:session:' if they are not this app's\n",
        ]);
        assert_eq!(server.count(0, "session:*"), 30, "{args:?} deleted them");
    }
    // The warning comes even with --quiet, and JSON carries it.
    let out = run(
        p.cmd()
            .args(["clear", "--force", "--quiet"])
            .env(env.0, &env.1),
        1,
    );
    out.warns(&["warning: no key matches myapp:session:*"]);
    let out = run(
        p.cmd()
            .args(["clear", "--force", "--format", "json"])
            .env(env.0, &env.1),
        1,
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json["cleared"], 0);
    assert_eq!(
        json["warnings"][0],
        "no key matches myapp:session:*, but 30 keys match session:* (the session shard's own prefix); pass --prefix 'session:' to clear them, or --prefix 'myapp:session:' if they are not this app's"
    );

    // Taking the advice clears them, and only them.
    run(
        p.cmd()
            .args(["clear", "--force", "--prefix", "session:"])
            .env(env.0, &env.1),
        0,
    )
    .says(&[
        "Cleared 30 session(s)\n",
        "✓ Sessions cleared successfully\n",
    ]);
    assert_eq!(server.count(0, "blog:session:*"), 4);
    assert!(server.exists(0, "cache:1"));
}

/// Keys under other apps' prefixes are named (no success line), but the clear did what it
/// was asked: exit 0. Only the shard's own prefix, where the app's sessions most likely are,
/// makes it a failure.
#[test]
fn other_apps_prefixes_are_named_without_failing_the_clear() {
    let Some(server) = RedisServer::start("elsewhere_other_apps") else {
        return;
    };
    let p = Project::new();
    server.plant(0, "blog:session:", 4);
    let out = run(
        p.cmd()
            .args(["clear", "--force"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        "Clearing sessions...\nBackend: redis\nRedis URL: ".to_string()
            + &server.url()
            + "\nClearing Redis sessions with pattern: myapp:session:*\nCleared 0 session(s)\n"
    );
    out.warns(&["warning: no key matches myapp:session:*, but 4 keys match blog:session:*"]);
    assert_eq!(server.count(0, "blog:session:*"), 4);
}

#[test]
fn a_prefix_given_on_the_command_line_is_taken_at_its_word() {
    let Some(server) = RedisServer::start("elsewhere_prefix_given") else {
        return;
    };
    let p = Project::new();
    server.plant(0, "session:", 3);
    let out = run(
        p.cmd()
            .args(["clear", "--force", "--prefix", "myapp:session:"])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&[
        "Cleared 0 session(s)\n",
        "✓ Sessions cleared successfully\n",
    ]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn nothing_anywhere_is_a_plain_success() {
    let Some(server) = RedisServer::start("elsewhere_nothing") else {
        return;
    };
    let p = Project::new();
    server.set(0, "sessions:1");
    server.set(0, "cache:session");
    let out = run(
        p.cmd()
            .args(["clear", "--force"])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&[
        "Cleared 0 session(s)\n",
        "✓ Sessions cleared successfully\n",
    ]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}
