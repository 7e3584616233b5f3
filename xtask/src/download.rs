//! `cargo xtask bench download`: parallel ranged download throughput, side by side.
//!
//! Installs nginx, curl and aria2 from Debian packages when missing (`apt-get update` first),
//! serves a 1 GiB file from nginx on loopback and fetches it, to a sink, with `curl` (one
//! stream), `aria2c -x8 -s8` and `stowage get` with each driver (tokio, io_uring) at 4, 8 and 16
//! workers, in order to stdout, and at 8 workers to a sink (`--sink`); nginx runs on the first
//! core, and the sink rows are repeated with the client held to the second (`taskset`), where
//! its own CPU cost sets its rate. Then
//! against the embedded cluster (`stowage serve`): the AIStore Python SDK's parallel iterator
//! (`num_workers=8`, when `aistore` is importable by `$STOWAGE_PYTHON` or `python3`) and `stowage
//! get` on the same 1 GiB object, and `stowage get` on a 16 GiB object (memory bound). Last, the
//! harness's download scenarios (capped link, faults, stragglers) with each driver (`stowage
//! bench --only ringslot`, which runs them one at a time).
//!
//! The HTTPS section (issue 16; alone: `cargo xtask bench download https`) serves the same file
//! from nginx with TLS on loopback (a CA and a certificate for `localhost` and `127.0.0.1` made
//! at bench time with the `openssl` CLI) and fetches it with `curl --cacert` (one stream),
//! `aria2c -x8 -s8 --ca-certificate` and `stowage get --cacert` with each driver, in order to
//! stdout at 2 and 8 workers (nginx's one worker encrypts every byte: fewer connections cost it
//! less) and to a sink, then the sink rows with the client held to the second core; its table
//! gives each row's MB/s and CPU per GiB as multiples of curl's over https. The load average is
//! printed before and after (the figures mean little on a busy machine).
//!
//! Each client runs under `/usr/bin/time`, which reports its wall time, CPU time (user + system,
//! children included) and peak RSS; the server's CPU time over the same run (nginx and `stowage
//! serve` are single processes) is read from `/proc`, so that the table shows what each byte
//! costs on both sides of the loopback — on a machine with few cores their sum bounds the rate
//! (`cores / (client + server CPU s per GiB)` GiB/s). A section's clients run in [`RUNS`]
//! rounds, each client once a round, so that a machine which speeds up or slows down during a
//! section (a VM's does) shifts every client alike rather than the ones that ran then; every
//! figure is the median of a client's runs. Nothing here is asserted: the figures go into
//! BENCHMARKS.md by hand.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Rounds of a section's clients (each client runs once a round); the median is reported.
const RUNS: usize = 5;
/// The size of the nginx file and of the embedded object.
const GIB: u64 = 1 << 30;
/// Where the bench keeps its files.
const WORK: &str = "/tmp/stowage-bench-download";
/// The HTTPS nginx's log of each request's TLS protocol and cipher, under [`WORK`].
const TLS_LOG: &str = "nginx-tls.access";

/// One measured run.
#[derive(Clone, Copy, Debug)]
struct Measure {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    /// The server's CPU time (user + system) during the run.
    server_cpu: f64,
}

/// A command measured as one row: its name, how many bytes it moves, and its `argv`.
struct Client {
    name: String,
    bytes: u64,
    argv: Vec<String>,
}

impl Client {
    fn new(name: impl Into<String>, bytes: u64, argv: &[&str]) -> Self {
        Client { name: name.into(), bytes, argv: argv.iter().map(|&arg| arg.to_owned()).collect() }
    }

    /// A client that is a shell `script`.
    fn shell(name: impl Into<String>, bytes: u64, script: &str) -> Self {
        Client::new(name, bytes, &["sh", "-c", script])
    }
}

/// A client's median figures over its runs.
struct Figures {
    name: String,
    bytes: u64,
    median: Measure,
}

impl Figures {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.median.wall / 1e6
    }

    fn cpu_per_gib(&self) -> f64 {
        self.median.cpu / (self.bytes as f64 / GIB as f64)
    }

    fn server_cpu_per_gib(&self) -> f64 {
        self.median.server_cpu / (self.bytes as f64 / GIB as f64)
    }
}

/// What `cargo xtask bench download` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sections {
    /// Every section: nginx over http, over https, the embedded cluster, the harness.
    All,
    /// The HTTPS section alone (`cargo xtask bench download https`).
    Https,
}

