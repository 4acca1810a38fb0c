//! Shell completion scripts and the man page, generated from the clap definitions.
//!
//! clap_complete's scripts need fixing for this command: its subcommand names contain a colon
//! (`session:setup`), which every shell treats specially, and its binary name contains a
//! hyphen. Each fix below is a small, targeted post-processing step on the generated text;
//! the tests in `tests/cli/completions.rs` drive the real shells to prove the result.
//!
//! - bash: readline splits words at `:` (it is in `COMP_WORDBREAKS`), so `session:se<TAB>`
//!   reaches the completion function as `session`, `:`, `se`. A wrapper re-joins those words
//!   before calling the generated function and trims the already-typed part up to the last
//!   `:` from the candidates (what bash-completion's `__ltrim_colon_completions` does), without
//!   touching `COMP_WORDBREAKS`. The generated function also names its per-subcommand case
//!   arms inconsistently when the binary name has a hyphen (`azu__subcmd__session__…` against
//!   `azu__session__…`), so no flag after a subcommand ever completed; the arms are renamed.
//! - zsh: `_describe` reads `name:description`, so the colon in `session:setup` must be
//!   escaped (`session\:setup`); the subcommand name is also kept out of `curcontext`, whose
//!   fields are colon-separated.
//! - fish: the generator leaves out positional arguments, so `completions <TAB>` would offer
//!   files; their possible values are added.

use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::Cli;

/// The name the scripts complete, and the man page describes.
const BIN: &str = "azu-session";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, BIN, &mut out);
    let generated = String::from_utf8_lossy(&out);
    let fixed = match shell {
        Shell::Bash => fix_bash(&generated),
        Shell::Zsh => fix_zsh(&generated, &colon_names(&cmd)),
        Shell::Fish => fix_fish(&generated, &cmd),
    };
    fixed.into_bytes()
}

/// Every subcommand name and visible alias, at any depth, that contains a colon; longest
/// first, so no name is matched as the prefix of a longer one.
fn colon_names(cmd: &clap::Command) -> Vec<String> {
    fn walk(cmd: &clap::Command, names: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            names.push(sub.get_name().to_owned());
            names.extend(sub.get_visible_aliases().map(str::to_owned));
            walk(sub, names);
        }
    }
    let mut names = Vec::new();
    walk(cmd, &mut names);
    names.retain(|n| n.contains(':'));
    names.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    names.dedup();
    names
}

/// The name clap_complete gives the bash completion function.
fn bash_function() -> String {
    format!("_{}", BIN.replace('-', "__"))
}

