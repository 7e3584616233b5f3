//! Continuing an interrupted whole-object download: what is already in the destination
//! ([`Resume`], given as [`Config::resume`](crate::Config::resume)), and the journal that records
//! it as ranges land ([`Journal`]).
//!
//! The journal is text, one fact a line, appended as the download goes:
//!
//! ```text
//! stowage-journal 1
//! url http://host:8080/v1/objects/bucket/name?provider=ais
//! size 1073741824
//! chunk 8388608
//! etag "5d41402abc4b2a76b9719d911017c592"
//! version 3
//! done 0
//! done 2
//! ```
//!
//! `etag` and `version` (AIStore's `ais-version`) are there when the object's first answer
//! carried them; a resumed download refuses to go on when the object now answers with other
//! ones ([`DownloadError::ObjectChanged`](crate::DownloadError::ObjectChanged)) or another size
//! ([`DownloadError::SizeChanged`](crate::DownloadError::SizeChanged)). Each `done i` line is
//! written after range `i` ([`Plan::range`]) is in the destination. A last line without its
//! newline (the process was stopped mid-write) is ignored; anything else that does not parse
//! is a [`JournalError`].
//!
//! A range is recorded once the destination has it, not once it is on disk: the journal
//! survives the process being stopped, not the machine losing power.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use http::Uri;

use crate::Plan;

/// What an interrupted download of the whole object left in its destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    /// The object's size then.
    pub size: u64,
    /// The range size it was cut in (the resumed download is cut the same).
    pub chunk: u64,
    /// The object's `ETag` then, if it had one.
    pub etag: Option<String>,
    /// The object's `ais-version` then, if it had one.
    pub version: Option<String>,
    /// The ranges already in the destination, by index in the plan ([`Plan::range`]).
    pub done: BTreeSet<u64>,
}

impl Resume {
    /// Bytes already in the destination.
    pub fn bytes(&self) -> u64 {
        let plan = Plan::new(self.size, 0, None, self.chunk);
        self.done.iter().filter_map(|&index| plan.range(index)).map(|range| range.len()).sum()
    }
}

/// The journal's first line, with its format version.
const MAGIC: &str = "stowage-journal 1";

/// The journal of a download: its lines, and reading them back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journal {
    /// The URL the download was of.
    pub url: String,
    /// What it had done.
    pub resume: Resume,
}

/// Why a journal cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// It does not start with `stowage-journal 1`.
    #[error("not a stowage journal (or of another version)")]
    NotAJournal,
    /// A line that is not one of the journal's.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A fact it must state is missing.
    #[error("no {0} line")]
    Missing(&'static str),
    /// Of a download of another object.
    #[error("it records a download of {journal}, not {url}")]
    OtherObject {
        /// The URL the journal records.
        journal: String,
        /// The URL asked for.
        url: String,
    },
}

impl Journal {
    /// The lines that open the journal of a download of `url`, cut as `plan` (of the whole
    /// object), whose first answer carried `etag` and `version`.
    pub fn header(url: &Uri, plan: &Plan, etag: Option<&str>, version: Option<&str>) -> String {
        let mut text = format!("{MAGIC}\nurl {url}\nsize {}\nchunk {}\n", plan.size, plan.chunk);
        for (key, value) in [("etag", etag), ("version", version)] {
            if let Some(value) = value {
                let _ = writeln!(text, "{key} {value}");
            }
        }
        text
    }

    /// The line that records range `index` as in the destination.
    pub fn done(index: u64) -> String {
        format!("done {index}\n")
    }

    /// Reads a journal back.
    pub fn parse(text: &[u8]) -> Result<Journal, JournalError> {
        // A last line cut short by an interruption is dropped.
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(&text[..0], |end| &text[..end]);
        let text = std::str::from_utf8(complete).map_err(|_| JournalError::NotAJournal)?;
        let mut lines = text.split('\n');
        if lines.next() != Some(MAGIC) {
            return Err(JournalError::NotAJournal);
        }
        let (mut url, mut size, mut chunk) = (None, None, None);
        let mut resume = Resume::default();
        for (line, text) in lines.enumerate().map(|(i, text)| (i + 2, text)) {
            let malformed = |reason| JournalError::Malformed { line, reason };
            let (key, value) = text.split_once(' ').ok_or(malformed("not `key value`"))?;
            let number = || value.parse::<u64>().map_err(|_| malformed("not a number"));
            match key {
                "url" => url = Some(value.to_owned()),
                "size" => size = Some(number()?),
                "chunk" => chunk = Some(number()?).filter(|&c| c > 0),
                "etag" => resume.etag = Some(visible(value).ok_or(malformed("an ETag that is not visible ASCII"))?),
                "version" => {
                    resume.version = Some(visible(value).ok_or(malformed("a version that is not visible ASCII"))?)
                }
                "done" => {
                    resume.done.insert(number()?);
                }
                _ => return Err(malformed("an unknown key")),
            }
        }
        resume.size = size.ok_or(JournalError::Missing("size"))?;
        resume.chunk = chunk.ok_or(JournalError::Missing("chunk (at least 1)"))?;
        let plan = Plan::new(resume.size, 0, None, resume.chunk);
        if let Some(&index) = resume.done.iter().next_back()
            && plan.range(index).is_none()
        {
            return Err(JournalError::Malformed { line: 0, reason: "a done range past the object's end" });
        }
        Ok(Journal { url: url.ok_or(JournalError::Missing("url"))?, resume })
    }

