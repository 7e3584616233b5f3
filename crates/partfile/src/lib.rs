//! The destination of a resumable download to a file: the bytes go to `FILE.part`, a journal
//! (`FILE.part.journal`, see [`stowage_ringslot::resume`]) records each range as it lands, and
//! only a complete download is renamed to `FILE` (after `fsync`), so `FILE` never holds a
//! partial object. An interrupted download leaves `FILE.part` and its journal for a later one
//! to continue ([`PartFile::open`] with `continuing`): only the missing ranges are fetched. A
//! download whose bytes do not match the object's checksum leaves nothing ([`PartFile::discard`]).
//!
//! Both drivers' `download` and `resume` use it; it does the file work, the
//! [`Transfer`](stowage_ringslot::transfer::Transfer) decides what to record.
//!
//! ```no_run
//! use stowage_partfile::PartFile;
//!
//! # fn main() -> Result<(), stowage_ringslot::transfer::GetError> {
//! let url = "http://localhost:8080/v1/objects/b/o?provider=ais".parse().unwrap();
//! let part = PartFile::open("o.bin".as_ref(), &url, true)?;
//! if let Some(resume) = part.resume() {
//!     println!("{} bytes already there", resume.bytes());
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::Uri;
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Journal, JournalError, Resume};

/// The largest journal read back: 64 MiB, a line per range of objects far larger than any disk.
const MAX_JOURNAL: u64 = 64 << 20;

/// A download's `FILE.part` and journal.
///
/// Invariant: `FILE` is written only by [`PartFile::commit`], by a rename.
#[derive(Debug)]
pub struct PartFile {
    /// `FILE`.
    path: PathBuf,
    /// `FILE.part`.
    part: PathBuf,
    /// `FILE.part.journal`.
    journal_path: PathBuf,
    /// `FILE.part`, open for reading and writing (positional IO).
    file: Arc<File>,
    /// The journal, open for appending.
    journal: File,
    /// What the interrupted download left, when continuing one.
    resume: Option<Resume>,
}

impl PartFile {
    /// The destination of a download of `url` to `path`.
    ///
    /// New (`continuing` false, or nothing to continue): `FILE.part` created or truncated, an
    /// empty journal. Continuing: `FILE.part` kept as it is and its journal read back
    /// ([`PartFile::resume`]); a journal of another object, or one that does not parse, is
    /// [`GetError::Journal`] (remove it, or download anew).
    pub fn open(path: &Path, url: &Uri, continuing: bool) -> Result<PartFile, GetError> {
        let (part, journal_path) = (with_suffix(path, ".part"), with_suffix(path, ".part.journal"));
        let resume = if continuing { read_journal(&journal_path, &part, url)? } else { None };
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| GetError::File { path, source }
        };
        let resuming = resume.is_some();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!resuming)
            .open(&part)
            .map_err(file_error(&part))?;
        let journal = OpenOptions::new()
            .append(true)
            .create(true)
            .truncate(false)
            .open(&journal_path)
            .map_err(file_error(&journal_path))?;
        if !resuming {
            journal.set_len(0).map_err(file_error(&journal_path))?;
        }
        Ok(PartFile { path: path.to_owned(), part, journal_path, file: Arc::new(file), journal, resume })
    }

    /// What the interrupted download left (`None`: a new download).
    pub fn resume(&self) -> Option<&Resume> {
        self.resume.as_ref()
    }

    /// `FILE.part`, to write the ranges into and read them back from.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Where the bytes go until the download is complete (`FILE.part`).
    pub fn part_path(&self) -> &Path {
        &self.part
    }

    /// Appends `lines` to the journal ([`RangeIo::record`](stowage_ringslot::transfer::RangeIo::record)).
    pub fn record(&mut self, lines: &str) -> Result<(), GetError> {
        self.journal
            .write_all(lines.as_bytes())
            .map_err(|source| GetError::File { path: self.journal_path.clone(), source })
    }

    /// The download is complete: `FILE.part` is synced and renamed to `FILE`, the journal
    /// removed.
    pub fn commit(self) -> Result<(), GetError> {
        let part_error = |source| GetError::File { path: self.part.clone(), source };
        self.file.sync_all().map_err(part_error)?;
        fs::rename(&self.part, &self.path).map_err(part_error)?;
        // Only a later `--continue` would read it, and there is nothing left to continue.
        let _ = fs::remove_file(&self.journal_path);
        Ok(())
    }

    /// The download to `path` failed for good (its bytes are not the object's): its
    /// `FILE.part` and journal are removed, nothing is left to continue from.
    pub fn discard(path: &Path) {
        let _ = fs::remove_file(with_suffix(path, ".part"));
        let _ = fs::remove_file(with_suffix(path, ".part.journal"));
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// What the journal at `path` says is in `part` already; `None` when there is nothing to
/// continue (no journal, an empty one, or no `part`).
fn read_journal(path: &Path, part: &Path, url: &Uri) -> Result<Option<Resume>, GetError> {
    let journal_error = |error| GetError::Journal { path: path.to_owned(), error };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(GetError::File { path: path.to_owned(), source }),
    };
    let mut text = Vec::new();
    file.take(MAX_JOURNAL + 1)
        .read_to_end(&mut text)
        .map_err(|source| GetError::File { path: path.to_owned(), source })?;
    if text.len() as u64 > MAX_JOURNAL {
        return Err(journal_error(JournalError::Malformed { line: 0, reason: "larger than 64 MiB" }));
    }
    if !text.contains(&b'\n') || !part.exists() {
        // Stopped before its first line, or the bytes are gone: start anew.
        return Ok(None);
    }
    let journal = Journal::parse(&text).map_err(journal_error)?;
    journal.check_url(url).map_err(journal_error)?;
    Ok(Some(journal.resume))
}

#[cfg(test)]
mod tests;
