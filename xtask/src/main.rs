//! `cargo xtask <task>`: the project's checks and measurements as one command each.
//!
//! - `ci`: rustfmt check, `deps`, clippy with warnings denied, the docs with warnings denied,
//!   the whole test suite, every benchmark run once in test mode, the io_uring download tests
//!   under AddressSanitizer, and a short fuzz smoke run of every target when cargo-fuzz is
//!   installed.
//! - `deps`: the dependency rules of the crates' roles (`[package.metadata.stowage]`; see
//!   [`deps`]), and ARCHITECTURE.md's crate table up to date.
//! - `architecture`: rewrites ARCHITECTURE.md's crate table from the crates' `Cargo.toml`.
//! - `bench`: the criterion benchmarks, then the harness against the embedded cluster.
//! - `bench download`: parallel ranged download throughput against curl, aria2c and the AIStore
//!   SDK, over http and https (installs nginx, curl, aria2, openssl when missing; not part of
//!   `ci`); `bench download https`: the HTTPS section alone.
//! - `asan`: the io_uring download tests (slots the kernel writes into, downloads dropped
//!   mid-flight under faults) under AddressSanitizer and LeakSanitizer.
//! - `fuzz <target> [seconds]`: one fuzz target for a while (default 60 s).

mod deps;
mod download;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Seconds each fuzz target runs during `ci`.
const CI_FUZZ_SECONDS: u32 = 20;

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["ci"] => ci(&root),
        ["deps"] => deps::check(&root),
        ["architecture"] => deps::architecture(&root),
        ["bench"] => bench(&root),
        ["bench", "download"] => download::bench(&root, download::Sections::All),
        ["bench", "download", "https"] => download::bench(&root, download::Sections::Https),
        ["asan"] => asan(&root),
        ["fuzz", target] => fuzz(&root, target, 60),
        ["fuzz", target, seconds] => fuzz(&root, target, seconds.parse().context("seconds must be a whole number")?),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | deps | architecture | bench [download [https]] | asan | fuzz <target> [seconds]"
            );
            bail!("unknown task {args:?}")
        }
    }
}

fn ci(root: &Path) -> Result<()> {
    cargo(root, &["fmt", "--all", "--", "--check"])?;
    deps::check(root)?;
    cargo(root, &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    run(Command::new("cargo").current_dir(root).env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--no-deps",
        "--locked",
    ]))?;
    cargo(root, &["test", "--workspace", "--locked"])?;
    // Benchmarks in test mode: each runs once, so they are known to work without being measured.
    cargo(root, &["test", "--package", "stowage-benches", "--benches", "--locked"])?;
    asan(root)?;
    if fuzz_available(root) {
        for target in fuzz_targets(root)? {
            fuzz(root, &target, CI_FUZZ_SECONDS)?;
        }
    } else {
        println!("xtask: cargo-fuzz is not installed; skipping the fuzz smoke run (cargo install cargo-fuzz)");
    }
    Ok(())
}

fn bench(root: &Path) -> Result<()> {
    cargo(root, &["bench", "--package", "stowage-benches", "--locked"])?;
    cargo(root, &["run", "--release", "--locked", "--package", "stowage", "--", "bench"])
}

/// The io_uring download tests with AddressSanitizer (and its leak checker): the kernel writes
/// into the driver's slots, so a buffer freed or reused under an in-flight operation, or one
/// leaked, shows here. Sanitizers need `-Z` flags: `RUSTC_BOOTSTRAP` lets the stable toolchain
/// take them; `--target` keeps build scripts and proc macros unsanitized.
fn asan(root: &Path) -> Result<()> {
    let host = host_triple()?;
    run(Command::new("cargo")
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-Zsanitizer=address")
        // A test asks for an impossible slot size on purpose: a failed allocation, not an abort.
        .env("ASAN_OPTIONS", "allocator_may_return_null=1:detect_leaks=1")
        .args(["test", "--package", "stowage-uring", "--test", "download", "--locked", "--target", &host]))
}

/// The triple rustc builds for by default.
fn host_triple() -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("could not run rustc -vV")?;
    let text = String::from_utf8(out.stdout)?;
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned).context("rustc -vV names no host")
}

fn fuzz(root: &Path, target: &str, seconds: u32) -> Result<()> {
    let max_time = format!("-max_total_time={seconds}");
    // `-s none`: no sanitizer, so it runs on the stable toolchain.
    run(Command::new("cargo")
        .current_dir(root.join("fuzz"))
        .args(["fuzz", "run", "-s", "none", target, "--", &max_time]))
}

fn fuzz_available(root: &Path) -> bool {
    Command::new("cargo").current_dir(root).args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success())
}

fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    let out = Command::new("cargo").current_dir(root.join("fuzz")).args(["fuzz", "list"]).output()?;
    if !out.status.success() {
        bail!("cargo fuzz list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect())
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    run(Command::new("cargo").current_dir(root).args(args))
}

fn run(command: &mut Command) -> Result<()> {
    println!("xtask: running {command:?}");
    let status = command.status().with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    // xtask/ lives directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
