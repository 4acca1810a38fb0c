//! `completions <bash|zsh|fish>` and `man`, tested in the real programs: each completion
//! script is loaded into an interactive shell running in tmux, the test types a partial
//! command and Tab, and reads the screen back. Subcommand names contain ':', which each shell
//! treats specially, so these are the tests that would catch a script that loads but does not
//! complete.
//!
//! A missing shell or tmux fails the test in CI and skips it elsewhere (see
//! `support::servers::have_binary`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::support::project::azu;
use crate::support::servers::have_binary;
use crate::support::tmux::Tmux;

/// The directory holding the built binary, put first on the shells' PATH.
fn bin_dir() -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    bin.parent()
        .expect("the binary has a parent directory")
        .to_path_buf()
}

fn have_all(binaries: &[&str], test: &str) -> bool {
    binaries.iter().all(|b| have_binary(b, test))
}

/// A shell on a real terminal, with a `HOME` and a working directory of its own and the
/// binary first on its `PATH`.
struct Terminal {
    tmux: Tmux,
    _home: TempDir,
    _cwd: TempDir,
}

impl Terminal {
    /// Start `shell` (program and arguments) and wait for it to draw a prompt.
    fn start(shell: &[&str]) -> Terminal {
        let home = tempfile::tempdir().expect("create a HOME directory");
        let cwd = tempfile::tempdir().expect("create a working directory");
        let path = std::env::join_paths(
            std::iter::once(bin_dir()).chain(
                std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ),
        )
        .expect("a PATH");
        let vars = [
            format!("HOME={}", home.path().display()),
            format!("PATH={}", path.to_string_lossy()),
            "PS1=$ ".to_string(),
        ];
        let terminal = Terminal {
            tmux: Tmux::start(cwd.path(), &vars, shell),
            _home: home,
            _cwd: cwd,
        };
        terminal.wait_for("a prompt", |screen| !screen.text.trim().is_empty());
        terminal
    }

    /// Type `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux.type_text(text);
    }

    /// Press keys by tmux name (`Tab`, `Enter`, `C-u`).
    fn press(&self, keys: &[&str]) {
        self.tmux.press(keys);
    }

    /// Poll the screen until `ready` holds; fail with the screen and the cursor.
    fn wait_for(&self, what: &str, ready: impl Fn(&Screen) -> bool) -> Screen {
        self.tmux.wait_for(
            what,
            |t| {
                let (x, y) = t.cursor();
                Screen {
                    text: t.text(),
                    x,
                    y,
                }
            },
            ready,
            |s| format!("{}\n(cursor at column {}, row {})", s.text, s.x, s.y),
        )
    }

    /// Run a command line and wait for it to finish. The marker is typed as
    /// `completion-test''-done`, so only its output matches.
    fn run(&self, line: &str) {
        let marker = "completion-test-done";
        self.type_text(&format!("{line}; echo completion-test''-done"));
        self.press(&["Enter"]);
        self.wait_for(&format!("`{line}` to finish"), |s| {
            s.text.lines().any(|l| l.trim() == marker)
        });
        self.clear();
    }

    /// Empty the command line and the screen.
    fn clear(&self) {
        self.press(&["C-e", "C-u"]);
        self.press(&["C-l"]);
        self.wait_for("an empty command line on a cleared screen", |s| {
            s.text.lines().filter(|l| !l.trim().is_empty()).count() <= 1
                && !s.cursor_line().contains("azu-session")
        });
    }

    /// Type `partial`, press `keys`, and wait until the command line reads `expected` up to
    /// the cursor.
    fn completes(&self, partial: &str, keys: &[&str], expected: &str) {
        self.type_text(partial);
        self.press(keys);
        self.wait_for(
            &format!("`{partial}` + {keys:?} to read `{expected}`"),
            |s| s.before_cursor().trim_end().ends_with(expected),
        );
        self.clear();
    }

    /// Type `partial`, press `keys`, and wait until every one of `candidates` is listed; then
    /// check none of `absent` is.
    fn lists(&self, partial: &str, keys: &[&str], candidates: &[&str], absent: &[&str]) {
        self.type_text(partial);
        self.press(keys);
        let screen = self.wait_for(
            &format!("`{partial}` + {keys:?} to list {candidates:?}"),
            |s| candidates.iter().all(|c| s.words().any(|w| w == *c)),
        );
        for word in absent {
            assert!(
                !screen.words().any(|w| w == *word),
                "`{partial}` + {keys:?} lists {word:?}:\n{}",
                screen.text
            );
        }
        self.clear();
    }
}

