//! The output of `session:stats`: lines for people, or its JSON report.

use crate::clear::{DatabaseTarget, RedisTarget, Target};
use crate::output::{self, Output, paint};
use crate::stats::{Measures, RedisStats, SqlStats, StatsReport};

/// Before measuring: what is measured, and where the backend came from (stderr).
pub fn starting(report_plan: &crate::clear::ClearPlan, out: &Output) {
    out.info(paint(output::DIM, report_plan.source.describe()));
    for note in &report_plan.notes {
        out.info(format!("{} {note}", paint(output::WARNING, "note:")));
    }
}

/// The report: lines, or the JSON document.
pub fn print(report: &StatsReport<'_>, out: &Output) {
    if out.is_json() {
        crate::render::clear::json(report, out);
        return;
    }
    let mut lines = vec![
        "Session statistics (read only: nothing is changed)".to_string(),
        format!("Backend: {}", report.backend),
    ];
    match (&report.measures, report.target) {
        (Measures::Redis(stats), Target::Redis(target)) => redis(&mut lines, stats, target),
        (Measures::Database(stats), Target::Database(target)) => {
            database(&mut lines, stats, target)
        }
        (Measures::Memory { message }, _) => {
            out.lines(&lines);
            out.styled(output::WARNING, "⚠️  Memory sessions cannot be measured");
            out.lines(&[message]);
            return;
        }
        _ => {}
    }
    out.lines(&lines);
    for warning in &report.warnings {
        out.warn(warning);
    }
}

fn redis(lines: &mut Vec<String>, stats: &RedisStats, target: &RedisTarget) {
    lines.push(match target.database {
        0 => format!("Redis URL: {}", target.masked_url),
        n => format!("Redis URL: {} (database {n})", target.masked_url),
    });
    if let Some(n) = stats.cluster_primaries {
        let noun = if n == 1 { "primary" } else { "primaries" };
        lines.push(format!("Redis Cluster: {n} {noun} (all measured)"));
    }
    lines.push(format!("Pattern: {}", target.pattern));
    lines.push(format!("Sessions: {}", stats.sessions));
    lines.push(match &stats.memory {
        Some(m) => format!(
            "Memory: about {} (estimate: {} session(s) × {} bytes on average, from MEMORY USAGE of a sample of {} key(s))",
            human_bytes(m.estimated_bytes),
            stats.sessions,
            m.average_bytes,
            m.sample_size
        ),
        None if stats.memory_unavailable.is_some() => "Memory: not measured".to_string(),
        None => "Memory: 0 B (no session keys)".to_string(),
    });
    let ttl = &stats.ttl;
    lines.extend([
        format!("Expiring within an hour: {}", ttl.within_hour),
        format!("Expiring within a day: {}", ttl.within_day),
        format!("Expiring later: {}", ttl.later),
        format!("Never expiring (no TTL): {}", ttl.never),
    ]);
}

fn database(lines: &mut Vec<String>, stats: &SqlStats, target: &DatabaseTarget) {
    lines.push(format!("Database URL: {}", target.url.shown));
    lines.push(format!("Table: {}", target.table));
    lines.push(format!("Sessions: {}", stats.sessions));
    let or_unknown =
        |n: Option<u64>| n.map_or("unknown (no expires_at)".to_string(), |n| n.to_string());
    lines.push(format!("Live: {}", or_unknown(stats.live)));
    lines.push(format!("Expired: {}", or_unknown(stats.expired)));
    let or_none = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".to_string());
    lines.push(format!(
        "Oldest created_at: {}",
        or_none(&stats.oldest_created_at)
    ));
    lines.push(format!(
        "Newest created_at: {}",
        or_none(&stats.newest_created_at)
    ));
    if let Some(size) = &stats.table_size {
        lines.push(format!(
            "Size on disk: {}{} ({} bytes: {})",
            if size.approximate { "about " } else { "" },
            human_bytes(size.bytes),
            size.bytes,
            size.measured
        ));
    }
}

/// Bytes for people: B, KiB, MiB, GiB, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
