//! A program on a real terminal: a detached tmux session (200 columns by 50 rows) on a tmux
//! server of its own, killed on drop. Keys are typed into it and its screen is read back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a wait for the screen may take before the test fails showing it.
const WAIT: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_millis(20);

/// The session's name on its server.
const SESSION: &str = "t";

pub struct Tmux {
    socket: PathBuf,
    _sockets: TempDir,
}

impl Tmux {
    /// Start `program` (and its arguments) in `dir` under `env -i` with `vars` (`NAME=value`:
    /// nothing of the test's own environment reaches it, `TERM=xterm` and `LANG=C.UTF-8`
    /// aside).
    pub fn start(dir: &Path, vars: &[String], program: &[&str]) -> Tmux {
        let sockets = tempfile::Builder::new()
            .prefix("azu-session-tmux-")
            .tempdir()
            .expect("a directory for the tmux socket");
        let tmux = Tmux {
            socket: sockets.path().join("socket"),
            _sockets: sockets,
        };
        let dir = dir.display().to_string();
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            &dir,
            "--",
            "env",
            "-i",
            "TERM=xterm",
            "LANG=C.UTF-8",
        ];
        args.extend(vars.iter().map(String::as_str));
        args.extend(program);
        let out = tmux.run(&args);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// A tmux command on this session's server.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-S"])
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Type `text` literally.
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", SESSION, "-l", text]);
        assert!(out.status.success(), "tmux send-keys failed");
    }

    /// Press keys by tmux name (`Tab`, `Enter`, `C-u`).
    pub fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys failed");
    }

    /// What the screen shows.
    pub fn text(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The cursor's column and row.
    pub fn cursor(&self) -> (usize, usize) {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            SESSION,
            "#{cursor_x} #{cursor_y}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut xy = text
            .split_whitespace()
            .map(|n| n.parse::<usize>().unwrap_or(0));
        (xy.next().unwrap_or(0), xy.next().unwrap_or(0))
    }

    /// Read the screen with `read` until `done` holds of what it read; after [`WAIT`] the
    /// test fails with `show` of the last reading.
    pub fn wait_for<T>(
        &self,
        what: &str,
        read: impl Fn(&Tmux) -> T,
        done: impl Fn(&T) -> bool,
        show: impl Fn(&T) -> String,
    ) -> T {
        let start = Instant::now();
        loop {
            let seen = read(self);
            if done(&seen) {
                return seen;
            }
            assert!(
                start.elapsed() < WAIT,
                "waited {WAIT:?} for {what}; the screen reads:\n{}",
                show(&seen)
            );
            std::thread::sleep(STEP);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
