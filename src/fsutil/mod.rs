//! Writing files so that a failure never leaves half a file, half a change or a stray
//! temporary behind, and so that each file stays what its owner made it.
//!
//! A change to several files is staged first: every new content written and synced to a
//! temporary file in the target's own directory, with the owner, group and mode of the file
//! it replaces (a new file gets the mode asked for and, when run as root, the owner and group
//! of its directory), and every file being replaced hard-linked aside in its directory (so an
//! immutable one is found before anything moves; a directory marked append-only is refused
//! before anything is made in it). Only then are they moved into place, one by one, and if a
//! move fails, every file already moved is put back from its link (or removed, if it was
//! new), as is every directory the change created. A file that is a symbolic link is written through
//! the link: the file it points to is replaced, and the link stays a link.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// How many links `resolve` follows before giving up, as the kernel does (ELOOP).
const MAX_LINKS: usize = 40;

/// One file to write.
#[derive(Debug, Clone)]
pub struct PlannedWrite {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// Mode for a file that does not exist yet; an existing file keeps its own mode.
    pub new_mode: u32,
}

/// The file a write to `path` lands in: `path` itself, or when `path` is a symbolic link,
/// the file at the end of its chain of links (which may not exist yet). A link's target is
/// named from the real directory it is in, so a link to `../../shared/.env` reads as
/// `/srv/app/shared/.env`.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut cur = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        match fs::symlink_metadata(&cur) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&cur).map_err(|e| Error::read(&cur, e))?;
                let next = match cur.parent() {
                    Some(dir) => dir.join(&link),
                    None => link,
                };
                let (Some(dir), Some(name)) = (next.parent(), next.file_name()) else {
                    return Err(Error::read(
                        path,
                        io::Error::other(format!(
                            "the link points to `{}`, which is not a file",
                            next.display()
                        )),
                    ));
                };
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                // The link's directory must exist: this never creates directories outside
                // the project on a link's say-so.
                let dir = fs::canonicalize(dir).map_err(|e| Error::write(&next, e))?;
                cur = dir.join(name);
            }
            Ok(_) => return Ok(cur),
            // Not there (or a file stands where a directory should): nothing to follow, and
            // writing it will say what is wrong.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(cur);
            }
            Err(e) => return Err(Error::read(&cur, e)),
        }
    }
    Err(Error::read(
        path,
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// An advisory lock on a directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Lock `dir` (the directory itself, so no lock file is left behind) against other runs of
/// this tool, waiting for one that holds it. `None` when `dir` is not a directory (the
/// caller's checks say so better) or its filesystem has no locks.
pub fn lock_dir(dir: &Path) -> Result<Option<DirLock>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let file = File::open(dir).map_err(|e| Error::read(dir, e))?;
    match file.lock() {
        Ok(()) => Ok(Some(DirLock { _file: file })),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(e) => Err(Error::Lock {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

/// A file staged for one planned write.
struct Staged {
    tmp: NamedTempFile,
    /// Where it goes (a link already followed).
    target: PathBuf,
    /// Whether `target` exists, so there is something to keep aside and put back.
    replaces: bool,
}

/// A file moved into place, and how to take it back.
struct Placed {
    target: PathBuf,
    /// The replaced file, hard-linked aside; `None` when the file is new.
    kept: Option<NamedTempFile<()>>,
}

/// Write every planned file, all or nothing: a failure at any step, staging or moving into
/// place, leaves every file as it was.
pub fn write_all(writes: &[PlannedWrite]) -> Result<()> {
    prepare(writes)?.commit()
}

/// Files staged and ready to move into place: every new content written and synced next to
/// its target, and every file it replaces already linked aside (so a file that cannot be
/// replaced, an immutable one, is found here, before anything changed). Dropped without
/// [`Prepared::commit`], it removes what it staged and leaves every file as it was.
pub struct Prepared {
    staged: Vec<(Staged, Option<NamedTempFile<()>>)>,
    created_dirs: Vec<PathBuf>,
}

/// Stage every planned write (see [`Prepared`]); nothing is changed yet.
pub fn prepare(writes: &[PlannedWrite]) -> Result<Prepared> {
    let mut prepared = Prepared {
        staged: Vec::with_capacity(writes.len()),
        created_dirs: Vec::new(),
    };
    for s in stage_all(writes, &mut prepared.created_dirs)? {
        let kept = keep_aside(&s).map_err(|(path, source)| Error::RenameUndone { path, source })?;
        prepared.staged.push((s, kept));
    }
    Ok(prepared)
}

impl Prepared {
    /// Move every staged file into place, all or nothing.
    pub fn commit(mut self) -> Result<()> {
        let mut placed: Vec<Placed> = Vec::with_capacity(self.staged.len());
        let mut staged = std::mem::take(&mut self.staged).into_iter();
        let failed = staged
            .by_ref()
            .find_map(|(s, kept)| place(s, kept, &mut placed).err());
        // The temporaries not moved go first, so the directories made for them are empty.
        drop(staged);
        if let Some((path, source)) = failed {
            let not_undone = undo(placed);
            // `drop(self)` removes the directories this change made.
            return Err(if not_undone.is_empty() {
                Error::RenameUndone { path, source }
            } else {
                Error::Rename {
                    path,
                    source,
                    written: not_undone,
                }
            });
        }
        // Every file is in place: the directories stay, and the kept copies go (each
        // removed as it is dropped).
        self.created_dirs.clear();
        drop(placed);
        Ok(())
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        self.staged.clear();
        remove_created_dirs(&self.created_dirs);
    }
}

/// The file `s` replaces, hard-linked aside in its directory (`None` for a new file).
fn keep_aside(s: &Staged) -> std::result::Result<Option<NamedTempFile<()>>, (PathBuf, io::Error)> {
    if !s.replaces {
        return Ok(None);
    }
    let dir = parent_dir(&s.target);
    tempfile::Builder::new()
        .prefix(".azu-session-")
        .suffix(".orig")
        .make_in(&dir, |p| fs::hard_link(&s.target, p))
        .map(Some)
        .map_err(|e| (s.target.clone(), e))
}

/// Move `s` into place, its replaced file kept aside as `kept`.
fn place(
    s: Staged,
    kept: Option<NamedTempFile<()>>,
    placed: &mut Vec<Placed>,
) -> std::result::Result<(), (PathBuf, io::Error)> {
    match s.tmp.persist(&s.target) {
        Ok(_) => {
            placed.push(Placed {
                target: s.target,
                kept,
            });
            Ok(())
        }
        Err(e) => Err((s.target, e.error)),
    }
}

/// Put back every placed file, last first. Returns the files that could not be put back.
fn undo(placed: Vec<Placed>) -> Vec<String> {
    let mut failed = Vec::new();
    for p in placed.into_iter().rev() {
        let ok = match p.kept {
            Some(kept) => kept.persist(&p.target).is_ok(),
            None => fs::remove_file(&p.target).is_ok(),
        };
        if !ok {
            failed.push(p.target.display().to_string());
        }
    }
    failed.reverse();
    failed
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn stage_all(writes: &[PlannedWrite], created_dirs: &mut Vec<PathBuf>) -> Result<Vec<Staged>> {
    let mut staged = Vec::with_capacity(writes.len());
    for write in writes {
        let target = resolve(&write.path)?;
        let dir = parent_dir(&target);
        refuse_append_only(&dir)?;
        create_dir_tracked(&dir, created_dirs)?;
        staged.push(stage(write, target, &dir)?);
    }
    Ok(staged)
}

/// Refuse to make anything in a directory marked append-only (`chattr +a`), checked on the
/// nearest one of `dir` and its parents that exists (where the first new entry would go): a
/// file can be created there but never renamed or removed, so neither the change nor its
/// undo could finish, and its temporaries would stay. Found here, before anything is made.
fn refuse_append_only(dir: &Path) -> Result<()> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        let d = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        if d.exists() {
            return match append_only(d) {
                true => Err(Error::AppendOnly(d.to_path_buf())),
                false => Ok(()),
            };
        }
        cur = d.parent();
    }
    Ok(())
}

/// Whether `dir` is marked append-only; false where that cannot be read (no such flags on
/// its filesystem, or not Linux).
#[cfg(target_os = "linux")]
fn append_only(dir: &Path) -> bool {
    File::open(dir)
        .ok()
        .and_then(|f| rustix::fs::ioctl_getflags(&f).ok())
        .is_some_and(|flags| flags.contains(rustix::fs::IFlags::APPEND))
}

#[cfg(not(target_os = "linux"))]
fn append_only(_dir: &Path) -> bool {
    false
}

fn stage(write: &PlannedWrite, target: PathBuf, dir: &Path) -> Result<Staged> {
    let err = |e| Error::write(&target, e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".azu-session-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(&write.contents).map_err(err)?;
    let old = match fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::read(&target, e)),
    };
    let ours = tmp.as_file().metadata().map_err(err)?;
    // The owner and group it must have: the replaced file's; for a new file made by root,
    // its directory's (a user's project stays the user's); otherwise as created.
    let owner = match &old {
        Some(meta) => Some((meta.uid(), meta.gid())),
        None if ours.uid() == 0 => {
            let meta = fs::metadata(dir).map_err(|e| Error::read(dir, e))?;
            Some((meta.uid(), meta.gid()))
        }
        None => None,
    };
    if let Some((uid, gid)) = owner
        && (uid, gid) != (ours.uid(), ours.gid())
    {
        std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid)).map_err(|e| {
            Error::Owner {
                path: target.clone(),
                uid,
                gid,
                source: e,
            }
        })?;
    }
    // The mode after the owner: changing the owner clears the set-id bits.
    let mode = match &old {
        Some(meta) => meta.permissions().mode() & 0o7777,
        None => write.new_mode,
    };
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    Ok(Staged {
        tmp,
        replaces: old.is_some(),
        target,
    })
}

/// `create_dir_all`, remembering each directory it made so a failure can take them back.
/// When run as root, a new directory gets the owner and group of the one it is made in.
fn create_dir_tracked(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        fs::create_dir(&d).map_err(|e| Error::write(&d, e))?;
        created.push(d.clone());
        let made = fs::metadata(&d).map_err(|e| Error::read(&d, e))?;
        if made.uid() == 0 {
            let parent = parent_dir(&d);
            let meta = fs::metadata(&parent).map_err(|e| Error::read(&parent, e))?;
            if (meta.uid(), meta.gid()) != (made.uid(), made.gid()) {
                std::os::unix::fs::chown(&d, Some(meta.uid()), Some(meta.gid())).map_err(|e| {
                    Error::Owner {
                        path: d.clone(),
                        uid: meta.uid(),
                        gid: meta.gid(),
                        source: e,
                    }
                })?;
            }
        }
    }
    Ok(())
}

fn remove_created_dirs(created: &[PathBuf]) {
    for d in created.iter().rev() {
        // Only ever empty directories this run made; if something else appeared, keep it.
        let _ = fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests;
