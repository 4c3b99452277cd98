//! Lowercase hex: the one spelling of hashes and key ids in files, errors and output.
//!
//! Shared verbatim with build.rs (`#[path]`), which writes the same spelling into the
//! generated tables' comments and its errors.

use alloc::string::String;
use core::fmt;

/// `bytes` as lowercase hex, for `{}` formatting without an allocation.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// `bytes` as a lowercase hex string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    // Writing to a String cannot fail.
    let _ = write!(s, "{}", Hex(bytes));
    s
}
