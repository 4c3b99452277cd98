//! The store's two lock files, opened without following links: `LOCK` (the one writer, for
//! its lifetime) and `SNAPSHOT` (exclusive around each mutation, shared by readers), both
//! waited for a bounded time.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::string::ToString;

use super::{DirStorage, Storage, StoreError, SNAPSHOT_FILE};

/// An flock held until dropped.
#[derive(Debug)]
pub(super) struct FileLock(pub(super) File);

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.0);
    }
}

/// Opens a lock file without following a symbolic link. A non-regular entry in its place is
/// removed first when writable (it is never state, and may point anywhere).
pub(super) fn open_lock_file(dir: &Path, name: &str, write: bool) -> std::io::Result<Option<File>> {
    let path = dir.join(name);
    if write {
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.is_file() {
                DirStorage::new(dir)?.remove(name)?;
            }
        }
    }
    let mut options = OpenOptions::new();
    options.read(true);
    if write {
        options.write(true).create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    match options.open(&path) {
        Ok(f) if f.metadata()?.is_file() => Ok(Some(f)),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            std::format!("{name} is not a regular file"),
        )),
        Err(e) if !write && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn lock_io(dir: &Path, file: &str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        op: "lock",
        file: dir.join(file).display().to_string(),
        source,
    }
}

#[cfg(unix)]
pub(super) fn is_read_only_fs(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EROFS)
}

#[cfg(not(unix))]
pub(super) fn is_read_only_fs(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
}

/// How long a read-only open waits for a writer's mutation, or a writer for readers, before
/// it reports [`StoreError::Busy`]: a commit is a few fsyncs and a read a few small files,
/// well under a second even on slow flash. Bounded both ways, so that a process holding
/// SNAPSHOT (anyone who can read the directory can flock it) delays an update, never hangs it.
pub(super) const SNAPSHOT_WAIT: core::time::Duration = core::time::Duration::from_secs(5);

#[derive(Clone, Copy)]
pub(super) enum LockKind {
    Shared,
    Exclusive,
}

/// Takes `file`'s flock within [`SNAPSHOT_WAIT`], retrying every 20 ms, else `Busy`.
pub(super) fn lock_within(file: File, kind: LockKind, dir: &Path) -> Result<FileLock, StoreError> {
    let deadline = std::time::Instant::now() + SNAPSHOT_WAIT;
    loop {
        let attempt = match kind {
            LockKind::Shared => fs4::FileExt::try_lock_shared(&file),
            LockKind::Exclusive => fs4::FileExt::try_lock(&file),
        };
        match attempt {
            Ok(()) => return Ok(FileLock(file)),
            Err(fs4::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(core::time::Duration::from_millis(20));
            }
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    dir: dir.to_path_buf(),
                    pid: None,
                })
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_io(dir, SNAPSHOT_FILE, e)),
        }
    }
}

/// The pid a writer recorded in its `LOCK` file: at most 16 bytes of decimal digits, or
/// nothing. The file is never trusted beyond naming a process in a message.
pub(super) fn lock_holder(lock: &mut File) -> Option<u32> {
    use std::io::{Read as _, Seek as _};
    let mut text = [0u8; 16];
    lock.seek(std::io::SeekFrom::Start(0)).ok()?;
    let n = lock.read(&mut text).ok()?;
    core::str::from_utf8(&text[..n]).ok()?.trim().parse().ok()
}

/// Records this process in the `LOCK` file it holds, for [`lock_holder`]. Best effort: the
/// lock itself is the flock, not the file's contents.
pub(super) fn record_holder(lock: &mut File) {
    use std::io::{Seek as _, Write as _};
    let _ = lock.set_len(0);
    let _ = lock.seek(std::io::SeekFrom::Start(0));
    let _ = write!(lock, "{}", std::process::id());
    let _ = lock.sync_data();
}
