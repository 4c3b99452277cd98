//! A simulated directory for the trust store, with a power-loss model and fault injection.
//!
//! File contents become durable only at `sync`; directory entries (creations, renames,
//! removals) only at `sync_dir`. Truncating a file is durable at once (ext4 without
//! `auto_da_alloc` can lose the new data but keep the truncation). `crash()` throws away all
//! that was not durable, as power loss does.
#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::rc::Rc;

use aws_iot_roots::store::{Entry, EntryKind, Storage};

#[derive(Clone, Default)]
struct Inner {
    next_inode: u64,
    dir: BTreeMap<String, u64>,
    durable_dir: BTreeMap<String, u64>,
    data: HashMap<u64, Vec<u8>>,
    durable_data: HashMap<u64, Vec<u8>>,
    /// Mutating operations so far.
    ops: usize,
    /// Power is lost when `ops` reaches this: that operation and every later one fail.
    crash_at: Option<usize>,
    powered_off: bool,
    /// The operation with this index fails with this OS error, power staying on.
    fail_at: Option<(usize, i32)>,
}

#[derive(Clone, Default)]
pub struct SimStorage(Rc<RefCell<Inner>>);

impl SimStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// An independent copy of the current state (durable and not).
    pub fn fork(&self) -> Self {
        Self(Rc::new(RefCell::new(self.0.borrow().clone())))
    }

    pub fn ops(&self) -> usize {
        self.0.borrow().ops
    }

    /// Power fails at the `k`-th mutating operation from now (0 = the next one).
    pub fn crash_after(&self, k: usize) {
        let mut i = self.0.borrow_mut();
        i.crash_at = Some(i.ops + k);
    }

    /// The `k`-th mutating operation from now fails with OS error `errno`.
    pub fn fail_after(&self, k: usize, errno: i32) {
        let mut i = self.0.borrow_mut();
        i.fail_at = Some((i.ops + k, errno));
    }

    /// Power loss and reboot: only what was durable survives.
    pub fn crash(&self) {
        let mut i = self.0.borrow_mut();
        i.dir = i.durable_dir.clone();
        let live: Vec<u64> = i.dir.values().copied().collect();
        i.data = live
            .iter()
            .map(|n| (*n, i.durable_data.get(n).cloned().unwrap_or_default()))
            .collect();
        i.crash_at = None;
        i.powered_off = false;
        i.fail_at = None;
    }

    pub fn names(&self) -> Vec<String> {
        self.0.borrow().dir.keys().cloned().collect()
    }

    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let i = self.0.borrow();
        i.dir.get(name).and_then(|n| i.data.get(n).cloned())
    }

    pub fn set_contents(&self, name: &str, bytes: Vec<u8>) {
        let mut i = self.0.borrow_mut();
        let n = *i.dir.get(name).expect("file exists");
        i.data.insert(n, bytes.clone());
        i.durable_data.insert(n, bytes);
    }

    fn mutate(&self) -> io::Result<()> {
        let mut i = self.0.borrow_mut();
        if i.powered_off {
            return Err(io::Error::other("power is off"));
        }
        let k = i.ops;
        i.ops += 1;
        if i.crash_at == Some(k) {
            i.powered_off = true;
            return Err(io::Error::other("power lost"));
        }
        if let Some((at, errno)) = i.fail_at {
            if at == k {
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        Ok(())
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, name.to_owned())
}

impl Storage for SimStorage {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        let i = self.0.borrow();
        if i.powered_off {
            return Err(io::Error::other("power is off"));
        }
        match i.dir.get(name).and_then(|n| i.data.get(n)) {
            Some(d) if d.len() > max => {
                Err(io::Error::new(io::ErrorKind::InvalidData, "too large"))
            }
            Some(d) => Ok(Some(d.clone())),
            None => Ok(None),
        }
    }

    fn list(&self) -> io::Result<Vec<Entry>> {
        let i = self.0.borrow();
        if i.powered_off {
            return Err(io::Error::other("power is off"));
        }
        Ok(i.dir
            .keys()
            .map(|name| Entry {
                name: name.clone(),
                kind: EntryKind::File,
            })
            .collect())
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.mutate()?;
        let mut i = self.0.borrow_mut();
        // As the trait says: whatever was at `name` is replaced by a new file (a new inode),
        // never opened.
        i.next_inode += 1;
        let n = i.next_inode;
        i.dir.insert(name.to_owned(), n);
        i.data.insert(n, bytes.to_vec());
        i.durable_data.insert(n, Vec::new());
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        self.mutate()?;
        let mut i = self.0.borrow_mut();
        let n = *i.dir.get(name).ok_or_else(|| not_found(name))?;
        let d = i.data.get(&n).cloned().unwrap_or_default();
        i.durable_data.insert(n, d);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.mutate()?;
        let mut i = self.0.borrow_mut();
        let n = i.dir.remove(from).ok_or_else(|| not_found(from))?;
        i.dir.insert(to.to_owned(), n);
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        self.mutate()?;
        let mut i = self.0.borrow_mut();
        i.durable_dir = i.dir.clone();
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.mutate()?;
        self.0.borrow_mut().dir.remove(name);
        Ok(())
    }
}
