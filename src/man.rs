//! The man page, in roff, generated from the clap definitions: clap_mangen renders each
//! section, and this module assembles them into one page with every subcommand, the exit codes
//! and the environment.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::{BIN, Cli};

/// The man page, in roff: the main page's sections, then every subcommand with its synopsis,
/// description and options, then the exit codes.
pub fn page() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let version = cmd.get_version().unwrap_or_default().to_owned();
    let man = clap_mangen::Man::new(cmd.clone());

    let mut out = Vec::new();
    // Written by hand: clap_mangen writes the empty date without quotes, which shifts the
    // source into the date field.
    out.extend_from_slice(APOSTROPHE_PREAMBLE.as_bytes());
    writeln!(
        out,
        ".TH {BIN} 1 \"\" \"{BIN} {version}\" \"User Commands\""
    )?;
    section(&mut out, |w| man.render_name_section(w))?;

    out.extend_from_slice(b".SH SYNOPSIS\n");
    section_body(&mut out, |w| man.render_synopsis_section(w))?;
    // The output options (the main command's, taken by each session command too) are
    // described once, in OPTIONS, not under every command.
    let globals: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| a.get_id().clone())
        .collect();
    let subcommands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| {
            s.clone().mut_args(|a| {
                if globals.contains(a.get_id()) {
                    a.hide(true)
                } else {
                    a
                }
            })
        })
        .collect();
    for sub in &subcommands {
        out.extend_from_slice(b".br\n");
        let sub_man = clap_mangen::Man::new(sub.clone());
        section_body(&mut out, |w| sub_man.render_synopsis_section(w))?;
    }

    section(&mut out, |w| man.render_description_section(w))?;
    section(&mut out, |w| man.render_options_section(w))?;

    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    out.extend_from_slice(roff.to_roff().as_bytes());
    for sub in &subcommands {
        command(&mut out, sub)?;
    }

    exit_status(&mut out, crate::cli::EXIT_CODES);
    environment(&mut out);
    examples(&mut out);
    Ok(out)
}

/// One subcommand under COMMANDS: its synopsis, description, aliases and options.
fn command(out: &mut Vec<u8>, sub: &clap::Command) -> std::io::Result<()> {
    let mut roff = Roff::new();
    roff.control("SS", [sub.get_name()]);
    out.extend_from_slice(roff.to_roff().as_bytes());
    let sub_man = clap_mangen::Man::new(sub.clone());
    section_body(out, |w| sub_man.render_synopsis_section(w))?;
    out.extend_from_slice(b".PP\n");
    section_body(out, |w| sub_man.render_description_section(w))?;
    let aliases: Vec<&str> = sub.get_visible_aliases().collect();
    let mut roff = Roff::new();
    if !aliases.is_empty() {
        let mut line = vec![roman(if aliases.len() == 1 {
            "Alias: "
        } else {
            "Aliases: "
        })];
        for (i, alias) in aliases.iter().enumerate() {
            if i > 0 {
                line.push(roman(", "));
            }
            line.push(bold(*alias));
        }
        line.push(roman("."));
        roff.control("PP", []).text(line);
    }
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        roff.control("PP", []).text([italic("Options:")]);
    }
    out.extend_from_slice(roff.to_roff().as_bytes());
    section_body(out, |w| sub_man.render_options_section(w))?;
    Ok(())
}

/// ENVIRONMENT, from the list `--help` shows too.
fn environment(out: &mut Vec<u8>) {
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "Read from the process, then from .env in the project root; an empty value counts as unset.",
    )]);
    for (name, meaning) in crate::cli::ENVIRONMENT {
        roff.control("TP", [])
            .text([bold(*name)])
            .text([roman(*meaning)]);
    }
    out.extend_from_slice(roff.to_roff().as_bytes());
}