pub(crate) fn bench(root: &Path, sections: Sections) -> Result<()> {
    ensure_tools()?;
    let work = PathBuf::from(WORK);
    fs::create_dir_all(&work)?;
    let data = work.join("www/1g.bin");
    make_file(&data, GIB)?;
    super::cargo(root, &["build", "--release", "--locked", "--package", "stowage"])?;
    let stowage = target_dir(root).join("release/stowage");
    if sections == Sections::Https {
        let rows = https(&work, &stowage)?;
        println!("\n{}", table(&rows));
        return Ok(());
    }

    let port = free_port()?;
    let nginx = Nginx::start(&work, port, None)?;
    let url = format!("http://127.0.0.1:{port}/1g.bin");
    let mut rows = measure(&against_nginx(&work, &stowage, &url, None, &["4", "8", "16"])?, nginx.0.id())?;
    drop(nginx);
    let https_rows = https(&work, &stowage)?;

    let cluster = Serve::start(&stowage, &work)?;
    let object = |name: &str| format!("{}/v1/objects/local/{name}?provider=ais", cluster.url);
    let mut clients = Vec::new();
    match python_with_sdk() {
        Some(python) => {
            let script = work.join("sdk_parallel.py");
            fs::write(&script, SDK_SCRIPT)?;
            clients.push(Client::new(
                "AIStore SDK 2.0.0 parallel iter (8 workers), cluster",
                GIB,
                &[&python, &script.to_string_lossy(), &cluster.url, "1g.bin", "8"],
            ));
        }
        None => println!("xtask: SKIPPED the AIStore SDK run: no python with `aistore` (set STOWAGE_PYTHON)"),
    }
    clients.extend(both_drivers(&stowage, GIB, "", "--workers 8", "", &object("1g.bin"), ", cluster"));
    let big = object("16g.bin");
    clients.extend(both_drivers(&stowage, 16 * GIB, "", "--workers 8", "", &big, ", cluster, 16 GiB"));
    rows.extend(measure(&clients, cluster.child.id())?);
    drop(cluster);

    println!("\n{}", table(&rows));
    println!("xtask: HTTPS (nginx with TLS on loopback):\n{}", table(&https_rows));
    // The family's scenarios measure rates, so the harness runs them one at a time.
    println!("xtask: the harness's download scenarios (embedded cluster, in-process), each driver:");
    super::run(Command::new(&stowage).args(["bench", "--only", "ringslot"]))?;
    Ok(())
}

/// The AIStore SDK's ring-buffer iterator over the whole object, bytes counted and dropped.
const SDK_SCRIPT: &str = r#"import sys
from aistore.sdk import Client
url, name, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = Client(url).bucket("local").object(name).get_reader(num_workers=workers)
total = sum(len(chunk) for chunk in reader)
print(total, file=sys.stderr)
"#;

/// The HTTPS section: nginx with TLS serving `WORK/www` (see the module's doc), its rows.
fn https(work: &Path, stowage: &Path) -> Result<Vec<Figures>> {
    println!("xtask: HTTPS section; load average before: {}", load_average());
    let certs = Certs::make(&work.join("pki"))?;
    let _ = fs::remove_file(work.join(TLS_LOG));
    let ca = certs.ca.to_string_lossy().into_owned();
    let port = free_port()?;
    let nginx = Nginx::start(work, port, Some(&certs))?;
    let url = format!("https://127.0.0.1:{port}/1g.bin");
    let rows = measure(&against_nginx(work, stowage, &url, Some(&ca), &["2", "8"])?, nginx.0.id())?;
    drop(nginx);
    println!("xtask: HTTPS section; load average after: {}", load_average());
    let mut suites: Vec<(String, usize)> = Vec::new();
    for line in fs::read_to_string(work.join(TLS_LOG)).unwrap_or_default().lines() {
        match suites.iter_mut().find(|(suite, _)| suite == line) {
            Some((_, count)) => *count += 1,
            None => suites.push((line.to_owned(), 1)),
        }
    }
    println!("xtask: HTTPS requests by TLS protocol and cipher: {suites:?}");
    println!("xtask: HTTPS against curl over https:\n{}", against(&rows));
    Ok(rows)
}

