//! Driving one clear as its plan says: the question, connecting, the clear itself, and its
//! report. Nothing here prints: what the clear has to tell as it goes leaves as [`Event`]s
//! through [`Hooks`], which the caller turns into lines, and the question is asked through
//! them too (so this module imports no renderer and no terminal).

use indicatif::ProgressBar;
use serde::Serialize;

use super::plan::{DatabaseTarget, NothingToDo, RedisTarget};
use super::sql::{Cascade, Strategy};
use super::{ClearOutcome, ClearPlan, Connected, Stop, Target, connect, runtime};
use crate::error::{Error, Result};

/// What a clear needs from whoever runs it: a question answered, a place for its events, a
/// progress display.
pub trait Hooks {
    /// Refuse at once when no question can be asked (no terminal), before any work is done
    /// towards it. Called only when the plan needs confirmation.
    fn can_ask(&mut self) -> Result<()>;
    /// Ask whether to go ahead with what `question` shows; `Ok` only for a yes.
    fn confirm(&mut self, question: &Question<'_>) -> Result<()>;
    /// The clear has something to tell.
    fn event(&mut self, event: Event<'_>);
    /// Whether a progress display is shown (a SQL clear then counts its rows first, for a
    /// bar).
    fn shows_progress(&self) -> bool;
    /// The progress display for the clear: `total` gives a bar, without it a counter.
    fn progress(&mut self, total: Option<u64>, dry_run: bool) -> ProgressBar;
    /// What to do when Ctrl-C has asked the clear to stop; it runs on the runtime, in a task
    /// of its own.
    fn on_stop(&self) -> Box<dyn Fn() + Send>;
}

/// What the question before a clear shows.
pub struct Question<'a> {
    pub plan: &'a ClearPlan,
    /// Rows of other tables the clear changes through foreign keys.
    pub cascades: &'a [Cascade],
}

/// What a clear tells as it goes, in this order.
pub enum Event<'a> {
    /// Going ahead (after any question): what is done, and where the backend came from.
    Starting(&'a ClearPlan),
    /// There is nothing the clear can do; it ends here.
    NothingToDo(NothingToDo),
    /// Connected to Redis; `primaries` counts a cluster's, when the URL leads to one.
    RedisConnected {
        plan: &'a ClearPlan,
        target: &'a RedisTarget,
        primaries: Option<usize>,
    },
    /// Connected to the database, which told what else the clear changes, which role
    /// row-level security hides rows from, if it does, and how the clear will delete.
    DatabaseConnected {
        plan: &'a ClearPlan,
        target: &'a DatabaseTarget,
        cascades: &'a [Cascade],
        hidden_from: Option<&'a str>,
        strategy: Option<&'a Strategy>,
    },
    /// The clear is done.
    Finished(&'a ClearReport<'a>),
}

/// What a clear did, with the plan it followed. Serialized, it is the JSON report of
/// `session:clear`.
#[derive(Debug, Serialize)]
pub struct ClearReport<'p> {
    pub command: &'static str,
    #[serde(flatten)]
    pub plan: &'p ClearPlan,
    /// Sessions deleted (or, in a dry run, found).
    pub cleared: u64,
    /// Why nothing was done, when nothing could be.
    #[serde(rename = "message", skip_serializing_if = "Option::is_none")]
    pub nothing_to_do: Option<NothingToDo>,
    /// How many primaries the Redis Cluster the URL led to has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_primaries: Option<usize>,
    /// What a SQL clear changed in other tables through foreign keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cascades: Option<Vec<Cascade>>,
    /// How a SQL clear deleted (or, in a dry run, would delete), and why.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Why the clear is not the success it looks like: keys that look like sessions are under
    /// other prefixes, or rows whose expiry cannot be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether keys are under the session shard's own prefix (most likely the app's own
    /// sessions): the clear is then not a success (exit 1).
    #[serde(skip)]
    pub missed_shard_sessions: bool,
}

impl<'p> ClearReport<'p> {
    fn new(plan: &'p ClearPlan) -> Self {
        ClearReport {
            command: "session:clear",
            plan,
            cleared: 0,
            nothing_to_do: None,
            cluster_primaries: None,
            cascades: None,
            strategy: None,
            warnings: Vec::new(),
            missed_shard_sessions: false,
        }
    }
}

