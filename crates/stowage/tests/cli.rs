//! The README's main command, run as a user runs it (debug build, a subset of scenarios).

use std::process::Command;

fn stowage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stowage")).args(args).output().expect("the stowage binary runs")
}

#[test]
fn bench_reads_the_cold_object_after_waiting_for_its_lock() {
    let out = stowage(&["bench", "--json", "--only", "warm-get,cold-get,check-lock-reset"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["verified"], true, "{row}");
        assert_eq!(row["ok"], true, "{row}");
        assert_eq!(row["family"], "lockpoll", "{row}");
    }
    let cold = &rows[1];
    assert_eq!(cold["scenario"], "cold-get");
    assert_eq!(cold["attempts"], 2, "{cold}");
    assert!(cold["polls"].as_u64().unwrap() >= 1, "{cold}");
    assert!(cold["outcome"].as_str().unwrap().contains("unlocked"), "{cold}");
}

#[test]
fn bench_prints_a_table() {
    let out = stowage(&["bench", "--only", "warm-get"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("scenario  outcome"));
    assert!(lines.next().unwrap().starts_with("warm-get"));
}

#[test]
fn unknown_scenarios_are_refused_with_the_known_names() {
    let out = stowage(&["bench", "--only", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("known: warm-get"));
}
