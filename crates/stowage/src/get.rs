//! `stowage get URL [-o FILE] [--workers N] [--chunk SIZE] [--driver uring|tokio] [--cacert FILE]
//! [--insecure]`: a parallel
//! ranged download with a progress bar, to a file (written at offsets, fsynced) or to stdout
//! (in order), through the io_uring driver — or the tokio driver, asked for or where io_uring
//! is unavailable (with a warning). `--direct` reads an AIStore object from the target that
//! owns it, by the proxy's cluster map.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use http::Uri;
use indicatif::{ProgressBar, ProgressStyle};
use stowage_proto::Timeouts;
use stowage_proto::ais::ObjectAddress;
use stowage_ringslot::{Config, Summary};
use stowage_tokio::TlsConfig;
use stowage_tokio::download::Downloader;
use stowage_uring::{UringDriver, UringError};

use crate::tls::TlsArgs;
use crate::units;

/// Which driver runs the download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Driver {
    /// io_uring: bodies received straight into registered slots, one thread.
    Uring,
    /// tokio + hyper.
    Tokio,
}

/// The arguments of `stowage get`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The object: an AIStore object URL (http://host:port/v1/objects/BUCKET/NAME?provider=ais)
    /// or any http:// or https:// URL whose server honours Range.
    url: String,
    /// Write to this file (ranges at their offsets, fsync at the end); stdout, in order, if absent.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Range requests in flight.
    #[arg(long, default_value_t = 8)]
    workers: u32,
    /// Range size: bytes, or with a K/M/G suffix (KiB, MiB, GiB). Default: the object's chunk
    /// size, else 8M.
    #[arg(long, value_parser = units::parse_size)]
    chunk: Option<u64>,
    /// Buffers (at least --workers); default 2 × workers.
    #[arg(long)]
    slots: Option<u32>,
    /// Receive the bytes and drop them (for measuring): no output at all.
    #[arg(long, conflicts_with = "output")]
    sink: bool,
    /// The driver; `uring` falls back to `tokio` (with a warning) where io_uring is unavailable.
    #[arg(long, value_enum, default_value_t = Driver::Uring)]
    driver: Driver,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// What to trust over https://.
    #[command(flatten)]
    tls: TlsArgs,
    /// An AIStore object: ask the proxy for the cluster map and read straight from the target
    /// that owns the object (HRW placement, as the SDK's `direct=True`), no redirect at all.
    /// Without it the first range follows the proxy's redirect and the rest go to that target.
    #[arg(long)]
    direct: bool,
    /// Do not verify the bytes against the checksum the server states (AIStore's
    /// `ais-checksum-*`, S3's `x-amz-checksum-*` or single-part ETag). By default a mismatch
    /// fails the download, and the output file is removed.
    #[arg(long)]
    no_verify: bool,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    let progress = Arc::new(AtomicU64::new(0));
    // The machine's tuned defaults (retries, hedging), with the sizes asked for; both drivers
    // take the same config (each picks the mode its destination needs).
    let mut config = Config {
        workers: args.workers,
        slots: args.slots,
        chunk: args.chunk,
        verify: !args.no_verify,
        ..Config::default()
    };
    let tls = args.tls.config()?;
    if args.direct {
        let target = direct_url(&args.url, Timeouts::default(), &tls).await?;
        if !args.quiet {
            eprintln!("reading from the owning target: {target}");
        }
        config.target = Some(target);
    }
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
    let result = fetch(&args, config, Timeouts::default(), &tls, &progress).await;
    ticker.abort();
    let bytes = progress.load(Ordering::Relaxed);
    bar.finish_and_clear();
    let summary = result?;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        let verified = match summary.verified {
            Some(checksum) => format!(", verified against {checksum}"),
            None if args.no_verify => String::new(),
            // No checksum of the whole object stated, only part of it read, or (io_uring
            // --sink) no bytes kept to hash.
            None => ", not verified".to_owned(),
        };
        eprintln!("{bytes} bytes in {secs:.2} s ({:.1} MB/s){verified}", bytes as f64 / secs.max(1e-9) / 1e6);
    }
    Ok(())
}

async fn fetch(
    args: &Args,
    config: Config,
    timeouts: Timeouts,
    tls: &TlsConfig,
    progress: &Arc<AtomicU64>,
) -> anyhow::Result<Summary> {
    if args.driver == Driver::Uring {
        let (url, output, sink) = (args.url.clone(), args.output.clone(), args.sink);
        let (config, progress, tls) = (config.clone(), Arc::clone(progress), tls.clone());
        // The ring is made on the thread that runs it.
        let ran = tokio::task::spawn_blocking(move || {
            let driver = UringDriver::new(&url, timeouts)?.with_tls(&tls);
            Ok(uring_fetch(driver, &url, config, output.as_deref(), sink, progress))
        })
        .await
        .context("the io_uring download thread")?;
        match ran {
            Ok(result) => return result.with_context(|| format!("GET {}", args.url)),
            Err::<_, UringError>(error) => eprintln!("warning: {error}; falling back to the tokio driver"),
        }
    }
    let mut downloader = Downloader::for_url(&args.url, timeouts)?.with_tls(tls);
    downloader.set_progress(Some(Arc::clone(progress)));
    if let Some(path) = &args.output {
        return downloader.download(&args.url, config, path).await.with_context(|| format!("GET {}", args.url));
    }
    let mut stream = downloader.get(&args.url, config)?;
    let mut stdout = stdout();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("GET {}", args.url))?;
        if !args.sink {
            stdout.write_all(&chunk).context("writing to stdout")?;
        }
    }
    stdout.flush().context("writing to stdout")?;
    Ok(stream.summary().unwrap_or_default())
}

/// Where the AIStore object at `url` is read from directly: its owner by the cluster map the
/// proxy at `url`'s origin gives.
async fn direct_url(url: &str, timeouts: Timeouts, tls: &TlsConfig) -> anyhow::Result<Uri> {
    let uri: Uri = url.parse().with_context(|| format!("--direct: {url:?} is not a URL"))?;
    let address = ObjectAddress::from_uri(&uri).context("--direct needs an AIStore object URL")?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        bail!("--direct needs an absolute URL, not {url:?}");
    };
    let client =
        stowage_ais::Client::builder(&format!("{scheme}://{authority}")).timeouts(timeouts).tls(tls.clone()).build()?;
    Ok(client.direct_url(&address).await?)
}

/// The download on this (blocking) thread through io_uring.
fn uring_fetch(
    mut driver: UringDriver,
    url: &str,
    config: Config,
    output: Option<&Path>,
    sink: bool,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<Summary> {
    driver.set_progress(Some(progress));
    if let Some(path) = output {
        return Ok(driver.download(url, config, path)?);
    }
    if sink {
        // Ranges land in any order and are dropped: no ordering, no copy.
        return Ok(driver.sink(url, config)?);
    }
    let mut download = driver.get(url, config)?;
    let mut stdout = stdout();
    while let Some(chunk) = download.next_chunk()? {
        stdout.write_all(chunk).context("writing to stdout")?;
    }
    stdout.flush().context("writing to stdout")?;
    Ok(download.summary())
}

/// Standard output, unbuffered where possible: the chunks are large, and stdout's line
/// buffering would scan every one for newlines.
fn stdout() -> Box<dyn Write + Send> {
    match std::fs::OpenOptions::new().write(true).open("/dev/stdout") {
        Ok(file) => Box::new(file),
        Err(_) => Box::new(std::io::stdout()),
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar
}
