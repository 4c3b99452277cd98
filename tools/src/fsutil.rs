//! Writes that a crash or a full disk cannot leave half done.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
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
            "{} already exists; refusing to overwrite it",
            path.display()
        );
    }
    let tmp = temp_beside(path);
    let result = (|| -> anyhow::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        match existing {
            Existing::Replace => {
                fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?
            }
            Existing::Refuse => {
                fs::hard_link(&tmp, path).with_context(|| {
                    format!("{} already exists or cannot be created", path.display())
                })?;
                fs::remove_file(&tmp).with_context(|| format!("remove {}", tmp.display()))?;
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
