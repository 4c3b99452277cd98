//! Where the trust store keeps its files, as a trait so that tests can inject faults and power
//! loss at every step, and the one way state is ever written: sealed, then atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use sha2::{Digest, Sha256};

use crate::hex::hex;

/// What kind of entry a directory listing found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file: the only kind the store reads.
    File,
    /// A symbolic link, directory, FIFO, socket or device: never state. The store removes
    /// such an entry where a state file or debris belongs, and never follows or opens it.
    Other,
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// Its kind, as `lstat` sees it (a symbolic link is [`EntryKind::Other`]).
    pub kind: EntryKind,
}

/// The file operations the trust store uses, in the order that makes a write durable:
/// `write` a temporary file, `sync` it, `rename` it over the target, `sync_dir`.
///
/// Names are plain file names inside one directory. Implement it to put the store on
/// something other than a local directory, or (in tests) to fail or lose power at any step.
///
/// # Security
///
/// No operation may follow a symbolic link or open anything but a regular file: a hostile
/// entry in the state directory must never redirect a read or a write outside it.
pub trait Storage {
    /// Reads a whole regular file, or `None` if it does not exist. Reads at most `max`
    /// bytes: a larger file, or an entry that is not a regular file (a symbolic link
    /// included), is an error of kind `InvalidData`.
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>>;
    /// Lists every entry of the directory, whatever its kind.
    fn list(&self) -> io::Result<Vec<Entry>>;
    /// Creates `name` as a new regular file holding `bytes` (not yet durable). Whatever was
    /// at `name` before is removed first, never opened: a symbolic link is not written
    /// through.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes the regular file `name`'s contents durable (fsync).
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Renames `from` over `to`, atomically.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Removes the entry `name`, whatever its kind (a directory with its contents), never
    /// following a symbolic link; removing a missing entry is not an error.
    fn remove(&self, name: &str) -> io::Result<()>;
}

/// A local directory.
#[derive(Debug)]
pub struct DirStorage {
    dir: PathBuf,
}

impl DirStorage {
    /// Uses `dir`, creating it (and missing parents) if needed, durably: each new directory's
    /// parent is fsynced after the creation, so a commit made in it cannot vanish with the
    /// directory at power loss.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created or its parent synced.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        create_dirs(&dir, &mut RealDirs)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Opens a regular file without following a symbolic link, and without blocking on a
    /// FIFO; anything else is refused before a byte is read or written.
    fn open_regular(&self, name: &str, options: &mut OpenOptions) -> io::Result<File> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let file = options.open(self.path(name)).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return not_regular(name);
            }
            e
        })?;
        if !file.metadata()?.is_file() {
            return Err(not_regular(name));
        }
        Ok(file)
    }
}

fn not_regular(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        std::format!(
            "{name} is not a regular file (a symbolic link, directory or device); never followed"
        ),
    )
}

