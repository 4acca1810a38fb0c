//! Shell completion scripts, generated from the clap definitions.
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

use clap::CommandFactory;

use crate::cli::{BIN, Cli, Shell};

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
        assert!(zsh.contains("'session\\:check:Check that the project"));
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
            [
                "session:rotate-secret",
                "session:check",
                "session:clear",
                "session:setup",
                "session:stats"
            ]
        );
    }
}
