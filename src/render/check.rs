//! The output of `session:check`: one aligned line per check (level, id, message and, when
//! not ok, how to fix it), then a summary; or one JSON document.

use serde_json::json;

use crate::check::{CheckReport, Level};
use crate::output::{self, Output, paint};

pub fn print(report: &CheckReport, out: &Output) {
    if out.is_json() {
        out.json(&json!({
            "command": "session:check",
            "checks": report.checks,
            "ok": report.count(Level::Ok),
            "warnings": report.count(Level::Warning),
            "errors": report.count(Level::Error),
            "strict": report.strict,
            "offline": report.offline,
            "passed": report.passed(),
        }));
        return;
    }
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for check in &report.checks {
        let style = match check.level {
            Level::Ok => output::SUCCESS,
            Level::Warning => output::WARNING,
            Level::Error => output::ERROR,
        };
        let level = paint(style, format!("{:<8}", check.level.as_str()));
        let text = match &check.fix {
            Some(fix) => format!("{}; {fix}", check.message),
            None => check.message.clone(),
        };
        lines.push(format!("{level} {:<width$}  {text}", check.id));
    }
    lines.push(summary(report));
    out.lines(&lines);
}

/// `12 checks: 10 ok, 1 warning, 1 error` (and what `--strict` or `--offline` changed).
fn summary(report: &CheckReport) -> String {
    let plural = |n: usize, word: &str| match n {
        1 => format!("{n} {word}"),
        _ => format!("{n} {word}s"),
    };
    let mut text = format!(
        "{}: {} ok, {}, {}",
        plural(report.checks.len(), "check"),
        report.count(Level::Ok),
        plural(report.count(Level::Warning), "warning"),
        plural(report.count(Level::Error), "error"),
    );
    if report.strict && report.count(Level::Warning) > 0 {
        text.push_str(" (--strict: warnings count as errors)");
    }
    if report.offline {
        text.push_str(" (--offline: no server asked)");
    }
    text
}