impl Storage for DirStorage {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        let file = match self.open_regular(name, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        // One byte more than allowed tells "too large" from "exactly the limit".
        file.take(max as u64 + 1).read_to_end(&mut out)?;
        if out.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                std::format!("{name} is larger than {max} bytes"),
            ));
        }
        Ok(Some(out))
    }

    fn list(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            // DirEntry::file_type does not follow symbolic links.
            let kind = if entry.file_type()?.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            entries.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.remove(name)?;
        // O_CREAT | O_EXCL: fails on any existing entry, a symbolic link included (POSIX),
        // so a link planted between the removal and here is never written through.
        let mut f = self.open_regular(name, OpenOptions::new().write(true).create_new(true))?;
        f.write_all(bytes)
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        self.open_regular(name, OpenOptions::new().write(true))?
            .sync_all()
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        // rename(2) replaces the entry `to`; it never follows a link there.
        fs::rename(self.path(from), self.path(to))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let path = self.path(name);
        let result = match fs::symlink_metadata(&path) {
            // remove_dir_all does not follow symbolic links inside the tree it removes.
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) => Err(e),
        };
        match result {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Directory operations, so that the creation order can be checked against a power-loss
/// model in the unit tests.
trait DirOps {
    fn is_dir(&self, path: &Path) -> bool;
    fn create(&mut self, path: &Path) -> io::Result<()>;
    fn sync(&mut self, path: &Path) -> io::Result<()>;
}

struct RealDirs;

impl DirOps for RealDirs {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn create(&mut self, path: &Path) -> io::Result<()> {
        match fs::create_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            other => other,
        }
    }
    fn sync(&mut self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

/// The directory holding `path` ("." for a bare relative name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing parents, top down, fsyncing the directory that holds each
/// new one: a new directory entry is only durable once its parent is synced (POSIX; ext4 and
/// XFS without a journal commit in between lose it at power loss, with everything in it).
fn create_dirs(dir: &Path, ops: &mut dyn DirOps) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut p = dir;
    while !ops.is_dir(p) {
        missing.push(p);
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        ops.create(d)?;
        ops.sync(parent_dir(d))?;
    }
    Ok(())
}

/// Suffix of temporary files. Anything with it is debris from an interrupted write: never
/// state, removed on open.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// A failed storage operation, with what was being done to which file.
#[derive(Debug)]
pub(crate) struct OpError {
    pub(crate) op: &'static str,
    pub(crate) name: String,
    pub(crate) source: io::Error,
}

fn op<T>(op: &'static str, name: &str, r: io::Result<T>) -> Result<T, OpError> {
    r.map_err(|source| OpError {
        op,
        name: name.into(),
        source,
    })
}

/// Writes `bytes` to `name` so that after a crash at any instant the file holds either its
/// old contents or exactly `bytes`: temp file, fsync, rename, fsync the directory (RAUC's
/// order). The temp file is removed if any step fails.
pub(crate) fn write_atomic(s: &dyn Storage, name: &str, bytes: &[u8]) -> Result<(), OpError> {
    let tmp = std::format!("{name}{TMP_SUFFIX}");
    let result = (|| {
        op("write", &tmp, s.write(&tmp, bytes))?;
        op("fsync", &tmp, s.sync(&tmp))?;
        op("rename", name, s.rename(&tmp, name))?;
        op("fsync directory", name, s.sync_dir())
    })();
    if result.is_err() {
        let _ = s.remove(&tmp);
    }
    result
}

/// Removes a file and makes the removal durable.
pub(crate) fn remove_durably(s: &dyn Storage, name: &str) -> Result<(), OpError> {
    op("remove", name, s.remove(name))?;
    op("fsync directory", name, s.sync_dir())
}

/// State files carry their own SHA-256 on the first line, so bit rot or a torn write is
/// detected rather than parsed.
pub(crate) fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = hex(&Sha256::digest(body)).into_bytes();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The body of a sealed file, or `None` when its checksum does not match.
pub(crate) fn unseal(file: &[u8]) -> Option<&[u8]> {
    let (sum, body) = (file.get(..64)?, file.get(65..)?);
    (file.get(64) == Some(&b'\n') && sum == hex(&Sha256::digest(body)).as_bytes()).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory tree where a created directory is durable only once its parent is synced
    /// after the creation; `crash` drops the rest, and everything below it.
    #[derive(Default)]
    struct SimDirs {
        live: std::collections::BTreeSet<PathBuf>,
        durable: std::collections::BTreeSet<PathBuf>,
        skip_sync: bool,
    }

    impl SimDirs {
        fn with(root: &str) -> Self {
            let mut s = Self::default();
            s.live.insert(PathBuf::from(root));
            s.durable.insert(PathBuf::from(root));
            s
        }
        fn crash(&mut self) {
            // A directory survives when it and every tracked directory above it are durable
            // (untracked ancestors, such as "/", are given).
            let (live, durable) = (self.live.clone(), self.durable.clone());
            self.live.retain(|p| {
                p.ancestors()
                    .all(|a| !live.contains(a) || durable.contains(a))
            });
        }
    }

    impl DirOps for SimDirs {
        fn is_dir(&self, path: &Path) -> bool {
            self.live.contains(path)
        }
        fn create(&mut self, path: &Path) -> io::Result<()> {
            self.live.insert(path.to_path_buf());
            Ok(())
        }
        fn sync(&mut self, path: &Path) -> io::Result<()> {
            if !self.skip_sync {
                let children: Vec<PathBuf> = self
                    .live
                    .iter()
                    .filter(|c| parent_dir(c) == path)
                    .cloned()
                    .collect();
                self.durable.extend(children);
            }
            Ok(())
        }
    }

    #[test]
    fn a_new_state_directory_survives_power_loss() {
        let mut fs = SimDirs::with("/var");
        create_dirs(Path::new("/var/lib/roots/state"), &mut fs).expect("create");
        fs.crash();
        assert!(fs.is_dir(Path::new("/var/lib/roots/state")));

        // The model has teeth: without the parent fsyncs the same creation is lost.
        let mut fs = SimDirs::with("/var");
        fs.skip_sync = true;
        create_dirs(Path::new("/var/lib/roots/state"), &mut fs).expect("create");
        fs.crash();
        assert!(!fs.is_dir(Path::new("/var/lib/roots")));
    }

    #[test]
    fn a_relative_state_directory_syncs_the_working_directory() {
        let mut fs = SimDirs::with(".");
        create_dirs(Path::new("state"), &mut fs).expect("create");
        fs.crash();
        assert!(fs.is_dir(Path::new("state")));
    }

    #[test]
    fn sealed_files_detect_any_change() {
        let sealed = seal(br#"{"a":1}"#);
        assert_eq!(unseal(&sealed), Some(&br#"{"a":1}"#[..]));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(unseal(&bad), None, "flip at {i}");
        }
        assert_eq!(unseal(&sealed[..sealed.len() - 1]), None, "truncated");
        assert_eq!(unseal(b""), None);
    }
}
