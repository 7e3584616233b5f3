use std::os::unix::fs::FileExt;

use stowage_ringslot::Plan;

use super::*;

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stowage-partfile-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn url() -> Uri {
    "http://h:1/v1/objects/b/o?provider=ais".parse().unwrap()
}

/// A download to `path` interrupted after range 1 of `0123456789` in 4-byte ranges.
fn interrupted(path: &Path) {
    let mut part = PartFile::open(path, &url(), false).unwrap();
    part.file().write_all_at(b"4567", 4).unwrap();
    let plan = Plan::new(10, 0, None, 4);
    part.record(&Journal::header(&url(), &plan, Some("\"e\""), None)).unwrap();
    part.record(&Journal::done(1)).unwrap();
}

#[test]
fn a_complete_download_is_renamed_into_place_and_its_journal_removed() {
    let dir = dir("commit");
    let path = dir.join("o.bin");
    let mut part = PartFile::open(&path, &url(), false).unwrap();
    assert!(!path.exists(), "FILE is written only at the end");
    part.file().write_all_at(b"object", 0).unwrap();
    part.record("whatever\n").unwrap();
    part.commit().unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"object");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "only FILE is left");
}

#[test]
fn an_interrupted_download_is_continued_from_its_journal() {
    let dir = dir("continue");
    let path = dir.join("o.bin");
    interrupted(&path);
    let part = PartFile::open(&path, &url(), true).unwrap();
    let resume = part.resume().unwrap();
    assert_eq!((resume.size, resume.chunk, resume.etag.as_deref()), (10, 4, Some("\"e\"")));
    assert_eq!(resume.done, [1].into());
    let mut kept = [0; 4];
    part.file().read_exact_at(&mut kept, 4).unwrap();
    assert_eq!(&kept, b"4567", "FILE.part is kept as it was");

    // Not asked to continue: anew.
    let part = PartFile::open(&path, &url(), false).unwrap();
    assert!(part.resume().is_none());
    assert_eq!(part.file().metadata().unwrap().len(), 0);
    assert_eq!(fs::metadata(dir.join("o.bin.part.journal")).unwrap().len(), 0);
}

#[test]
fn nothing_to_continue_is_a_new_download() {
    let dir = dir("nothing");
    let path = dir.join("o.bin");
    assert!(PartFile::open(&path, &url(), true).unwrap().resume().is_none());
    // A journal whose FILE.part is gone.
    interrupted(&path);
    fs::remove_file(dir.join("o.bin.part")).unwrap();
    assert!(PartFile::open(&path, &url(), true).unwrap().resume().is_none());
}

#[test]
fn a_journal_of_another_object_or_of_nothing_is_refused() {
    let dir = dir("refused");
    let path = dir.join("o.bin");
    interrupted(&path);
    let other: Uri = "http://h:1/v1/objects/b/other".parse().unwrap();
    let error = PartFile::open(&path, &other, true).unwrap_err();
    assert!(matches!(error, GetError::Journal { error: JournalError::OtherObject { .. }, .. }), "{error:?}");
    fs::write(dir.join("o.bin.part.journal"), "not a journal\n").unwrap();
    let error = PartFile::open(&path, &url(), true).unwrap_err();
    assert!(error.to_string().contains("o.bin.part.journal: not a stowage journal"), "{error}");
}

#[test]
fn a_discarded_download_leaves_nothing() {
    let dir = dir("discard");
    let path = dir.join("o.bin");
    interrupted(&path);
    PartFile::discard(&path);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}
