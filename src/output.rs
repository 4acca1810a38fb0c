//! How results reach the user: human text (colored when the terminal and `--color` allow) or
//! one JSON object for scripts; context lines and progress on stderr, which `--quiet` and
//! JSON mode keep out of logs.

use std::fmt::{self, Display};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Lines for people
    #[default]
    Text,
    /// One JSON object on stdout (errors as JSON on stderr)
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Color {
    /// When the stream is a terminal and NO_COLOR is not set
    #[default]
    Auto,
    Always,
    Never,
}

pub const SUCCESS: Style = AnsiColor::Green.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const CREATE: Style = AnsiColor::Green.on_default();
pub const CHANGE: Style = AnsiColor::Yellow.on_default();

#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
}

impl Output {
    /// Set the color choice for both streams (NO_COLOR and CLICOLOR are honoured under
    /// `auto`, by anstream).
    pub fn new(format: Format, quiet: bool) -> Self {
        Output { format, quiet }
    }

    /// Set, for the whole process, whether anstream writes colour (`--color`; under auto,
    /// NO_COLOR and whether the stream is a terminal decide).
    pub fn use_color(color: Color) {
        let choice = match color {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Lines of the human report on stdout; none in JSON mode. A closed pipe (`| head`) ends
    /// the output quietly.
    pub fn lines<S: AsRef<str>>(&self, lines: &[S]) {
        if self.is_json() {
            return;
        }
        let mut out = anstream::stdout().lock();
        for line in lines {
            if writeln!(out, "{}", line.as_ref()).is_err() {
                return;
            }
        }
        let _ = out.flush();
    }

    /// One styled line of the human report.
    pub fn styled(&self, style: Style, text: impl Display) {
        self.lines(&[paint(style, text)]);
    }

    /// Context for people on stderr (where the backend came from, notes); not in JSON or
    /// quiet mode.
    pub fn info(&self, text: impl Display) {
        if !self.is_json() && !self.quiet {
            let _ = writeln!(anstream::stderr(), "{text}");
        }
    }

    /// A warning on stderr that changes the outcome: shown even in quiet mode (not in JSON,
    /// whose report carries it).
    pub fn warn(&self, text: impl Display) {
        if !self.is_json() {
            let _ = writeln!(anstream::stderr(), "{} {text}", paint(WARNING, "warning:"));
        }
    }

    /// The JSON report on stdout (only in JSON mode).
    pub fn json(&self, value: &serde_json::Value) {
        if self.is_json() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}").and_then(|()| out.flush());
        }
    }

    /// An error on stderr: `error: …` (the cancellation message alone), or JSON.
    pub fn error(&self, err: &Error) {
        if self.is_json() {
            let value =
                serde_json::json!({ "error": err.to_string(), "exit_code": err.exit_code() });
            let _ = writeln!(std::io::stderr(), "{value}");
        } else if matches!(err, Error::Cancelled) {
            let _ = writeln!(anstream::stderr(), "{}", paint(WARNING, err));
        } else {
            let _ = writeln!(anstream::stderr(), "{} {err}", paint(ERROR, "error:"));
        }
    }

    /// Whether [`Output::progress`] would show anything.
    pub fn shows_progress(&self) -> bool {
        !self.is_json() && !self.quiet && std::io::stderr().is_terminal()
    }

    /// A progress display on stderr for a long clear, or a hidden one when stderr is not a
    /// terminal, in JSON or quiet mode. `total` gives a bar; without it, a counter. A dry
    /// run's sessions are counted, not cleared.
    pub fn progress(&self, total: Option<u64>, dry_run: bool) -> ProgressBar {
        if !self.shows_progress() {
            return ProgressBar::hidden();
        }
        let done = if dry_run { "counted" } else { "cleared" };
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
                format!(
                    "{{bar:30}} {{human_pos}}/{{human_len}} sessions {done} ({{rate}}, {{eta}} left)"
                ),
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                format!("{{spinner}} {{human_pos}} sessions {done} ({{rate}})"),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = w.write_str(&rate(state.per_sec()));
                },
            ));
        }
        // The first frame now, not at the ticker thread's first turn: a clear that ends
        // before that turn (one SQLite `DELETE`) would otherwise show no progress at all.
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

/// Sessions per second as a whole number with thousands separators (`572,893/s`):
/// indicatif's own `{per_sec}` shows three decimals of a rate that is an estimate.
pub fn rate(per_sec: f64) -> String {
    let whole = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    };
    format!("{}/s", HumanCount(whole))
}

/// Bytes as they are on stdout (a completion script, the man page); a closed pipe ends
/// quietly.
pub fn print_raw(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// `text` in `style` (anstream strips the codes where color is off).
pub fn paint(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rate_is_a_whole_number_with_thousands_separators() {
        assert_eq!(super::rate(572_892.895), "572,893/s");
        assert_eq!(super::rate(1_234_567.4), "1,234,567/s");
        assert_eq!(super::rate(999.5), "1,000/s");
        assert_eq!(super::rate(0.4), "0/s");
        assert_eq!(super::rate(f64::NAN), "0/s");
        assert_eq!(super::rate(f64::INFINITY), "0/s");
    }
}
