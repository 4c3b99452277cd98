//! Writes that a crash or a full disk cannot leave half done.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The temp file beside `path`. One fixed name, not one per process: a writer killed
/// mid-write leaves debris that the next write of the same file removes, instead of a new
/// hidden file beside a device's CA file every time.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync {}", parent.display()))
}

/// Whether an existing file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existing {
    Replace,
    Refuse,
}

impl Existing {
    /// `--force` replaces; without it an existing file is kept (it may hold signatures).
    pub(crate) fn unless_forced(force: bool) -> Self {
        if force {
            Self::Replace
        } else {
            Self::Refuse
        }
    }
}

/// Where a command writes: a file, or standard output for `-`.
pub(crate) fn write_out(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .and_then(|()| out.flush())
            .context("write standard output")?;
        return Ok(());
    }
    write_atomic(path, bytes, mode, existing)
}

/// Temp file (with `mode`), fsync, then rename (or, with `Existing::Refuse`, hard-link, which
/// fails instead of replacing), fsync the directory. The temp file never outlives a failure.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> anyhow::Result<()> {
    if existing == Existing::Refuse && path.exists() {
        bail!(
            "{} already exists; refusing to overwrite it (--force replaces it)",
            path.display()
        );
    }
    let tmp = temp_beside(path);
    // Debris of a killed writer; a link there is removed, never followed (create_new below
    // refuses anything that reappears).
    // Errors name the file the user gave, never the temporary one.
    let target = || format!("write {}", path.display());
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).with_context(target),
        _ => {}
    }
    let result = (|| -> anyhow::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(target)?;
        f.write_all(bytes).with_context(target)?;
        f.sync_all().with_context(target)?;
        match existing {
            Existing::Replace => {
                fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?
            }
            Existing::Refuse => {
                fs::hard_link(&tmp, path).with_context(|| {
                    format!("{} already exists or cannot be created", path.display())
                })?;
                fs::remove_file(&tmp).with_context(target)?;
            }
        }
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("read {}", path.display()))
}

pub(crate) fn read_string(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}
