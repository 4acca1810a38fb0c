//! The confirmation before deleting: `--force` skips it, the default answer is No, and
//! without a terminal on both stdin and stderr it refuses at once rather than wait for input
//! that cannot come (dialoguer alone checks only stderr).

use std::io::IsTerminal;

use dialoguer::Input;
use dialoguer::theme::SimpleTheme;

use crate::error::{Error, Result};

/// dialoguer adds the `: ` after it.
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

/// Show `summary` on stderr and ask; `Ok` only for a yes.
pub fn confirm(summary: &[String]) -> Result<()> {
    can_ask()?;
    for line in summary {
        eprintln!("{line}");
    }
    let answer: String = Input::with_theme(&SimpleTheme)
        .with_prompt(PROMPT)
        .allow_empty(true)
        .report(false)
        .interact_text()
        .map_err(|_| Error::Cancelled)?;
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
        for y in ["y", "Y", "yes", " YES "] {
            assert!(super::is_yes(y), "{y}");
        }
        for n in ["", "n", "no", "yess", "sure", "1"] {
            assert!(!super::is_yes(n), "{n}");
        }
    }
}