    /// Checks that the journal is of the object at `url`: the same scheme, host, port and path
    /// (the query may differ: a presigned URL is signed anew).
    pub fn check_url(&self, url: &Uri) -> Result<(), JournalError> {
        let other = || JournalError::OtherObject { journal: self.url.clone(), url: url.to_string() };
        let recorded: Uri = self.url.parse().map_err(|_| other())?;
        let same = recorded.scheme() == url.scheme()
            && recorded.authority() == url.authority()
            && recorded.path() == url.path();
        if same { Ok(()) } else { Err(other()) }
    }
}

/// `value` if it is visible ASCII (what a header value may be), else `None`.
fn visible(value: &str) -> Option<String> {
    value.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t').then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::new(10, 0, None, 4)
    }

    #[test]
    fn a_journal_reads_back_what_was_written() {
        let url: Uri = "http://h:1/v1/objects/b/o?provider=ais".parse().unwrap();
        let mut text = Journal::header(&url, &plan(), Some("\"abc\""), Some("3"));
        text.push_str(&Journal::done(2));
        text.push_str(&Journal::done(0));
        let journal = Journal::parse(text.as_bytes()).unwrap();
        assert_eq!(journal.url, url.to_string());
        let done = BTreeSet::from([0, 2]);
        let expected = Resume { size: 10, chunk: 4, etag: Some("\"abc\"".into()), version: Some("3".into()), done };
        assert_eq!(journal.resume, expected);
        assert_eq!(journal.resume.bytes(), 4 + 2);
        // A resigned URL is the same object; another path is not.
        journal.check_url(&"http://h:1/v1/objects/b/o?provider=ais&sig=2".parse().unwrap()).unwrap();
        assert!(journal.check_url(&"http://h:1/v1/objects/b/p".parse().unwrap()).is_err());
    }

    #[test]
    fn a_line_cut_short_is_dropped() {
        let url: Uri = "http://h/o".parse().unwrap();
        let text = format!("{}done 1\ndone 2", Journal::header(&url, &plan(), None, None));
        let journal = Journal::parse(text.as_bytes()).unwrap();
        assert_eq!(journal.resume.done, BTreeSet::from([1]));
        assert_eq!((journal.resume.etag, journal.resume.version), (None, None));
    }

    #[test]
    fn what_is_not_a_journal_is_refused() {
        let header = Journal::header(&"http://h/o".parse().unwrap(), &plan(), None, None);
        let cases: [(String, JournalError); 7] = [
            (String::new(), JournalError::NotAJournal),
            ("stowage-journal 2\n".into(), JournalError::NotAJournal),
            (format!("{header}done x\n"), JournalError::Malformed { line: 5, reason: "not a number" }),
            (format!("{header}nonsense\n"), JournalError::Malformed { line: 5, reason: "not `key value`" }),
            (format!("{header}what 1\n"), JournalError::Malformed { line: 5, reason: "an unknown key" }),
            ("stowage-journal 1\nurl u\nchunk 4\n".into(), JournalError::Missing("size")),
            (
                format!("{header}done 3\n"),
                JournalError::Malformed { line: 0, reason: "a done range past the object's end" },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(Journal::parse(text.as_bytes()), Err(error), "{text:?}");
        }
        let zero_chunk = "stowage-journal 1\nurl u\nsize 1\nchunk 0\n";
        assert_eq!(Journal::parse(zero_chunk.as_bytes()), Err(JournalError::Missing("chunk (at least 1)")));
        assert!(matches!(Journal::parse(b"stowage-journal 1\n\xff\n"), Err(JournalError::NotAJournal)));
    }
}
