//! Writing files so that a failure never leaves half a file or a stray temporary behind.
//!
//! A change to several files is staged first (every new content written and synced to a
//! temporary file in the target's own directory), and only when all are staged are they
//! renamed into place. A failure while staging removes the temporaries and any directory the
//! change created, so the tree is as it was.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// One file to write.
#[derive(Debug, Clone)]
pub struct PlannedWrite {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// Mode for a file that does not exist yet; an existing file keeps its own mode.
    pub new_mode: u32,
}

/// Write every planned file, all or nothing (as far as a filesystem allows: the renames are
/// the only step left after staging, and a rename within a directory does not half-happen).
pub fn write_all(writes: &[PlannedWrite]) -> Result<()> {
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let staged = stage_all(writes, &mut created_dirs);
    let staged = match staged {
        Ok(staged) => staged,
        Err(err) => {
            remove_created_dirs(&created_dirs);
            return Err(err);
        }
    };
    for (done, (tmp, write)) in staged.into_iter().zip(writes).enumerate() {
        tmp.persist(&write.path).map_err(|e| Error::Rename {
            path: write.path.clone(),
            source: e.error,
            written: writes[..done]
                .iter()
                .map(|w| w.path.display().to_string())
                .collect(),
        })?;
    }
    Ok(())
}

fn stage_all(
    writes: &[PlannedWrite],
    created_dirs: &mut Vec<PathBuf>,
) -> Result<Vec<NamedTempFile>> {
    let mut staged = Vec::with_capacity(writes.len());
    for write in writes {
        let dir = write
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        create_dir_tracked(&dir, created_dirs)?;
        staged.push(stage(write, &dir)?);
    }
    Ok(staged)
}

fn stage(write: &PlannedWrite, dir: &Path) -> Result<NamedTempFile> {
    let err = |e| Error::write(&write.path, e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".azu-session-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(&write.contents).map_err(err)?;
    let mode = match fs::metadata(&write.path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => write.new_mode,
    };
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    Ok(tmp)
}

/// `create_dir_all`, remembering each directory it made so a failure can take them back.
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
        created.push(d);
    }
    Ok(())
}

fn remove_created_dirs(created: &[PathBuf]) {
    for d in created.iter().rev() {
        // Only ever empty directories this run made; if something else appeared, keep it.
        let _ = fs::remove_dir(d);
    }
}
