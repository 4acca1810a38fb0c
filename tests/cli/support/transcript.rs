//! Whole-output snapshots: a table-driven test writes each case and what the binary printed
//! into one transcript, which insta compares with the reviewed copy in `tests/cli/snapshots/`.
//! A reader sees every message as the user does, instead of a list of fragments.

use std::fmt::Write;
use std::path::Path;
use std::process::Output;

use super::run::text;

#[derive(Default)]
pub struct Transcript {
    text: String,
    /// Paths that differ from run to run, with what stands for them.
    redactions: Vec<(String, &'static str)>,
}

impl Transcript {
    /// Show `root` (a temporary project) as `[project]`.
    pub fn redact_project(&mut self, root: &Path) {
        self.redactions
            .push((root.display().to_string(), "[project]"));
    }

    /// Record one case: its title, exit code and both streams.
    pub fn case(&mut self, title: &str, out: &Output) {
        let code = out.status.code().map_or("signal".into(), |c| c.to_string());
        let _ = writeln!(self.text, "## {title} (exit {code})");
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let stream = text(stream);
            if !stream.is_empty() {
                let _ = write!(self.text, "{name}:\n{}", self.redact(&stream));
            }
        }
        self.text.push('\n');
    }

    fn redact(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (from, to) in &self.redactions {
            s = s.replace(from.as_str(), to);
        }
        s
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}
