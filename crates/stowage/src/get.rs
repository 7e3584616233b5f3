//! `stowage get URL [-o FILE [--continue]] [--workers N] [--chunk SIZE] [--driver uring|tokio]
//! [--cacert FILE] [--insecure]`: a parallel ranged download with a progress bar, to a file
//! (written at offsets into FILE.part with a journal, fsynced and renamed once complete;
//! `--continue` fetches only what an interrupted download left missing) or to stdout
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
    /// Continue an interrupted download to FILE: the bytes already in FILE.part (as its journal
    /// FILE.part.journal records) are kept and only the missing ranges fetched; refused when the
    /// object changed since (size, ETag, version). A download to FILE always goes to FILE.part
    /// first, renamed to FILE once complete and verified.
    #[arg(short = 'c', long = "continue", requires = "output")]
    resume: bool,
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
        let kept = match summary.resumed {
            0 => String::new(),
            resumed => format!(" ({resumed} bytes were already there)"),
        };
        eprintln!("{bytes} bytes in {secs:.2} s ({:.1} MB/s){kept}{verified}", bytes as f64 / secs.max(1e-9) / 1e6);
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
        let (url, output, sink, resume) = (args.url.clone(), args.output.clone(), args.sink, args.resume);
        let (config, progress, tls) = (config.clone(), Arc::clone(progress), tls.clone());
        // The ring is made on the thread that runs it.
        let ran = tokio::task::spawn_blocking(move || {
            let driver = UringDriver::new(&url, timeouts)?.with_tls(&tls);
            Ok(uring_fetch(driver, &url, config, Destination { output: output.as_deref(), sink, resume }, progress))
        })
        .await
        .context("the io_uring download thread")?;
        match ran {
            Ok(result) => return result.with_context(|| context(args)),
            Err::<_, UringError>(error) => eprintln!("warning: {error}; falling back to the tokio driver"),
        }
    }
    let mut downloader = Downloader::for_url(&args.url, timeouts)?.with_tls(tls);
    downloader.set_progress(Some(Arc::clone(progress)));
    if let Some(path) = &args.output {
        let result = match args.resume {
            true => downloader.resume(&args.url, config, path).await,
            false => downloader.download(&args.url, config, path).await,
        };
        return result.with_context(|| context(args));
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

/// What a failed download says besides its error: the request, and how to go on where that
/// can help.
fn context(args: &Args) -> String {
    let get = format!("GET {}", args.url);
    let Some(path) = &args.output else { return get };
    let part = format!("{}.part", path.display());
    if args.resume {
        format!("{get} (continuing {part}; if the object changed, download it anew without --continue)")
    } else if Path::new(&part).exists() {
        format!("{get} ({part} is kept: run again with --continue to fetch only the missing ranges)")
    } else {
        get
    }
}

/// Where an io_uring download goes.
struct Destination<'a> {
    /// A file (through its `.part`), if any.
    output: Option<&'a Path>,
    /// Nowhere, if no file.
    sink: bool,
    /// Continue the file's interrupted download.
    resume: bool,
}

/// The download on this (blocking) thread through io_uring.
fn uring_fetch(
    mut driver: UringDriver,
    url: &str,
    config: Config,
    to: Destination<'_>,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<Summary> {
    driver.set_progress(Some(progress));
    if let Some(path) = to.output {
        return Ok(match to.resume {
            true => driver.resume(url, config, path)?,
            false => driver.download(url, config, path)?,
        });
    }
    if to.sink {
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
