//! What opening a store found and dealt with: typed, for the fleet backend and the CLI.

use core::fmt;
use std::string::String;

use serde::Serialize;

/// One thing [`super::TrustStore::open`] found in the state directory and dealt with. The
/// active roots and floors are already what they should be; a note says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Note {
    /// The state file it concerns, by its name in the state directory (or the directory).
    pub file: String,
    /// What was found.
    pub kind: NoteKind,
    /// What was found and done, in words.
    pub detail: String,
}

/// What a [`Note`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NoteKind {
    /// An entry where state belongs is not a regular file (a symbolic link, a directory, a
    /// FIFO): never followed; removed when the store can write.
    NotARegularFile,
    /// The file could not be read.
    Unreadable,
    /// The file is corrupt or torn: checksum mismatch, or a record that does not decode.
    Corrupt,
    /// A committed generation failed re-verification, so an older one (or the compiled-in
    /// roots) serves instead.
    FailedReverification,
    /// The floor record belongs to another fleet and was ignored.
    OtherFleet,
    /// The staged bundle was already committed or superseded, and was cleared.
    StagedCleared,
    /// The staged bundle had been discarded, and was cleared.
    StagedDiscarded,
    /// The directory is on a read-only file system: the committed roots are served and
    /// updates refused.
    ReadOnlyFileSystem,
    /// The snapshot lock could not be used, so the directory was read without it.
    SnapshotLockUnusable,
}

impl Note {
    pub(super) fn new(file: impl Into<String>, kind: NoteKind, detail: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.detail)
    }
}
