//! Opening a trust store on arbitrary directory contents: never panics, never yields zero
//! anchors, and its status serializes. Input: a sequence of files, each
//! `[name length u8][name][content length u16 LE][content]`.
#![no_main]

#[path = "common.rs"]
mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;

use aws_iot_roots::store::{Storage, StoreConfig, TrustStore};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Mem(RefCell<BTreeMap<String, Vec<u8>>>);

impl Storage for Mem {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        match self.0.borrow().get(name) {
            Some(d) if d.len() > max => Err(io::Error::new(io::ErrorKind::InvalidData, "too large")),
            other => Ok(other.cloned()),
        }
    }
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.0.borrow().keys().cloned().collect())
    }
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.borrow_mut().insert(name.to_owned(), bytes.to_vec());
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
        mem.0.borrow_mut().insert(name, content[..take].to_vec());
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
