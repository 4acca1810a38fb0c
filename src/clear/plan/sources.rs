//! The store in the project's own sources, for when the initializer configures none: real
//! apps keep `Session.configure` and the store elsewhere (`src/config/session.cr`, a constant
//! in `src/config/authority.cr`). See [`crate::initializer::discover`].

use crate::backend::Backend;
use crate::cli::ClearArgs;
use crate::error::{Error, Result};
use crate::initializer::{Detected, Discovery, Found, Limit, MAX_FILES, MAX_TOTAL_BYTES};
use crate::project::Env;

use super::backend_of;

/// The one store the sources make that a clear of `args.backend` (or of any backend, without
/// the flag) would use; stores that clear different sessions are an error naming each.
pub(super) fn store<'a>(
    discovery: &'a Discovery,
    args: &ClearArgs,
    env: &Env,
) -> Result<Option<&'a Found>> {
    let vars = |name: &str| env.get(name);
    let differ = |stores: &[&Found]| Error::StoresDiffer {
        stores: stores
            .iter()
            .map(|f| f.describe())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let of_flag = |f: &&Found| match args.backend {
        Some(b) => backend_of(f.store.kind) == Some(b),
        None => true,
    };
    match discovery.detect(&vars) {
        Detected::None => Ok(None),
        Detected::One(found) => Ok(Some(found).filter(of_flag)),
        Detected::Conflict(stores) => {
            let wanted: Vec<&Found> = stores.into_iter().filter(of_flag).collect();
            match wanted.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                many => Err(differ(many)),
            }
        }
    }
}

/// What the reading missed, so that a store it could not see is never silently passed over.
pub(super) fn notes(discovery: &Discovery) -> Vec<String> {
    let mut notes: Vec<String> = discovery
        .skipped
        .iter()
        .map(|s| {
            format!(
                "{} was not read for a session store: {}",
                s.file.display(),
                s.reason
            )
        })
        .collect();
    if let Some(limit) = discovery.stopped {
        let bound = match limit {
            Limit::Files => format!("{MAX_FILES} files"),
            Limit::Bytes => format!("{} MiB", MAX_TOTAL_BYTES >> 20),
        };
        notes.push(format!(
            "reading src/ for a session store stopped after {bound}; pass --backend (and --prefix or --table) if the store is in a file not read"
        ));
    }
    notes
}

/// Whether the backend to clear is the one `found` is of (so its source is that file).
pub(super) fn gives(found: &Found, backend: Backend) -> bool {
    backend_of(found.store.kind) == Some(backend)
}
