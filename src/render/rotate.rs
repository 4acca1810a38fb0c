//! The output of `session:rotate-secret`, and of the rotation that ends
//! `session:clear --rotate-secret`.

use crate::output::{self, Output, paint};
use crate::project::DOTENV;
use crate::rotate::{AfterClear, ClearRotateReport, RotateReport, Rotated};

/// `session:rotate-secret`'s whole output.
pub fn rotate_secret(report: &RotateReport, out: &Output) {
    rotated(&report.rotated, out);
    out.styled(output::SUCCESS, "✓ Session secret rotated");
    out.lines(&[restart_line(&report.rotated)]);
    super::clear::json(report, out);
}

/// The new secret is in place (told before the look for sessions written during a clear).
pub fn rotated(rotated: &Rotated, out: &Output) {
    let mut lines = vec![if rotated.created {
        format!("Created {DOTENV} with a new SESSION_SECRET (not shown)")
    } else {
        format!("Replaced SESSION_SECRET in {DOTENV} with a new one (not shown)")
    }];
    if let Some(target) = &rotated.through {
        lines.push(format!("  (through the link to {})", target.display()));
    }
    out.lines(&lines);
}

/// The rest of `session:clear --rotate-secret` after [`rotated`], and its JSON report.
pub fn after_clear(report: &ClearRotateReport<'_>, out: &Output) {
    if let AfterClear::Rotated {
        rotated,
        sessions_during_clear,
        sessions_during_clear_complete,
        look_failed,
    } = &report.rotation
    {
        if let Some(err) = look_failed {
            out.info(format!(
                "{} cannot look for sessions written during the clear: {err}",
                paint(output::WARNING, "note:")
            ));
        }
        if let Some(count) = sessions_during_clear.filter(|&n| n > 0) {
            let at_least = match sessions_during_clear_complete {
                Some(false) => "at least ",
                _ => "",
            };
            out.lines(&[format!(
                "Found {at_least}{count} session(s) written while the clear ran; their cookies stop working when the application restarts with the new secret"
            )]);
        }
        out.styled(output::SUCCESS, "✓ Session secret rotated");
        out.lines(&[restart_line(rotated)]);
    }
    super::clear::json(report, out);
}

fn restart_line(rotated: &Rotated) -> String {
    let app = match (&rotated.service, &rotated.main_file) {
        (Some(service), _) => service.describe(),
        (None, Some(file)) => format!("the application ({file})"),
        (None, None) => "the application".to_string(),
    };
    format!(
        "Next: restart {app} so it reads the new SESSION_SECRET; until it restarts, cookies signed with the old secret still work"
    )
}
