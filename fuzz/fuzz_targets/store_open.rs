//! Opening a trust store on arbitrary directory contents: never panics, never yields zero
//! anchors, and its status serializes. Input: a sequence of files, each
//! `[name length u8][name][content length u16 LE][content]`. A name starting with `!` plants a
//! non-regular entry (a symbolic link, say) under the rest of the name: it lists as
//! `EntryKind::Other` and refuses to be read, as `DirStorage` does.
#![no_main]

#[path = "common.rs"]
mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;

use aws_iot_roots::store::{Entry, EntryKind, Storage, StoreConfig, TrustStore};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Mem(RefCell<BTreeMap<String, (EntryKind, Vec<u8>)>>);

impl Storage for Mem {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        match self.0.borrow().get(name) {
            Some((EntryKind::File, d)) if d.len() > max => {
                Err(io::Error::new(io::ErrorKind::InvalidData, "too large"))
            }
            Some((EntryKind::File, d)) => Ok(Some(d.clone())),
            Some(_) => Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file")),
            None => Ok(None),
        }
    }
    fn list(&self) -> io::Result<Vec<Entry>> {
        Ok(self
            .0
            .borrow()
            .iter()
            .map(|(name, (kind, _))| Entry { name: name.clone(), kind: *kind })
            .collect())
    }
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.0
            .borrow_mut()
            .insert(name.to_owned(), (EntryKind::File, bytes.to_vec()));
        Ok(())
    }
    fn sync(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let d = self.0.borrow_mut().remove(from).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        self.0.borrow_mut().insert(to.to_owned(), d);
        Ok(())
    }
    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.0.borrow_mut().remove(name);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mem = Mem::default();
    let mut rest = data;
    while let [n, tail @ ..] = rest {
        let n = *n as usize;
        if tail.len() < n + 2 {
            break;
        }
        let name = String::from_utf8_lossy(&tail[..n]).into_owned();
        let len = u16::from_le_bytes([tail[n], tail[n + 1]]) as usize;
        let content = &tail[n + 2..];
        let take = len.min(content.len());
        let (kind, name) = match name.strip_prefix('!') {
            Some(rest) => (EntryKind::Other, rest.to_owned()),
            None => (EntryKind::File, name),
        };
        mem.0.borrow_mut().insert(name, (kind, content[..take].to_vec()));
        rest = &content[take..];
    }
    let Ok(mut store) = TrustStore::open_with(mem, StoreConfig::new(common::FLEET, common::signers())) else { return };
    assert!(!store.anchors().is_empty(), "zero anchors after open");
    let floors = store.floors().version;
    let status = store.status(common::at(common::CLOCK));
    assert!(!status.roots.is_empty());
    // Whatever was on disk, a newer signed bundle is still judged against floors that did not
    // go below what the files claimed.
    let _ = store.stage(b"{}", common::at(common::CLOCK));
    assert_eq!(store.floors().version, floors);
});
