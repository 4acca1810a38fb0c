//! Finding the session store in the project's own sources, for when
//! `src/initializers/session.cr` configures none (real apps keep it elsewhere: azutoolkit/authority
//! configures the shard in `src/config/session.cr` and keeps its store as a constant in
//! `src/config/authority.cr`).
//!
//! [`discover`] reads every `.cr` file under the project's `src/` (never `lib/`, never
//! outside the project), each on its own with the same reader as the initializer (so a store
//! in a comment, string, heredoc or macro tag is not code), and returns every store found with
//! its file and line. [`Discovery::detect`] then says what the plan should use.
//!
//! # How the clear plan uses it
//!
//! Only when the initializer gives no store ([`super::Selection::NoStore`], or no
//! initializer at all) and `--backend` is not given:
//! - [`Detected::One`]: use that store as if the initializer had configured it, and say where
//!   it came from in the backend's source: `(detected from src/config/authority.cr)`
//!   ([`Found::detected_from`]). Kinds map to backends as for the initializer: `RedisStore`
//!   and `ClusteredRedisStore` are Redis (prefix from [`Store::redis_prefix`], server from
//!   [`Store::redis_url`]; the shard's store means `session:`), `DatabaseStore` is the
//!   database, `MemoryStore` memory, and `CookieStore` keeps today's error
//!   (`Error::CookieStore`, naming the file found).
//! - [`Detected::Conflict`]: `Error::StoresDiffer`, listing them with
//!   [`Found::describe`] and asking for `--backend`.
//! - [`Detected::None`]: what happens today (`SESSION_BACKEND`, then the default).
//!
//! Every [`Skipped`] file and a [`Limit`] reached become notes (stderr; `notes` in JSON), so
//! that a store the reader could not see is never silently missed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::branches::cond::Status;
use super::forms::Form;
use super::{Initializer, Store, Vars};

/// The directory read, under the project's root.
pub const SRC_DIR: &str = "src";
/// The dependencies' directory (`shards install`), never read.
const LIB_DIR: &str = "lib";
/// At most this many files are read; beyond, reading stops ([`Limit::Files`]).
pub const MAX_FILES: usize = 5_000;
/// A file larger than this is skipped (no hand-written Crystal file comes near it).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// At most this many bytes are read in all; beyond, reading stops ([`Limit::Bytes`]).
pub const MAX_TOTAL_BYTES: u64 = 32 << 20;

/// A store found in the project's sources.
#[derive(Debug, Clone)]
pub struct Found {
    /// The file, relative to the project root (`src/config/authority.cr`).
    pub file: PathBuf,
    /// The store; its `file` is the full path and its `line` the 1-based line.
    pub store: Store,
}

impl Found {
    /// `src/config/authority.cr:12`.
    pub fn place(&self) -> String {
        format!("{}:{}", self.file.display(), self.store.line)
    }

    /// `detected from src/config/authority.cr`, for the backend's source.
    pub fn detected_from(&self) -> String {
        format!("detected from {}", self.file.display())
    }

    /// `CookieStore (src/config/authority.cr:12)`, for a list of conflicting stores.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.store.kind.name(), self.place())
    }
}

/// A file that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the project root.
    pub file: PathBuf,
    pub reason: String,
}

/// A bound reached: reading stopped there, and files after it (in path order) were not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`MAX_FILES`] files read.
    Files,
    /// [`MAX_TOTAL_BYTES`] bytes read.
    Bytes,
}

/// Everything [`discover`] saw.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The stores, in path order, then line order.
    pub found: Vec<Found>,
    /// Files (or directories) not read: unreadable, not UTF-8, binary, too large, not valid
    /// Crystal as the reader sees it, or a link leading outside the project or into `lib/`.
    pub skipped: Vec<Skipped>,
    /// The bound that stopped reading, if one did.
    pub stopped: Option<Limit>,
    /// How many files were read.
    pub files_read: usize,
}

/// What the project's sources say the store is.
#[derive(Debug, Clone)]
pub enum Detected<'a> {
    /// No store in them.
    None,
    /// One store, or several that clear the same sessions (the first, in path order).
    One(&'a Found),
    /// Stores that clear different sessions (different kinds, or Redis stores with different
    /// prefixes or servers), one for each, in path order.
    Conflict(Vec<&'a Found>),
}

impl Discovery {
    /// The store the plan should use in the environment `vars` gives. Stores whose
    /// conditions fail there are left out (conditions that cannot be evaluated keep a store
    /// in). A store only declared by `Session.use_store` counts only when no store of its
    /// kind is constructed (the construction is the same store, with its arguments).
    pub fn detect<V: Vars + ?Sized>(&self, vars: &V) -> Detected<'_> {
        let live: Vec<&Found> = self
            .found
            .iter()
            .filter(|f| {
                !f.store
                    .branches
                    .iter()
                    .any(|b| matches!(b.status(vars), Status::Fails))
            })
            .collect();
        let constructed = |f: &&Found| f.store.form != Form::Declared;
        let wanted: Vec<&Found> = live
            .iter()
            .copied()
            .filter(|f| {
                constructed(f)
                    || !live
                        .iter()
                        .any(|g| constructed(g) && g.store.kind == f.store.kind)
            })
            .collect();
        let mut groups: Vec<&Found> = Vec::new();
        for f in wanted {
            if !groups.iter().any(|g| g.store.same_target(&f.store)) {
                groups.push(f);
            }
        }
        match groups.as_slice() {
            [] => Detected::None,
            [one] => Detected::One(one),
            _ => Detected::Conflict(groups),
        }
    }
}

