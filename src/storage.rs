//! Where the trust store keeps its files, as a trait so that tests can inject faults and power
//! loss at every step, and the one way state is ever written: sealed, then atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use sha2::{Digest, Sha256};

use crate::keys::hex;

/// The file operations the trust store uses, in the order that makes a write durable:
/// `write` a temporary file, `sync` it, `rename` it over the target, `sync_dir`.
///
/// Names are plain file names inside one directory. Implement it to put the store on
/// something other than a local directory, or (in tests) to fail or lose power at any step.
pub trait Storage {
    /// Reads a whole file, or `None` if it does not exist. Reads at most `max` bytes: a
    /// larger file is an error of kind `InvalidData`.
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>>;
    /// Lists the directory's file names.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Creates or truncates `name` and writes `bytes` (not yet durable).
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes `name`'s contents durable (fsync).
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Renames `from` over `to`, atomically.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Removes `name`; removing a missing file is not an error.
    fn remove(&self, name: &str) -> io::Result<()>;
}

/// A local directory.
#[derive(Debug)]
pub struct DirStorage {
    dir: PathBuf,
}

impl DirStorage {
    /// Uses `dir`, creating it if missing.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Storage for DirStorage {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(self.path(name)) {
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

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(name))?;
        f.write_all(bytes)
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .open(self.path(name))?
            .sync_all()
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path(from), self.path(to))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
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