/// The clients of nginx, which serves `url` over http, or over https with a
/// certificate `ca` signed (the CA file each client is then told to trust): curl (one stream),
/// aria2c -x8 -s8, `stowage get` with each driver in order at each of `workers` and at 8 workers
/// to a sink; then, where `taskset` can hold the client to the second core (nginx has the
/// first), curl and the sink rows again there. Over https each row's name says `--cacert` (or
/// `--ca-certificate`) and `https`. The file is read once first, untimed, into the page cache.
fn against_nginx(work: &Path, stowage: &Path, url: &str, ca: Option<&str>, workers: &[&str]) -> Result<Vec<Client>> {
    // Over https: how each client is told to trust `ca`, and what the rows' names say of it.
    let (cacert, ca_certificate, https) = match ca {
        Some(_) => (" --cacert", " --ca-certificate", ", https"),
        None => ("", "", ""),
    };
    let curl_ca = ca.map(|ca| ["--cacert", ca]);
    let aria_ca = ca.map(|ca| format!("--ca-certificate={ca}"));
    // In a shell command, for curl and `stowage get` alike.
    let shell_ca = ca.map_or_else(String::new, |ca| format!("--cacert '{ca}'"));

    let mut curl = vec!["curl", "-sS"];
    curl.extend(curl_ca.iter().flatten());
    curl.extend(["-o", "/dev/null", url]);
    // Untimed: brings the file into the page cache, so no client pays for the disk.
    super::run(Command::new(curl[0]).args(&curl[1..]))?;
    let mut clients = vec![Client::new(format!("curl{cacert} (1 stream){https}"), GIB, &curl)];
    let aria_out = work.join("aria2");
    fs::create_dir_all(&aria_out)?;
    let aria_dir = aria_out.to_string_lossy().into_owned();
    let mut aria = vec!["aria2c", "-q", "-x8", "-s8", "-k1M"];
    aria.extend(aria_ca.as_deref());
    aria.extend(["--allow-overwrite=true", "--file-allocation=none", "--auto-file-renaming=false"]);
    aria.extend(["-d", &aria_dir, "-o", "1g.bin", url]);
    clients.push(Client::new(format!("aria2c -x8 -s8{ca_certificate} (to tmp file){https}"), GIB, &aria));
    // Both drivers in order to stdout (here /dev/null).
    let label = format!("{cacert}{https}");
    for workers in workers {
        let flags = format!("--workers {workers}");
        clients.extend(both_drivers(stowage, GIB, "", &flags, &shell_ca, url, &label));
    }
    clients.extend(both_drivers(stowage, GIB, "", "--workers 8 --sink", &shell_ca, url, &label));
    // Throughput per CPU: the client held to one core (nginx keeps the other), so its own CPU
    // cost sets its rate instead of the server's.
    if on_path("taskset") && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        let one_core = "taskset -c 1 ";
        let curl = format!("{one_core}curl -sS {shell_ca} -o /dev/null '{url}'");
        clients.push(Client::shell(format!("curl{cacert} (1 stream){https}, one core"), GIB, &curl));
        let label = format!("{label}, one core");
        let sink = "--workers 8 --sink";
        clients.extend(both_drivers(stowage, GIB, one_core, sink, &shell_ca, url, &label));
    }
    Ok(clients)
}

/// `/proc/loadavg`'s 1, 5 and 15 minute figures.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// A client per driver: `stowage get -q --driver D FLAGS QUIET URL` (to `/dev/null` unless
/// `--sink`), run after `prefix` (e.g. `taskset`), named `stowage get --driver D FLAGS` and
/// `label` (`quiet`, e.g. `--cacert FILE`, is left out of the name).
fn both_drivers(
    stowage: &Path,
    bytes: u64,
    prefix: &str,
    flags: &str,
    quiet: &str,
    url: &str,
    label: &str,
) -> impl Iterator<Item = Client> {
    let out = if flags.contains("--sink") { "" } else { " > /dev/null" };
    ["tokio", "uring"].into_iter().map(move |driver| {
        let command = format!("{prefix}{} get -q --driver {driver} {flags} {quiet} '{url}'{out}", stowage.display());
        Client::shell(format!("stowage get --driver {driver} {flags}{label}"), bytes, &command)
    })
}

fn ensure_tools() -> Result<()> {
    let wanted = [("nginx", "nginx"), ("curl", "curl"), ("aria2c", "aria2"), ("openssl", "openssl")];
    let missing: Vec<&str> = wanted.iter().filter(|(bin, _)| !on_path(bin)).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing {missing:?} from Debian packages");
    super::run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    super::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if !on_path("/usr/bin/time") {
        bail!("/usr/bin/time is needed (Debian package `time`)");
    }
    Ok(())
}

