//! Fuzzes the resume journal's reader with any bytes, and checks:
//!
//! - nothing panics, whatever the bytes (a cut-short last line, huge numbers, bad UTF-8);
//! - what it reads is usable: the chunk is at least 1, every done range is inside the object,
//!   and the bytes it says are done are at most the object's size;
//! - what it reads, written again as a journal, reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_ringslot::{Journal, Plan};

fuzz_target!(|data: &[u8]| {
    let Ok(journal) = Journal::parse(data) else { return };
    let resume = &journal.resume;
    assert!(resume.chunk >= 1);
    let plan = Plan::new(resume.size, 0, None, resume.chunk);
    assert!(resume.done.iter().all(|&index| plan.range(index).is_some()));
    assert!(resume.bytes() <= resume.size);
    let Ok(url) = journal.url.parse::<http::Uri>() else { return };
    if url.to_string() != journal.url {
        return;
    }
    let mut text = Journal::header(&url, &plan, resume.etag.as_deref(), resume.version.as_deref());
    for &index in &resume.done {
        text.push_str(&Journal::done(index));
    }
    assert_eq!(Journal::parse(text.as_bytes()).as_ref(), Ok(&journal));
});
