//! `session:clear`: decide everything first ([`plan`]), then clear one store.

pub mod plan;
pub mod redis;
pub mod sql;

use crate::error::{Error, Result};
pub use plan::{ClearPlan, Target, plan};

/// What a clear did.
#[derive(Debug, Clone, Copy)]
pub struct ClearOutcome {
    /// Sessions deleted (or, in a dry run, found).
    pub count: u64,
}

/// Carry out `plan` against its server. Memory needs no server and clears nothing.
pub fn execute(plan: &ClearPlan) -> Result<ClearOutcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let count = match &plan.target {
            Target::Memory => 0,
            Target::Redis { url, prefix } => {
                let con = redis::connect(url).await?;
                redis::clear(&con, &crate::url::mask(url), prefix, plan.dry_run, |_| {}).await?
            }
            Target::Database {
                url,
                dialect,
                table,
            } => sql::clear(url, *dialect, table, plan.dry_run, |_| {}).await?,
        };
        Ok(ClearOutcome { count })
    })
}