fn on_path(bin: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {bin}")]).output().is_ok_and(|o| o.status.success())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// A file of `size` pseudo-random bytes (xorshift64), written once.
fn make_file(path: &Path, size: u64) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    fs::create_dir_all(path.parent().context("no parent")?)?;
    let mut file = std::io::BufWriter::new(fs::File::create(path)?);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() as u64 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block)?;
    }
    file.flush()?;
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A CA and a server certificate it signed (for `localhost` and `127.0.0.1`, P-256 keys), made
/// with the `openssl` CLI: what nginx presents and `--cacert` trusts. (A self-signed server
/// certificate will not do: `openssl req -x509` marks it a CA, which rustls refuses as a
/// server's.)
struct Certs {
    /// The CA's certificate.
    ca: PathBuf,
    /// The server's certificate.
    cert: PathBuf,
    /// The server's key.
    key: PathBuf,
}

impl Certs {
    fn make(dir: &Path) -> Result<Certs> {
        fs::create_dir_all(dir)?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let (ca, ca_key, csr) = (path("ca.pem"), path("ca.key"), path("server.csr"));
        let (cert, key, ext) = (path("server.pem"), path("server.key"), path("server.ext"));
        fs::write(&ext, "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\n")?;
        let openssl = |args: &[&str]| {
            let mut command = Command::new("openssl");
            command.args(args).stdout(Stdio::null()).stderr(Stdio::null());
            super::run(&mut command).context("openssl")
        };
        let new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509", "-days", "2", "-subj", "/CN=stowage bench CA"],
                &new_key[..],
                &["-keyout", &ca_key, "-out", &ca],
            ]
            .concat(),
        )?;
        openssl(&[&["req", "-subj", "/CN=localhost"], &new_key[..], &["-keyout", &key, "-out", &csr]].concat())?;
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ])?;
        Ok(Certs { ca: ca.into(), cert: cert.into(), key: key.into() })
    }
}

/// nginx serving `WORK/www` on a loopback port (over TLS with `tls`), stopped on drop. It runs
/// as one process (`master_process off`), so killing it leaves no worker behind.
struct Nginx(Child);

