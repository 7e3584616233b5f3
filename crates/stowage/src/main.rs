//! `stowage`: the harness and CLI.
//!
//! - `stowage bench` runs every scenario against a fresh embedded AIStore-compatible cluster (or
//!   against `--url`) and prints one table per machine family (or `--json`).
//! - `stowage get URL` downloads an object with parallel range requests (to a file or stdout).
//! - `stowage serve` runs the embedded cluster standalone so other clients (curl, the Python
//!   SDKs) can be pointed at it.

mod bench;
mod counting;
mod get;
mod report;
mod serve;
mod suite;
mod tls;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// stowage: sans-IO storage-client machines, their drivers, and this harness.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scenarios against the embedded cluster (default) or a server at --url.
    Bench(bench::Args),
    /// Download an object with parallel range requests, to a file or stdout.
    Get(get::Args),
    /// Run the embedded cluster standalone and print its address.
    Serve(serve::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report_error(&error);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Get(args) => runtime.block_on(get::run(args)),
        Command::Serve(args) => runtime.block_on(serve::run(args)),
    }
}

/// The error and its causes on stderr, as a returned `anyhow::Error` would print them, but
/// without the backtrace anyhow captures under `RUST_BACKTRACE`: a refused download is the
/// server's answer, not a bug of ours.
fn report_error(error: &anyhow::Error) {
    eprintln!("Error: {error}");
    let causes: Vec<_> = error.chain().skip(1).collect();
    if !causes.is_empty() {
        eprintln!("\nCaused by:");
        for cause in causes {
            eprintln!("    {cause}");
        }
    }
}
