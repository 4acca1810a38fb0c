//! The question before a clear, on a real terminal (tmux): what will be cleared is shown
//! once, then the question; once answered, the question and the answer stay on screen.

use std::path::Path;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::servers::have_binary;
use crate::support::sql::TestDb;
use crate::support::tmux::Tmux;

const QUESTION: &str =
    "Are you sure you want to clear all sessions? This will log out all users. [y/N]: ";

/// A bash on a real terminal, in `dir`, with `env`, and the binary on its `PATH`.
struct Screen(Tmux);

impl Screen {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Screen {
        let bin = assert_cmd::cargo::cargo_bin("azu-session");
        let bin_dir = bin.parent().expect("the binary's directory");
        let mut vars = vec![
            "PS1=$ ".to_string(),
            format!("PATH={}:/usr/bin:/bin", bin_dir.display()),
        ];
        vars.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        let screen = Screen(Tmux::start(dir, &vars, &["bash", "--norc", "--noprofile"]));
        screen.wait_for("a shell prompt", |s| s.starts_with('$'));
        screen
    }

    /// Type a line and press Enter.
    fn line(&self, text: &str) {
        self.0.type_text(text);
        self.0.press(&["Enter"]);
    }

    /// Wait until the screen holds what `done` looks for; a timeout shows the screen.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.0.wait_for(
            what,
            |t| t.text().trim_end().to_string(),
            |text| done(text),
            String::clone,
        )
    }
}

fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

#[test]
fn the_question_and_the_answer_stay_on_screen() {
    let test = "the_question_and_the_answer_stay_on_screen";
    if !have_binary("tmux", test) {
        return;
    }
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    server.plant(0, "myapp:session:", 5);
    let p = Project::new();
    let url = server.url();
    let screen = Screen::start(p.root(), &[("REDIS_URL", &url)]);

    screen.line("azu-session session:clear --color never");
    screen.wait_for("the question", |s| s.ends_with(QUESTION.trim_end()));
    screen.line("n");
    let text = screen.wait_for("the cancellation", |s| {
        s.contains("Operation cancelled; no sessions were cleared")
    });
    assert!(
        text.contains(&format!("{QUESTION}n\nOperation cancelled")),
        "{text}"
    );
    assert_eq!(server.count(0, "myapp:session:*"), 5);

    screen.line("clear");
    screen.line("azu-session session:clear --color never");
    screen.wait_for("the question", |s| s.ends_with(QUESTION.trim_end()));
    screen.line("y");
    let text = screen.wait_for("the clear", |s| s.contains("Sessions cleared successfully"));
    let expected = format!(
        "Clearing sessions...\nBackend: redis\n(default: no initializer store and no SESSION_BACKEND)\nRedis URL: {url}\nClearing Redis sessions with pattern: myapp:session:*\n{QUESTION}y\nCleared 5 session(s)\n✓ Sessions cleared successfully"
    );
    assert!(
        text.contains(&expected),
        "expected:\n{expected}\nscreen:\n{text}"
    );
    // Said once: not as a summary before the question and again after it.
    assert_eq!(count(&text, "Redis URL: "), 1, "{text}");
    assert_eq!(count(&text, "This will delete sessions"), 0, "{text}");
    assert_eq!(server.count(0, "myapp:session:*"), 0);
}

/// Where the lines saying what will be cleared do not reach the screen (`--quiet` hides the
/// database's, a redirected stdout takes them all), a summary on stderr comes before the
/// question instead.
#[test]
fn a_summary_comes_first_when_the_lines_went_elsewhere() {
    let test = "a_summary_comes_first_when_the_lines_went_elsewhere";
    if !have_binary("tmux", test) {
        return;
    }
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    server.plant(0, "myapp:session:", 3);
    let p = Project::new();
    let url = server.url();
    let screen = Screen::start(p.root(), &[("REDIS_URL", &url)]);

    screen.line("azu-session clear --color never > out.txt");
    let text = screen.wait_for("the question", |s| s.ends_with(QUESTION.trim_end()));
    assert!(
        text.contains(&format!(
            "This will delete sessions from redis:\n  Redis URL: {url}\n  Clearing Redis sessions with pattern: myapp:session:*\n{}",
            QUESTION.trim_end()
        )),
        "{text}"
    );
    screen.line("n");
    screen.wait_for("the cancellation", |s| s.contains("Operation cancelled"));

    // --quiet keeps a database's URL and table back: the summary says them.
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 4);
    screen.line("clear");
    screen.line(&format!(
        "DATABASE_URL='{}' azu-session clear -q -b database --color never",
        db.url
    ));
    let text = screen.wait_for("the question", |s| s.ends_with(QUESTION.trim_end()));
    assert!(
        text.contains("This will delete sessions from database:\n  Database URL: ")
            && text.contains("\n  Table: `sessions`\n"),
        "{text}"
    );
    screen.line("y");
    screen.wait_for("the clear", |s| s.contains("Cleared 4 session(s)"));
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(server.count(0, "myapp:session:*"), 3);
}

/// Ctrl-D ends the answer without a new line: the terminal stays on the question's line, so
/// the cancellation is put on a line of its own, after no answer as after a partial one
/// (`n`, then Ctrl-D twice: once to send the `n`, once for the end of input).
#[test]
fn ctrl_d_at_the_question_leaves_the_next_message_its_own_line() {
    let test = "ctrl_d_at_the_question_leaves_the_next_message_its_own_line";
    if !have_binary("tmux", test) {
        return;
    }
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    server.plant(0, "myapp:session:", 2);
    let p = Project::new();
    let url = server.url();
    let screen = Screen::start(p.root(), &[("REDIS_URL", &url)]);
    for typed in ["", "n"] {
        screen.line("clear");
        screen.line("azu-session session:clear --color never");
        screen.wait_for("the question", |s| s.ends_with(QUESTION.trim_end()));
        if !typed.is_empty() {
            screen.0.type_text(typed);
            screen.0.press(&["C-d"]);
        }
        screen.0.press(&["C-d"]);
        let text = screen.wait_for("the cancellation", |s| {
            s.contains("Operation cancelled; no sessions were cleared")
        });
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("Operation cancelled"))
            .unwrap_or_else(|| panic!("{typed:?}: not on a line of its own: {text}"));
        assert_eq!(
            lines[at - 1].trim_end(),
            format!("{QUESTION}{typed}").trim_end(),
            "{text}"
        );
        assert_eq!(server.count(0, "myapp:session:*"), 2);
    }
}
