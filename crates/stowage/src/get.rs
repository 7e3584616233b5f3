//! `stowage get URL [-o FILE] [--workers N] [--chunk SIZE]`: a parallel ranged download with a
//! progress bar, to a file (written at offsets, fsynced) or to stdout (in order).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use stowage_tokio::download::{self, DownloadOptions};

/// The arguments of `stowage get`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The object: an AIStore object URL (http://host:port/v1/objects/BUCKET/NAME?provider=ais)
    /// or any http:// URL whose server honours Range.
    url: String,
    /// Write to this file (ranges at their offsets, fsync at the end); stdout, in order, if absent.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Range requests in flight.
    #[arg(long, default_value_t = 8)]
    workers: u32,
    /// Range size: bytes, or with a K/M/G suffix (KiB, MiB, GiB). Default: the object's chunk
    /// size, else 8M.
    #[arg(long, value_parser = parse_size)]
    chunk: Option<u64>,
    /// Buffers (at least --workers); default 2 × workers.
    #[arg(long)]
    slots: Option<u32>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// `123`, `64K`, `8M`, `1G` (binary multiples).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a size (e.g. 8M)"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("{text:?} is not a size from 1 byte up"))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    let progress = Arc::new(AtomicU64::new(0));
    let options = DownloadOptions {
        workers: args.workers,
        slots: args.slots,
        chunk: args.chunk,
        progress: Some(Arc::clone(&progress)),
        ..DownloadOptions::default()
    };
    let bar = if args.quiet { ProgressBar::hidden() } else { progress_bar() };
    let ticker = {
        let (bar, progress) = (bar.clone(), Arc::clone(&progress));
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let result = fetch(&args, options).await;
    ticker.abort();
    let bytes = progress.load(Ordering::Relaxed);
    bar.finish_and_clear();
    result?;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{bytes} bytes in {secs:.2} s ({:.1} MB/s)", bytes as f64 / secs.max(1e-9) / 1e6);
    }
    Ok(())
}

async fn fetch(args: &Args, options: DownloadOptions) -> anyhow::Result<()> {
    if let Some(path) = &args.output {
        download::download(&args.url, path, options).await.with_context(|| format!("GET {}", args.url))?;
        return Ok(());
    }
    let mut stream = download::get(&args.url, options)?;
    // Unbuffered where possible: the chunks are large, and stdout's line buffering would scan
    // every one for newlines.
    let mut stdout: Box<dyn Write> = match std::fs::OpenOptions::new().write(true).open("/dev/stdout") {
        Ok(file) => Box::new(file),
        Err(_) => Box::new(std::io::stdout().lock()),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("GET {}", args.url))?;
        stdout.write_all(&chunk).context("writing to stdout")?;
    }
    stdout.flush().context("writing to stdout")?;
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