impl Nginx {
    fn start(work: &Path, port: u16, tls: Option<&Certs>) -> Result<Self> {
        let (name, listen) = match tls {
            None => ("nginx", format!("listen 127.0.0.1:{port};")),
            Some(certs) => (
                "nginx-tls",
                // TLS 1.3 as well (nginx before 1.23.4 offers only up to 1.2 by default); each
                // request's protocol and cipher logged, for the bench to say what was measured.
                format!(
                    "listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
                     ssl_protocols TLSv1.2 TLSv1.3; access_log {} tls;",
                    certs.cert.display(),
                    certs.key.display(),
                    work.join(TLS_LOG).display()
                ),
            ),
        };
        let conf = work.join(format!("{name}.conf"));
        let www = work.join("www");
        fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nuser root;\nworker_processes 1;\npid {work}/{name}.pid;\nerror_log {work}/{name}.err;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
                 log_format tls '$ssl_protocol $ssl_cipher';\n\
                 client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;\n\
                 uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;\n\
                 server {{ {listen} root {www}; }} }}\n",
                work = work.display(),
                www = www.display(),
            ),
        )?;
        fs::create_dir_all(work.join("tmp"))?;
        // On the first core when `taskset` is there, so a client can be given the other alone.
        let mut command = if on_path("taskset") {
            let mut command = Command::new("taskset");
            command.args(["-c", "0", "nginx"]);
            command
        } else {
            Command::new("nginx")
        };
        let child = command
            .args(["-c", &conf.to_string_lossy(), "-p", &work.to_string_lossy()])
            .stdout(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        wait_for_port(port)?;
        Ok(Nginx(child))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stowage serve` with a 1 GiB and a 16 GiB generated object in bucket `local`.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(stowage: &Path, work: &Path) -> Result<Self> {
        let scenario = work.join("cluster.toml");
        fs::write(
            &scenario,
            format!(
                "[[bucket]]\nname = \"local\"\n\n[[bucket.object]]\nname = \"1g.bin\"\nsize = {GIB}\n\n\
                 [[bucket.object]]\nname = \"16g.bin\"\nsize = {}\n",
                16 * GIB
            ),
        )?;
        let port = free_port()?;
        let child = Command::new(stowage)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--scenario", &scenario.to_string_lossy()])
            .stdout(Stdio::null())
            .spawn()
            .context("starting stowage serve")?;
        wait_for_port(port)?;
        Ok(Serve { child, url: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on port {port} after 10 s")
}

/// `$STOWAGE_PYTHON`, else `python3`, if it can import the AIStore SDK.
fn python_with_sdk() -> Option<String> {
    let candidates = std::env::var("STOWAGE_PYTHON").ok().into_iter().chain(["python3".to_owned()]);
    candidates.into_iter().find(|python| {
        Command::new(python).args(["-c", "import aistore.sdk"]).output().is_ok_and(|o| o.status.success())
    })
}

/// Runs `clients` in [`RUNS`] rounds, each once a round, under `/usr/bin/time`, with the CPU
/// time of the server process `server` read around each run; a row of medians per client.
fn measure(clients: &[Client], server: u32) -> Result<Vec<Figures>> {
    let time_file = format!("{WORK}/time.txt");
    let mut runs: Vec<Vec<Measure>> = clients.iter().map(|_| Vec::with_capacity(RUNS)).collect();
    for round in 1..=RUNS {
        for (client, runs) in clients.iter().zip(&mut runs) {
            let name = &client.name;
            let server_before = process_cpu(server)?;
            let status = Command::new("/usr/bin/time")
                .args(["-f", "%e %U %S %M", "-o", &time_file])
                .args(&client.argv)
                .stdout(Stdio::null())
                .status()
                .with_context(|| format!("running {name}"))?;
            let server_cpu = process_cpu(server)? - server_before;
            if !status.success() {
                bail!("{name} failed ({status})");
            }
            let text = fs::read_to_string(&time_file)?;
            let line = text.lines().last().context("no output from /usr/bin/time")?;
            let fields: Vec<f64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
            let [wall, user, system, rss] = fields[..] else { bail!("unexpected /usr/bin/time output {line:?}") };
            let measure = Measure { wall, cpu: user + system, rss_kib: rss as u64, server_cpu };
            println!(
                "xtask: {name} round {round}: {:.0} MB/s, {:.2} CPU s, {} MiB peak RSS, server {:.2} CPU s",
                client.bytes as f64 / wall / 1e6,
                measure.cpu,
                measure.rss_kib / 1024,
                measure.server_cpu
            );
            runs.push(measure);
        }
    }
    let rows = clients.iter().zip(runs).map(|(client, mut runs)| {
        runs.sort_by(|a, b| a.wall.total_cmp(&b.wall));
        Figures { name: client.name.clone(), bytes: client.bytes, median: runs[runs.len() / 2] }
    });
    Ok(rows.collect())
}

/// Each row's median figures: MB/s, CPU s per GiB, peak RSS, and the server's CPU s per GiB.
fn table(rows: &[Figures]) -> String {
    let head = "MB/s | CPU s per GiB | peak RSS (MiB) | server CPU s per GiB";
    markdown(head, rows, |row| {
        [
            format!("{:.0}", row.mb_per_s()),
            format!("{:.2}", row.cpu_per_gib()),
            format!("{}", row.median.rss_kib / 1024),
            format!("{:.2}", row.server_cpu_per_gib()),
        ]
    })
}

/// `rows` with their MB/s and CPU s per GiB as multiples of the first row's (curl's).
fn against(rows: &[Figures]) -> String {
    let Some(curl) = rows.first() else { return String::new() };
    let head = "MB/s | CPU s per GiB | × curl's MB/s | × curl's CPU s per GiB";
    markdown(head, rows, |row| {
        [
            format!("{:.0}", row.mb_per_s()),
            format!("{:.2}", row.cpu_per_gib()),
            format!("{:.2}", row.mb_per_s() / curl.mb_per_s()),
            format!("{:.2}", row.cpu_per_gib() / curl.cpu_per_gib()),
        ]
    })
}

/// A Markdown table of `rows`: a column of their names, then four of the figures `cells` gives
/// each (right-aligned), under `head` (those four columns' titles, `|`-separated).
fn markdown(head: &str, rows: &[Figures], cells: impl Fn(&Figures) -> [String; 4]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| client | {head} |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(out, "| {} | {} |", row.name, cells(row).join(" | "));
    }
    out
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux's x86 and arm ABIs).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) process `pid` has used so far.
fn process_cpu(pid: u32) -> Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces, so split after its closing paren):
    // state is field 3 of the line, utime and stime fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields.get(i).and_then(|f| f.parse::<u64>().ok()).map(|t| t as f64).context("malformed /proc stat")
    };
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}