/// The wrapper registered for bash; `{func}` is the generated function.
const BASH_WRAPPER: &str = r#"
# Subcommand names such as session:setup contain ':', which readline treats as a word break
# (COMP_WORDBREAKS): `session:se` reaches a completion function as the words `session`, `:`,
# `se`. This wrapper re-joins the words split at ':' before calling {func}, then
# drops the part up to the last ':' from each candidate, since readline replaces only the
# text after it (as bash-completion's __ltrim_colon_completions does). COMP_WORDBREAKS is
# left as it is.
{func}_colon_safe() {
    if [[ "$COMP_WORDBREAKS" != *:* ]]; then
        {func} "$@"
        return
    fi
    # Walk COMP_LINE word by word to see which words were typed with nothing between them.
    local -a words=()
    local cword=-1 cur="" line="$COMP_LINE" rest trimmed w
    local -i i pos=0 gap start=0 n=${#COMP_WORDS[@]}
    for (( i = 0; i < n; i++ )); do
        w="${COMP_WORDS[i]}"
        rest="${line:pos}"
        trimmed="${rest#"${rest%%[![:space:]]*}"}"
        gap=$(( ${#rest} - ${#trimmed} ))
        if [[ "$trimmed" != "$w"* ]]; then
            cword=-1 # the line does not read as the words do (unexpected quoting)
            break
        fi
        if (( i > 0 && gap == 0 )) && [[ "$w" == :* || "${words[${#words[@]}-1]}" == *: ]]; then
            words[${#words[@]}-1]+="$w"
        else
            words+=("$w")
            start=$(( pos + gap ))
        fi
        pos=$(( pos + gap + ${#w} ))
        if (( i == COMP_CWORD )); then
            cword=$(( ${#words[@]} - 1 ))
            # The current word from its start to the cursor. ($2 holds only the part after
            # the last ':', and nothing when the cursor is right after one.)
            if (( COMP_POINT > start )); then
                cur="${line:start:COMP_POINT-start}"
            fi
        fi
    done
    if (( cword < 0 )); then
        {func} "$@"
        return
    fi
    local prev=""
    if (( cword > 0 )); then
        prev="${words[cword-1]}"
    fi
    local -a COMP_WORDS=("${words[@]}")
    local COMP_CWORD=$cword
    {func} "$1" "$cur" "$prev"
    local status=$?
    if [[ "$cur" == *:* ]]; then
        local typed="${cur%"${cur##*:}"}" k
        for k in "${!COMPREPLY[@]}"; do
            COMPREPLY[k]="${COMPREPLY[k]#"$typed"}"
        done
    fi
    return $status
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F {func}_colon_safe -o nosort -o bashdefault -o default {bin}
else
    complete -F {func}_colon_safe -o bashdefault -o default {bin}
fi
"#;

fn fix_bash(script: &str) -> String {
    let func = bash_function();
    // The dispatch sets cmd="azu__session__subcmd__session:clear", but the case arms that use
    // it are written from the binary name with '-' replaced by the separator.
    let separator = "__subcmd__";
    let mut fixed = script.replace(
        &format!("{}{separator}", BIN.replace('-', separator)),
        &format!("{}{separator}", &func[1..]),
    );
    // Registering again replaces the generated registration.
    fixed.push_str(&BASH_WRAPPER.replace("{func}", &func).replace("{bin}", BIN));
    fixed
}

fn fix_zsh(script: &str, colon_names: &[String]) -> String {
    let mut fixed = String::with_capacity(script.len() + 64);
    for line in script.split_inclusive('\n') {
        // `_describe` entries: 'session:setup:Write the session initializer…' \
        let entry = colon_names.iter().find_map(|name| {
            line.strip_prefix('\'')
                .and_then(|rest| rest.strip_prefix(name.as_str()))
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|desc| (name, desc))
        });
        if let Some((name, desc)) = entry {
            fixed.push('\'');
            fixed.push_str(&name.replace(':', "\\:"));
            fixed.push(':');
            fixed.push_str(desc);
        } else if line.trim_start().starts_with("curcontext=") {
            // curcontext="${curcontext%:*:*}:azu-session-command-$line[1]:"
            fixed.push_str(&line.replace("$line[1]:", "${line[1]//:/-}:"));
        } else {
            fixed.push_str(line);
        }
    }
    fixed
}

fn fix_fish(script: &str, cmd: &clap::Command) -> String {
    let condition = format!("__fish_{}_using_subcommand", BIN.replace('-', "_"));
    let mut fixed = script.to_owned();
    if !script.contains(&format!("function {condition}")) {
        return fixed;
    }
    for sub in cmd.get_subcommands() {
        let mut positionals = sub.get_positionals();
        let (Some(arg), None) = (positionals.next(), positionals.next()) else {
            continue;
        };
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if values.is_empty() {
            continue;
        }
        let values = values.join(" ");
        // No files for this subcommand; its values until one is given.
        for name in std::iter::once(sub.get_name()).chain(sub.get_visible_aliases()) {
            fixed.push_str(&format!(
                "complete -c {BIN} -n \"{condition} {name}\" -f\n\
                 complete -c {BIN} -n \"{condition} {name}; and not __fish_seen_subcommand_from \
                 {values}\" -f -a \"{values}\"\n"
            ));
        }
    }
    fixed
}

/// The man page, in roff: the main page's sections, then every subcommand with its synopsis,
/// description and options, then the exit codes.
pub fn man_page() -> std::io::Result<Vec<u8>> {
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
    // Global options are described once, in OPTIONS, not under every command.
    let globals: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
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
        let mut roff = Roff::new();
        roff.control("SS", [sub.get_name()]);
        out.extend_from_slice(roff.to_roff().as_bytes());
        let sub_man = clap_mangen::Man::new(sub.clone());
        section_body(&mut out, |w| sub_man.render_synopsis_section(w))?;
        out.extend_from_slice(b".PP\n");
        section_body(&mut out, |w| sub_man.render_description_section(w))?;
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
        section_body(&mut out, |w| sub_man.render_options_section(w))?;
    }

    exit_status(&mut out, &cmd)?;
    environment(&mut out);
    Ok(out)
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

/// EXIT STATUS, from the "Exit codes:" list in the after-help text.
fn exit_status(out: &mut Vec<u8>, cmd: &clap::Command) -> std::io::Result<()> {
    let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) else {
        return Ok(());
    };
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for line in text.to_string().lines() {
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
    Ok(())
}

/// Write bytes to stdout; a closed pipe ends quietly.
pub fn print(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(shell: Shell) -> String {
        String::from_utf8(script(shell)).expect("scripts are UTF-8")
    }

    #[test]
    fn bash_every_dispatched_command_has_a_case_arm() {
        let bash = text(Shell::Bash);
        let mut dispatched: Vec<&str> = bash
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|c| !c.is_empty())
            .collect();
        dispatched.sort_unstable();
        dispatched.dedup();
        assert!(dispatched.contains(&"azu__session__subcmd__session:clear"));
        for cmd in dispatched {
            assert!(
                bash.lines().any(|l| l.trim() == format!("{cmd})")),
                "no case arm for {cmd}"
            );
        }
    }

    #[test]
    fn bash_registers_the_colon_safe_wrapper_last() {
        let bash = text(Shell::Bash);
        let last = bash
            .lines()
            .rfind(|l| l.trim_start().starts_with("complete -F"))
            .expect("a complete line");
        assert!(
            last.contains("_azu__session_colon_safe") && last.ends_with(" azu-session"),
            "{last}"
        );
        assert!(bash.starts_with("_azu__session() {"));
        assert!(!bash.contains("COMP_WORDBREAKS="));
    }

    #[test]
    fn zsh_escapes_colons_for_describe() {
        let zsh = text(Shell::Zsh);
        assert!(zsh.contains("'session\\:setup:Write the session initializer"));
        assert!(zsh.contains("'session\\:clear:Delete every session"));
        assert!(zsh.contains("'session\\:rotate-secret:Replace SESSION_SECRET"));
        assert!(zsh.contains("'setup:Write the session initializer"));
        assert!(!zsh.contains("\n'session:"));
        assert!(zsh.contains("${line[1]//:/-}:\""));
    }

    #[test]
    fn fish_completes_the_shell_argument() {
        let fish = text(Shell::Fish);
        assert!(fish.contains(
            "complete -c azu-session -n \"__fish_azu_session_using_subcommand completions\" -f\n"
        ));
        assert!(fish.contains(
            "complete -c azu-session -n \"__fish_azu_session_using_subcommand completions; \
             and not __fish_seen_subcommand_from bash zsh fish\" -f -a \"bash zsh fish\"\n"
        ));
    }

    #[test]
    fn colon_names_are_longest_first() {
        let names = colon_names(&Cli::command());
        assert_eq!(
            names,
            ["session:rotate-secret", "session:clear", "session:setup"]
        );
    }

    #[test]
    fn man_page_lists_every_subcommand_and_its_options() {
        let page = String::from_utf8(man_page().expect("render")).expect("UTF-8");
        assert!(page.starts_with(APOSTROPHE_PREAMBLE));
        assert_eq!(page.matches(APOSTROPHE_PREAMBLE).count(), 1);
        assert!(page.contains(".TH azu-session 1 \"\" \"azu-session "));
        for heading in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH COMMANDS",
            ".SS session:setup",
            ".SS session:clear",
            ".SS session:rotate-secret",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
        ] {
            assert!(page.contains(heading), "{heading} missing:\n{page}");
        }
        for (name, _) in crate::cli::ENVIRONMENT {
            assert!(page.contains(&format!("\\fB{name}\\fR")), "{name} missing");
        }
        assert!(page.contains("\\-\\-lock\\-timeout"));
        assert!(page.contains("\\fBazu\\-session session:setup\\fR"));
        assert!(page.contains("\\-\\-dry\\-run"));
        assert!(!page.contains("azu\\-session\\-session:setup(1)"));
    }
}