/// Clear as `plan` says, asking first if it must; what happens is told through `hooks`.
pub fn run<'p>(plan: &'p ClearPlan, hooks: &mut dyn Hooks) -> Result<ClearReport<'p>> {
    let asks = plan.needs_confirmation();
    if asks {
        hooks.can_ask()?;
    }
    let stop = Stop::default();
    let runtime = match plan.nothing_to_do() {
        Some(_) => None,
        None => Some(runtime()?),
    };
    // Ctrl-C stops the clear once it is sure to go ahead; while a question is open it
    // ends the process as usual (nothing was deleted yet).
    if !asks && let Some(runtime) = &runtime {
        watch_ctrl_c(runtime, &stop, hooks.on_stop())?;
    }

    hooks.event(Event::Starting(plan));
    let mut report = ClearReport::new(plan);
    let Some(runtime) = runtime else {
        // No server to go to: the plan says why.
        report.nothing_to_do = plan.nothing_to_do();
        if let Some(nothing) = report.nothing_to_do {
            hooks.event(Event::NothingToDo(nothing));
        }
        return Ok(report);
    };
    // The server is reached before the question: it is asked only of a clear that can go
    // ahead, after the lines saying what will be cleared (and, for a database, what else
    // the clear deletes through foreign keys), so nothing is shown twice.
    let connected = runtime.block_on(connect(plan, &stop))?;
    tell_connected(plan, &connected, &mut report, hooks);
    if asks {
        let cascades = connected.cascades();
        hooks.confirm(&Question { plan, cascades })?;
    }
    let outcome = clear(plan, connected, &runtime, &stop, asks, hooks)?;
    report.cleared = outcome.count;
    report.warnings = outcome.warnings;
    if outcome.strategy.is_some() {
        report.strategy = outcome.strategy;
    }
    if let Target::Redis(target) = &plan.target {
        report.warnings = outcome
            .elsewhere
            .iter()
            .map(|e| e.warning(&target.prefix, &target.pattern))
            .collect();
        report.missed_shard_sessions = outcome.elsewhere.iter().any(|e| e.shards());
    }
    hooks.event(Event::Finished(&report));
    Ok(report)
}

/// What the server turned out to be, in the report and told.
fn tell_connected(
    plan: &ClearPlan,
    connected: &Connected<'_>,
    report: &mut ClearReport<'_>,
    hooks: &mut dyn Hooks,
) {
    match &plan.target {
        Target::Redis(target) => {
            report.cluster_primaries = connected.redis_cluster_primaries();
            hooks.event(Event::RedisConnected {
                plan,
                target,
                primaries: report.cluster_primaries,
            });
        }
        Target::Database(target) => {
            report.cascades = Some(connected.cascades().to_vec());
            report.strategy = connected.strategy().cloned();
            hooks.event(Event::DatabaseConnected {
                plan,
                target,
                cascades: connected.cascades(),
                hidden_from: connected.hidden_from(),
                strategy: connected.strategy(),
            });
        }
        Target::Memory => {}
    }
}

/// The clear itself, under its progress display; how many sessions it cleared (or counted).
fn clear(
    plan: &ClearPlan,
    mut connected: Connected<'_>,
    runtime: &tokio::runtime::Runtime,
    stop: &Stop,
    asked: bool,
    hooks: &mut dyn Hooks,
) -> Result<ClearOutcome> {
    // A bar when the total is known (SQL counts first), a counter otherwise.
    let total = if hooks.shows_progress() && !plan.dry_run {
        runtime.block_on(connected.total())?
    } else {
        None
    };
    let progress = hooks.progress(total, plan.dry_run);
    if asked {
        watch_ctrl_c(runtime, stop, hooks.on_stop())?;
    }
    let result = runtime.block_on(connected.clear(plan, stop, |n| progress.inc(n)));
    progress.finish_and_clear();
    result
}