struct Screen {
    text: String,
    x: usize,
    y: usize,
}

impl Screen {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.text.split_whitespace()
    }

    fn cursor_line(&self) -> &str {
        self.text.lines().nth(self.y).unwrap_or_default()
    }

    /// The cursor's line, up to the cursor (so no autosuggestion drawn after it).
    fn before_cursor(&self) -> String {
        self.cursor_line().chars().take(self.x).collect()
    }
}

/// The completions every shell must offer. `list` is the key sequence that shows a list of
/// candidates (bash needs Tab twice).
fn check_completions(term: &Terminal, list: &[&str]) {
    let tab = &["Tab"];
    term.completes("azu-session session:se", tab, "azu-session session:setup");
    term.completes("azu-session session:cl", tab, "azu-session session:clear");
    term.completes(
        "azu-session session:clear --dr",
        tab,
        "azu-session session:clear --dry-run",
    );
    term.completes(
        "azu-session session:setup --backend da",
        tab,
        "azu-session session:setup --backend database",
    );
    term.lists(
        "azu-session session:setup --backend ",
        list,
        &["redis", "database", "memory"],
        &["--force", "--path"],
    );
    term.completes(
        "azu-session --format json session:cl",
        tab,
        "azu-session --format json session:clear",
    );
    term.completes(
        "azu-session session:clear -C . --dr",
        tab,
        "azu-session session:clear -C . --dry-run",
    );
    // The aliases.
    term.completes("azu-session setu", tab, "azu-session setup");
    term.completes("azu-session clea", tab, "azu-session clear");
    term.completes("azu-session clear --dr", tab, "azu-session clear --dry-run");
    term.completes(
        "azu-session setup --backend me",
        tab,
        "azu-session setup --backend memory",
    );
    term.completes(
        "azu-session completions fi",
        tab,
        "azu-session completions fish",
    );
}

#[test]
fn bash_completes_colon_subcommands_through_readline() {
    let test = "bash_completes_colon_subcommands_through_readline";
    if !have_all(&["tmux", "bash"], test) {
        return;
    }
    let term = Terminal::start(&["bash", "--norc", "--noprofile"]);
    term.run("source <(azu-session completions bash)");
    check_completions(&term, &["Tab", "Tab"]);

    // Right after the ':' readline's word is empty, yet the candidates are the subcommands.
    term.lists(
        "azu-session session:",
        &["Tab", "Tab"],
        &["setup", "clear"],
        &["completions", "man", "--help", "session:setup"],
    );
    // With the cursor inside the line.
    term.type_text("azu-session session:cl --dry-run");
    term.press(&["Left"; 10]);
    term.press(&["Tab"]);
    term.wait_for("`session:cl` to complete inside the line", |s| {
        s.cursor_line()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .ends_with("azu-session session:clear --dry-run")
    });
    term.clear();

    // The script leaves COMP_WORDBREAKS alone.
    term.type_text("[[ $COMP_WORDBREAKS == *:* ]] && echo colon-''kept");
    term.press(&["Enter"]);
    term.wait_for("COMP_WORDBREAKS to still hold ':'", |s| {
        s.text.lines().any(|l| l.trim() == "colon-kept")
    });
    term.clear();

    // And works for someone who took ':' out of it.
    term.run("COMP_WORDBREAKS=${COMP_WORDBREAKS//:}");
    term.completes(
        "azu-session session:se",
        &["Tab"],
        "azu-session session:setup",
    );
    term.completes(
        "azu-session session:clear --dr",
        &["Tab"],
        "azu-session session:clear --dry-run",
    );
}