/// What roff's `to_writer` puts before every page (and clap_mangen before every section).
const APOSTROPHE_PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// A section rendered by clap_mangen, without the preamble it repeats each time.
fn section(
    out: &mut Vec<u8>,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    render(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    out.extend_from_slice(
        text.strip_prefix(APOSTROPHE_PREAMBLE)
            .unwrap_or(&text)
            .as_bytes(),
    );
    Ok(())
}

/// A section rendered by clap_mangen, without its `.SH` heading lines.
fn section_body(
    out: &mut Vec<u8>,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    section(&mut buf, render)?;
    for line in String::from_utf8_lossy(&buf).split_inclusive('\n') {
        if !line.starts_with(".SH") {
            out.extend_from_slice(line.as_bytes());
        }
    }
    Ok(())
}

/// EXIT STATUS, from the "Exit codes:" list `--help` shows.
fn exit_status(out: &mut Vec<u8>, text: &str) {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for line in text.lines() {
        let code = line.trim_start().split_once(char::is_whitespace);
        match code {
            Some((code, meaning)) if code.chars().all(|c| c.is_ascii_digit()) => {
                roff.control("TP", [])
                    .text([bold(code)])
                    .text([roman(meaning.trim())]);
            }
            _ if line.trim_end().ends_with(':') || line.trim().is_empty() => {}
            _ => {
                roff.text([roman(line.trim())]);
            }
        }
    }
    out.extend_from_slice(roff.to_roff().as_bytes());
}

/// EXAMPLES, from the list `azu-session --help` shows: each command as it is typed, what it
/// does below it.
fn examples(out: &mut Vec<u8>) {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    for line in crate::cli::MAIN_EXAMPLES.lines().skip(1) {
        match line.trim().split_once(" # ") {
            Some((command, meaning)) => {
                roff.control("TP", [])
                    .text([bold(command.trim())])
                    .text([roman(meaning.trim())]);
            }
            None if line.trim().is_empty() => {}
            None => {
                roff.control("PP", []).text([roman(line.trim())]);
            }
        }
    }
    out.extend_from_slice(roff.to_roff().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_lists_every_subcommand_and_its_options() {
        let page = String::from_utf8(page().expect("render")).expect("UTF-8");
        assert!(page.starts_with(APOSTROPHE_PREAMBLE));
        assert_eq!(page.matches(APOSTROPHE_PREAMBLE).count(), 1);
        assert!(page.contains(".TH azu-session 1 \"\" \"azu-session "));
        for heading in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH COMMANDS",
            ".SS session:setup",
            ".SS session:clear",
            ".SS session:stats",
            ".SS session:rotate-secret",
            ".SS session:check",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH EXAMPLES",
        ] {
            assert!(page.contains(heading), "{heading} missing:\n{page}");
        }
        for (name, _) in crate::cli::ENVIRONMENT {
            assert!(page.contains(&format!("\\fB{name}\\fR")), "{name} missing");
        }
        assert!(page.contains("\\-\\-lock\\-timeout"));
        assert!(page.contains("\\-\\-offline"));
        assert!(page.contains("\\fBazu\\-session session:setup\\fR"));
        assert!(page.contains("\\-\\-dry\\-run"));
        assert!(!page.contains("azu\\-session\\-session:setup(1)"));
    }

    /// What issue 16 changed is described where a user looks: setup refuses a tracked .env,
    /// SQLite times compare as times, a cluster failover is followed and a resharding is
    /// exit 1, and where the TLS variables are read from.
    #[test]
    fn man_page_describes_the_promises() {
        let page = String::from_utf8(page().expect("render")).expect("UTF-8");
        for said in [
            "A .env that git already tracks is refused",
            "`git rm \\-\\-cached .env`",
            "SQLite\\*(Aqs text and Unix\\-seconds values are compared as times",
            "A failover during the clear",
            "A resharding (slots moved between shards) ends it with exit code 1",
            "also a Redis Cluster resharded during session:clear",
            "Read from the process, then from .env in the project root",
            "a relative path in .env is from the project root",
            "from the process only, not .env",
        ] {
            assert!(page.contains(said), "{said:?} missing:\n{page}");
        }
    }
}
