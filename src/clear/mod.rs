//! `session:clear`: decide everything first ([`plan`]), then [`run`] it: connect ([`connect`]),
//! then clear one store ([`Connected::clear`]), returning a [`ClearReport`]. Connecting is a
//! step of its own so what the server itself tells (a Redis Cluster's primaries) can be
//! reported before anything is deleted.

pub mod cluster;
pub mod plan;
pub mod redis;
mod run;
pub mod sql;
mod target;
pub(crate) mod unreachable;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
pub use plan::{ClearPlan, DatabaseTarget, NothingToDo, RedisTarget, Target, plan};
pub use run::{ClearReport, Event, Hooks, Question, run};

/// A request to stop (Ctrl-C). The clear loops look at it after each batch, so the batch in
/// flight finishes and the count stays exact.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A connection to the store a plan names. What to clear there stays in the plan, which
/// [`Connected::clear`] is given again.
pub enum Connected<'p> {
    /// One server, or a Redis Cluster's primaries.
    Redis(redis::RedisConnection),
    Sql(Box<sql::SqlTarget<'p>>),
    Memory,
}

/// What a clear did.
#[derive(Debug, Clone)]
pub struct ClearOutcome {
    /// Sessions deleted (or, in a dry run, found).
    pub count: u64,
    /// When a Redis clear found nothing under a prefix the user did not give: keys that look
    /// like sessions under other prefixes.
    pub elsewhere: Vec<redis::elsewhere::Elsewhere>,
    /// What a SQL clear could not do, said instead of a plain success (SQLite rows whose
    /// `expires_at` is not a time SQLite reads, left by `--expired`).
    pub warnings: Vec<String>,
    /// How a SQL clear deleted, and why.
    pub strategy: Option<sql::Strategy>,
}

/// The runtime the network work runs on: one thread is plenty for one connection at a time.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Connect to the store `plan` names; `stop` is what Ctrl-C sets once the clear is under
/// way (a SQL statement waiting for a lock looks at it too).
pub async fn connect<'p>(plan: &'p ClearPlan, stop: &Stop) -> Result<Connected<'p>> {
    Ok(match &plan.target {
        Target::Memory => Connected::Memory,
        Target::Redis(target) => Connected::Redis(redis::connect_target(target).await?),
        Target::Database(target) => {
            Connected::Sql(Box::new(sql::SqlTarget::connect(plan, target, stop).await?))
        }
    })
}

impl Connected<'_> {
    /// How many primaries the Redis Cluster the URL leads to has (`None`: not a cluster).
    pub fn redis_cluster_primaries(&self) -> Option<usize> {
        match self {
            Connected::Redis(connection) => connection.primaries(),
            _ => None,
        }
    }

    /// Rows of other tables a SQL clear changes through foreign keys.
    pub fn cascades(&self) -> &[sql::Cascade] {
        match self {
            Connected::Sql(target) => target.cascades(),
            _ => &[],
        }
    }

    /// The role row-level security hides rows of the sessions table from, if it does.
    pub fn hidden_from(&self) -> Option<&str> {
        match self {
            Connected::Sql(target) => target.hidden_from(),
            _ => None,
        }
    }

    /// How a SQL clear will delete, and why.
    pub fn strategy(&self) -> Option<&sql::Strategy> {
        match self {
            Connected::Sql(target) => Some(target.strategy()),
            _ => None,
        }
    }

    /// How many sessions the clear will delete, when that can be known cheaply in advance
    /// (a SQL count); `None` for Redis, whose keys are found as the scan goes.
    pub async fn total(&mut self) -> Result<Option<u64>> {
        match self {
            Connected::Sql(target) => target.count().await.map(Some),
            _ => Ok(None),
        }
    }

    /// Clear what `plan` names (or with its `dry_run`, count it); `progress` is told each
    /// batch's count as it lands, and `stop` ends the run after the batch in flight.
    pub async fn clear(
        self,
        plan: &ClearPlan,
        stop: &Stop,
        progress: impl FnMut(u64),
    ) -> Result<ClearOutcome> {
        let mut elsewhere = Vec::new();
        let mut warnings = Vec::new();
        let mut strategy = None;
        let count = match (self, &plan.target) {
            (Connected::Redis(connection), Target::Redis(target)) => {
                let count = connection
                    .clear(target, plan.dry_run, stop, progress)
                    .await?;
                if count == 0 && !target.prefix_given {
                    // Only a look: should it fail, the clear it follows still stands.
                    elsewhere = redis::elsewhere::look(&connection.connections(), &target.prefix)
                        .await
                        .unwrap_or_default();
                }
                count
            }
            (Connected::Sql(mut target), _) => {
                let unreadable = target.unreadable_expiry().await;
                if unreadable > 0 {
                    warnings.push(target.unreadable_warning(unreadable));
                }
                let (count, how) = target.clear(progress).await?;
                strategy = Some(how);
                count
            }
            // Memory, or a plan that is not the one connected with: nothing of it to clear.
            _ => 0,
        };
        Ok(ClearOutcome {
            count,
            elsewhere,
            warnings,
            strategy,
        })
    }
}