#[test]
fn zsh_completes_colon_subcommands() {
    let test = "zsh_completes_colon_subcommands";
    if !have_all(&["tmux", "zsh"], test) {
        return;
    }
    let term = Terminal::start(&["zsh", "-f"]);
    term.run("autoload -U compinit && compinit -u && source <(azu-session completions zsh)");
    check_completions(&term, &["Tab"]);
}

#[test]
fn fish_completes_colon_subcommands() {
    let test = "fish_completes_colon_subcommands";
    if !have_all(&["tmux", "fish"], test) {
        return;
    }
    let term = Terminal::start(&["fish", "--no-config"]);
    term.run("azu-session completions fish | source");
    check_completions(&term, &["Tab"]);
}

/// fish's own completion engine, without a terminal: `complete -C` prints the candidates.
#[test]
fn fish_complete_command_lists_candidates() {
    let test = "fish_complete_command_lists_candidates";
    if !have_binary("fish", test) {
        return;
    }
    let home = tempfile::tempdir().expect("create a HOME directory");
    let cwd = tempfile::tempdir().expect("create a working directory");
    let candidates = |line: &str| -> Vec<String> {
        let path = std::env::join_paths(
            std::iter::once(bin_dir()).chain(
                std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ),
        )
        .expect("a PATH");
        let out = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!(
                "azu-session completions fish | source; complete -C '{line}'"
            ))
            .env("PATH", path)
            .env("HOME", home.path())
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .output()
            .expect("run fish");
        assert!(
            out.status.success(),
            "fish failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(candidates("azu-session session:se"), ["session:setup"]);
    assert_eq!(
        candidates("azu-session session:"),
        [
            "session:check",
            "session:clear",
            "session:rotate-secret",
            "session:setup",
            "session:stats"
        ]
    );
    assert_eq!(candidates("azu-session session:check --of"), ["--offline"]);
    assert_eq!(candidates("azu-session session:st"), ["session:stats"]);
    assert_eq!(
        candidates("azu-session session:clear --rot"),
        ["--rotate-secret"]
    );
    assert_eq!(candidates("azu-session session:clear --dr"), ["--dry-run"]);
    assert_eq!(
        candidates("azu-session session:setup --backend "),
        ["database", "memory", "redis"]
    );
    assert_eq!(
        candidates("azu-session completions "),
        ["bash", "fish", "zsh"]
    );
    assert_eq!(
        candidates("azu-session completions bash "),
        Vec::<String>::new()
    );
}

/// Every script is valid for its shell.
#[test]
fn completion_scripts_parse() {
    for (shell, check) in [
        ("bash", ["bash", "-n"]),
        ("zsh", ["zsh", "-n"]),
        ("fish", ["fish", "--no-execute"]),
    ] {
        let script = azu()
            .args(["completions", shell])
            .output()
            .expect("run azu-session");
        assert!(script.status.success());
        assert!(!script.stdout.is_empty());
        if !have_binary(shell, "completion_scripts_parse") {
            continue;
        }
        let mut child = Command::new(check[0])
            .arg(check[1])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the shell");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(&script.stdout).expect("write the script");
        }
        let out = child.wait_with_output().expect("wait for the shell");
        assert!(
            out.status.success(),
            "{shell} rejects its script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn man_page() -> String {
    let out = azu().arg("man").output().expect("run azu-session man");
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    String::from_utf8(out.stdout).expect("the man page is UTF-8")
}

#[test]
fn man_page_is_roff_describing_both_commands() {
    let page = man_page();
    assert!(page.contains(".TH azu-session 1 "), "{page}");
    for wanted in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH COMMANDS",
        ".SS session:setup",
        ".SS session:clear",
        "\\fBazu\\-session session:setup\\fR",
        "\\fBazu\\-session session:clear\\fR",
        "Alias: \\fBsetup\\fR",
        "Alias: \\fBclear\\fR",
        ".SS session:stats",
        "\\fBazu\\-session session:stats\\fR",
        "Alias: \\fBstats\\fR",
        ".SS session:rotate-secret",
        "Alias: \\fBrotate\\-secret\\fR",
        "\\-\\-rotate\\-secret",
        ".SS session:check",
        "Alias: \\fBcheck\\fR",
        "\\-\\-strict",
        "\\-\\-force",
        "\\-\\-dry\\-run",
        "\\-\\-backend",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(page.contains(wanted), "{wanted:?} missing from:\n{page}");
    }
    // No references to per-subcommand pages that are not installed.
    assert!(!page.contains("azu\\-session\\-session:setup(1)"), "{page}");
}

/// Render the page with `program args`, feeding it on stdin.
fn format_with(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let page = man_page();
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(page.as_bytes()).expect("write the page");
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"))
}

/// The formatted text, with overstrike bold (`X\bX`) and underline (`_\bX`) removed.
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for ch in text.chars() {
        if ch == '\u{8}' {
            out.pop();
        } else {
            out.push(ch);
        }
    }
    out
}