/// From here on Ctrl-C asks the clear to stop after the batch in flight (so the count it
/// reports is exact), and `on_stop` tells so; a second Ctrl-C ends the process at once.
fn watch_ctrl_c(
    runtime: &tokio::runtime::Runtime,
    stop: &Stop,
    on_stop: Box<dyn Fn() + Send>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let _context = runtime.enter();
    // Registered now, not when the task first runs, so no Ctrl-C falls between the two.
    let mut interrupts = signal(SignalKind::interrupt()).map_err(Error::Runtime)?;
    let stop = stop.clone();
    runtime.spawn(async move {
        if interrupts.recv().await.is_some() {
            stop.request();
            on_stop();
        }
        if interrupts.recv().await.is_some() {
            std::process::exit(130);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::{Backend, Source};

    /// Hooks that record what the clear told, and refuse any question.
    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
        asked: bool,
    }

    impl Hooks for Recorder {
        fn can_ask(&mut self) -> Result<()> {
            self.asked = true;
            Err(Error::NotATerminal)
        }
        fn confirm(&mut self, _: &Question<'_>) -> Result<()> {
            Err(Error::Cancelled)
        }
        fn event(&mut self, event: Event<'_>) {
            self.events.push(match event {
                Event::Starting(_) => "starting".to_string(),
                Event::NothingToDo(n) => format!("nothing: {n:?}"),
                Event::RedisConnected { .. } => "redis".to_string(),
                Event::DatabaseConnected { .. } => "database".to_string(),
                Event::Finished(_) => "finished".to_string(),
            });
        }
        fn shows_progress(&self) -> bool {
            false
        }
        fn progress(&mut self, _: Option<u64>, _: bool) -> ProgressBar {
            ProgressBar::hidden()
        }
        fn on_stop(&self) -> Box<dyn Fn() + Send> {
            Box::new(|| {})
        }
    }

    fn plan(backend: Backend, target: Target, expired: bool) -> ClearPlan {
        ClearPlan {
            backend,
            source: Source::Flag,
            notes: Vec::new(),
            target,
            dry_run: false,
            expired,
            force: false,
            lock_timeout: Duration::from_secs(1),
            batched: false,
        }
    }

    fn redis() -> Target {
        // Nothing listens on port 1: a test that connected would fail.
        Target::Redis(RedisTarget {
            url: "redis://:secret@127.0.0.1:1".to_string(),
            masked_url: "redis://:****@127.0.0.1:1".to_string(),
            database: 0,
            prefix: "app:session:".to_string(),
            pattern: "app:session:*".to_string(),
            prefix_given: false,
            tls: Default::default(),
        })
    }

    #[test]
    fn memory_has_nothing_to_do_and_says_why() {
        let plan = plan(Backend::Memory, Target::Memory, false);
        let mut hooks = Recorder::default();
        let report = run(&plan, &mut hooks).expect("a memory clear succeeds");
        assert!(!hooks.asked);
        assert_eq!(hooks.events, ["starting", "nothing: Memory"]);
        assert_eq!(
            serde_json::to_string(&serde_json::to_value(&report).expect("json"))
                .expect("json text"),
            r#"{"backend":"memory","backend_source":"flag","cleared":0,"command":"session:clear","dry_run":false,"expired":false,"message":"Memory sessions cannot be cleared remotely; restart the application to clear them","notes":[]}"#
        );
    }

    #[test]
    fn expired_on_redis_needs_no_server_and_no_question() {
        let plan = plan(Backend::Redis, redis(), true);
        assert!(!plan.needs_confirmation());
        let mut hooks = Recorder::default();
        let report = run(&plan, &mut hooks).expect("nothing to connect to");
        assert_eq!(hooks.events, ["starting", "nothing: RedisExpiresItself"]);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["url"], "redis://:****@127.0.0.1:1");
        assert_eq!(json["pattern"], "app:session:*");
        assert!(!json.to_string().contains("secret"));
    }

    #[test]
    fn a_clear_that_deletes_asks_before_anything() {
        let plan = plan(Backend::Redis, redis(), false);
        assert!(plan.needs_confirmation());
        let mut hooks = Recorder::default();
        assert!(matches!(run(&plan, &mut hooks), Err(Error::NotATerminal)));
        assert!(hooks.asked);
        assert!(hooks.events.is_empty());
    }
}