/// The stores of the project's `src/**/*.cr` (see the module's documentation). It does not
/// fail: a file it cannot read is [`Skipped`] with the reason (one odd file must not stop a
/// clear that the rest of the project decides), and a missing `src/` is an empty result.
/// Links are followed only while they stay inside the project and out of `lib/`; a
/// directory is read once, whatever links lead to it ([`walk_sources`]).
pub fn discover(root: &Path) -> Discovery {
    let mut found = Vec::new();
    let walked = walk_sources(root, &[SRC_DIR], |rel, full, text| {
        let init = Initializer::parse(text).map_err(|e| e.to_string())?;
        found.extend(init.stores.into_iter().map(|mut store| {
            store.file = Some(full.to_path_buf());
            Found {
                file: rel.to_path_buf(),
                store,
            }
        }));
        Ok(())
    });
    Discovery {
        found,
        skipped: walked.skipped,
        stopped: walked.stopped,
        files_read: walked.files_read,
    }
}

/// What [`walk_sources`] read and passed over.
#[derive(Debug, Clone, Default)]
pub struct Walked {
    pub skipped: Vec<Skipped>,
    pub stopped: Option<Limit>,
    pub files_read: usize,
}

/// Every `.cr` file under `dirs` of the project (relative to `root`), each given to `visit`
/// with its path relative to the root, its full path and its text, within the bounds and
/// rules [`discover`] keeps: never `lib/`, never through a link out of the project, each file
/// and directory once, at most [`MAX_FILES`] files and [`MAX_TOTAL_BYTES`] bytes. A file that
/// cannot be read, or that `visit` refuses (with a reason), is [`Skipped`].
///
/// Long because the walk's bounds (files, bytes, links out of the project or into lib/,
/// directories seen) are checked where each entry is met, so no entry can slip past one.
pub fn walk_sources(
    root: &Path,
    dirs: &[&str],
    mut visit: impl FnMut(&Path, &Path, &str) -> Result<(), String>,
) -> Walked {
    let mut out = Walked::default();
    let canon_root = match std::fs::canonicalize(root) {
        Ok(r) => r,
        Err(e) => {
            out.skipped.push(Skipped {
                file: PathBuf::from("."),
                reason: e.to_string(),
            });
            return out;
        }
    };
    let canon_lib = canon_root.join(LIB_DIR);
    let mut total: u64 = 0;
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // Relative paths still to visit, the next one last.
    let mut stack: Vec<PathBuf> = dirs.iter().rev().map(PathBuf::from).collect();
    let skip = |out: &mut Walked, file: &Path, reason: String| {
        out.skipped.push(Skipped {
            file: file.to_path_buf(),
            reason,
        });
    };
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let real = match std::fs::canonicalize(&full) {
            Ok(r) => r,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && dirs.iter().any(|d| rel == Path::new(d)) =>
            {
                continue;
            }
            Err(e) => {
                skip(&mut out, &rel, e.to_string());
                continue;
            }
        };
        if !real.starts_with(&canon_root) {
            skip(&mut out, &rel, "it leads outside the project".to_string());
            continue;
        }
        if real.starts_with(&canon_lib) {
            skip(&mut out, &rel, format!("it leads into {LIB_DIR}/"));
            continue;
        }
        let meta = match std::fs::metadata(&real) {
            Ok(m) => m,
            Err(e) => {
                skip(&mut out, &rel, e.to_string());
                continue;
            }
        };
        if meta.is_dir() {
            if !seen.insert(real.clone()) {
                continue;
            }
            let entries = match std::fs::read_dir(&real) {
                Ok(e) => e,
                Err(e) => {
                    skip(&mut out, &rel, e.to_string());
                    continue;
                }
            };
            let mut names: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            names.sort();
            stack.extend(names.into_iter().rev().map(|n| rel.join(n)));
            continue;
        }
        if !meta.is_file() || rel.extension().is_none_or(|x| x != "cr") {
            continue;
        }
        if !seen.insert(real.clone()) {
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            skip(
                &mut out,
                &rel,
                format!("it is larger than {} KiB", MAX_FILE_BYTES >> 10),
            );
            continue;
        }
        if out.files_read >= MAX_FILES {
            out.stopped = Some(Limit::Files);
            break;
        }
        if total + meta.len() > MAX_TOTAL_BYTES {
            out.stopped = Some(Limit::Bytes);
            break;
        }
        total += meta.len();
        out.files_read += 1;
        let text = match std::fs::read(&real).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                skip(&mut out, &rel, "it is not UTF-8 text".to_string());
                continue;
            }
            Err(e) => {
                skip(&mut out, &rel, e.to_string());
                continue;
            }
        };
        if let Err(reason) = visit(&rel, &full, &text) {
            skip(&mut out, &rel, reason);
        }
    }
    out
}
