//! `session:stats`: measure the store `session:clear` would clear, without changing it.
//!
//! The store is found by clear's own plan ([`crate::clear::plan`], as for a dry run), so both
//! commands always look at the same sessions. Redis is walked with SCAN at clear's pace
//! (one step of [`crate::clear::redis::SCAN_COUNT`] keys at a time, each step's `PTTL`s and
//! any sampled `MEMORY USAGE` pipelined before the next step); a database is asked a few
//! read-only statements in a read-only session. Nothing is written or deleted.

pub mod redis;
pub mod sql;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::backend::Backend;
use crate::clear::{ClearPlan, Target, runtime};
use crate::cli::StatsArgs;
use crate::error::Result;

pub use self::redis::RedisStats;
pub use self::sql::SqlStats;

/// Why memory sessions have no statistics.
pub const MEMORY_MESSAGE: &str = "Memory sessions live in the application's process and cannot be measured from outside; the application itself would have to report them";

/// What the measurement found, per kind of store.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Measures {
    Redis(RedisStats),
    Database(SqlStats),
    /// Nothing can be measured: the JSON report's `message` says why.
    Memory {
        message: &'static str,
    },
}

/// The report of `session:stats`. Serialized, it is the JSON report.
#[derive(Debug, Serialize)]
pub struct StatsReport<'p> {
    pub command: &'static str,
    #[serde(serialize_with = "backend_name")]
    pub backend: Backend,
    pub backend_source: &'static str,
    /// Why a level of the detection chain was passed over.
    pub notes: &'p [String],
    /// Where: the Redis URL, database and pattern, or the database URL and table.
    #[serde(flatten)]
    pub target: &'p Target,
    #[serde(flatten)]
    pub measures: Measures,
    /// What deserves attention (keys without a TTL, a measurement that could not be made).
    pub warnings: Vec<String>,
}

fn backend_name<S: serde::Serializer>(b: &Backend, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(b.as_str())
}

/// The plan `args` make: clear's, for a dry run.
pub fn plan(args: &StatsArgs) -> Result<ClearPlan> {
    crate::clear::plan(&args.as_clear())
}

/// Measure the store `plan` names; `progress` counts sessions as they are found (a bar once
/// a database's total is known: `total` is told it first).
pub fn run<'p>(
    plan: &'p ClearPlan,
    progress: &mut dyn FnMut(Option<u64>) -> ProgressBar,
) -> Result<StatsReport<'p>> {
    let mut warnings = Vec::new();
    let measures = match &plan.target {
        Target::Memory => Measures::Memory {
            message: MEMORY_MESSAGE,
        },
        Target::Redis(target) => {
            let bar = progress(None);
            let stats = runtime()?.block_on(redis::measure(target, |n| bar.inc(n)));
            bar.finish_and_clear();
            let stats = stats?;
            warnings.extend(stats.warnings());
            Measures::Redis(stats)
        }
        Target::Database(target) => {
            let bar = progress(None);
            let stats =
                runtime()?.block_on(sql::measure(target, plan.lock_timeout, |n| bar.inc(n)));
            bar.finish_and_clear();
            let stats = stats?;
            warnings.extend(stats.warnings());
            Measures::Database(stats)
        }
    };
    Ok(StatsReport {
        command: "session:stats",
        backend: plan.backend,
        backend_source: plan.source.key(),
        notes: &plan.notes,
        target: &plan.target,
        measures,
        warnings,
    })
}
