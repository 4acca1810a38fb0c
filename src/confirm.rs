//! The confirmation before deleting: `--force` skips it, the default answer is No, and
//! without a terminal on both stdin and stderr it refuses at once rather than wait for input
//! that cannot come.
//!
//! The question is a plain line on stderr and the answer a line read from stdin, echoed by
//! the terminal as it is typed: once answered, the question and the answer stay on screen as
//! they were, as in a transcript (a prompt library's redraw erased the question's line).

use std::io::{BufRead, IsTerminal, Write};

use crate::error::{Error, Result};

/// The question, as the specification words it; `: ` follows it.
pub const PROMPT: &str =
    "Are you sure you want to clear all sessions? This will log out all users. [y/N]";

/// Whether a question can be asked at all: refused at once without a terminal, before any
/// work is done towards it.
pub fn can_ask() -> Result<()> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Ok(())
    } else {
        Err(Error::NotATerminal)
    }
}

/// Show `before` (lines the user has not seen yet) on stderr and ask; `Ok` only for a yes.
pub fn confirm(before: &[String]) -> Result<()> {
    can_ask()?;
    let mut err = std::io::stderr().lock();
    for line in before {
        let _ = writeln!(err, "{line}");
    }
    let _ = write!(err, "{PROMPT}: ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|_| Error::Cancelled)?;
    if read == 0 || !answer.ends_with('\n') {
        // Ctrl-D: the terminal moved to no new line, so the next message would follow the
        // question on its line.
        eprintln!();
    }
    if is_yes(&answer) {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_yes_is_yes() {
        for y in ["y", "Y", "yes", " YES ", "y\n", "yes\r\n"] {
            assert!(super::is_yes(y), "{y}");
        }
        for n in ["", "\n", "n", "no", "yess", "sure", "1"] {
            assert!(!super::is_yes(n), "{n}");
        }
    }
}