fn assert_formatted(program: &str, text: &str) {
    for wanted in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "session:setup",
        "session:clear",
        "--dry-run",
        "--force",
        "EXIT STATUS",
    ] {
        assert!(
            text.contains(wanted),
            "{program}: {wanted:?} missing from:\n{text}"
        );
    }
}

/// The optional formatters: when none is installed only the roff checks above run.
fn optional(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()));
    if !found {
        crate::support::servers::skip_optional(
            "man_page_formats",
            &format!("formatting the man page with {program}: it is not installed"),
        );
    }
    found
}

#[test]
fn man_page_formats_with_groff() {
    if !optional("groff") {
        return;
    }
    let out = format_with("groff", &["-man", "-Tutf8", "-ww"], &[]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "groff warns: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_formatted("groff", &plain(&out.stdout));
}

#[test]
fn man_page_formats_with_mandoc() {
    if !optional("mandoc") {
        return;
    }
    let out = format_with("mandoc", &["-Tutf8", "-Werror"], &[]);
    assert!(
        out.status.success(),
        "mandoc reports errors: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_formatted("mandoc", &plain(&out.stdout));
}

#[test]
fn man_page_opens_with_man_l() {
    if !optional("man") {
        return;
    }
    let out = format_with(
        "man",
        &["-l", "-"],
        &[("MANPAGER", "cat"), ("PAGER", "cat"), ("MANWIDTH", "100")],
    );
    if !out.status.success() && out.stdout.is_empty() {
        // man without a formatter (groff or mandoc) behind it cannot render anything.
        crate::support::servers::skip_optional(
            "man_page_opens_with_man_l",
            String::from_utf8_lossy(&out.stderr).trim(),
        );
        return;
    }
    assert!(
        out.status.success(),
        "man -l - failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_formatted("man -l -", &plain(&out.stdout));
}

/// `--help` says what the man page says about setup's refusal, the SQLite times, a cluster's
/// failover and resharding, and where the TLS variables come from.
#[test]
fn help_describes_the_promises() {
    let help = |args: &[&str]| {
        let out = azu().args(args).output().expect("run azu-session --help");
        assert!(out.status.success());
        // clap wraps to the terminal's width: compare the words, not the lines.
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let setup = help(&["setup", "--help"]);
    assert!(
        setup.contains("A .env that git already tracks is refused")
            && setup.contains("`git rm --cached .env`"),
        "{setup}"
    );
    let clear = help(&["clear", "--help"]);
    for said in [
        "SQLite's text and Unix-seconds values are compared as times",
        "A failover during the clear (a replica promoted to serve the same slots) is followed",
        "A resharding (slots moved between shards) ends it with exit code 1",
        "run it again to clear the rest",
        "Environment (the process's, then .env in the project root; an empty value is unset)",
        "REDIS_TLS_CERT_FILE with REDIS_TLS_KEY_FILE: a client certificate for rediss:// (a relative path in .env is from the project root)",
        "REDIS_TLS_CA_FILE CAs to trust for rediss://",
    ] {
        assert!(clear.contains(said), "{said:?} missing: {clear}");
    }
}
