//! A real HTTPS server to test against: nginx, with certificates made at test time.
//!
//! [`Pki::new`] makes a CA and signs server certificates with it ([`Pki::leaf`]); [`Nginx::start`]
//! runs `/usr/sbin/nginx` (or `$STOWAGE_NGINX`) in the foreground, as one process with a
//! prefix and configuration in a temporary directory, with one listener on a free loopback
//! port per [`Site`] (TLS, or plain HTTP) — a directory of files (nginx answers `Range` with
//! `206`), the same with `location` blocks of the test's own in front (redirects, `Range`
//! ignored, a refused `HEAD`: [`Serve::FilesWith`]), or a reverse proxy to a plain-HTTP server
//! (the embedded cluster). Every request is logged ([`Nginx::requests`]). Dropping it kills
//! nginx.
//!
//! Where nginx is not installed, [`Nginx::start`] returns `None` after saying how to install it,
//! and the tests skip (`.ci/run` installs it).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long nginx may take to listen.
const START: Duration = Duration::from_secs(10);

/// A CA and the server certificates it signed, as PEM files in a temporary directory.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    count: AtomicU64,
}

/// A server certificate (with the CA's in its chain) and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The certificate chain: the server's, then the CA's.
    pub chain: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl Pki {
    /// A fresh CA named `name`, its certificate written to [`Pki::ca_file`].
    pub fn new(name: &str) -> Pki {
        let dir = temp_dir(&format!("pki-{name}"));
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("stowage test CA {name}"));
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, count: AtomicU64::new(0) }
    }

    /// The CA's certificate (PEM): what `--cacert` takes.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by the CA.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let params =
            rcgen::CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let leaf = Leaf { chain: self.dir.join(format!("leaf{n}.pem")), key: self.dir.join(format!("leaf{n}.key")) };
        std::fs::write(&leaf.chain, format!("{}{}", cert.pem(), self.ca.pem())).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }

    /// A certificate for `names` signed by itself (no CA): what a test server usually has.
    pub fn self_signed(&self, names: &[&str]) -> Leaf {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let params =
            rcgen::CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let leaf = Leaf { chain: self.dir.join(format!("self{n}.pem")), key: self.dir.join(format!("self{n}.key")) };
        std::fs::write(&leaf.chain, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one listener of nginx serves.
#[derive(Clone, Debug)]
pub enum Serve {
    /// The files of this directory.
    Files(PathBuf),
    /// The files of `root`, with `directives` (nginx's, verbatim: `location` blocks, say) in the
    /// same `server` block. In them `{port:N}` is the port of the `N`th site, known only once
    /// nginx is started (a redirect to another site).
    FilesWith {
        /// The directory served where no location of `directives` matches.
        root: PathBuf,
        /// nginx directives for the `server` block.
        directives: String,
    },
    /// Everything proxied to this plain-HTTP server (`http://127.0.0.1:port`), bodies streamed
    /// both ways.
    Proxy(String),
}

/// One listener: its certificate (none: plain HTTP) and what it serves.
#[derive(Clone, Debug)]
pub struct Site {
    /// The certificate it presents; `None`: it speaks plain HTTP.
    pub leaf: Option<Leaf>,
    /// What it serves.
    pub serve: Serve,
}

impl Site {
    /// A TLS listener presenting `leaf`.
    pub fn https(leaf: Leaf, serve: Serve) -> Site {
        Site { leaf: Some(leaf), serve }
    }

    /// A plain-HTTP listener.
    pub fn http(serve: Serve) -> Site {
        Site { leaf: None, serve }
    }
}

/// A running nginx, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    ports: Vec<u16>,
    /// Per site, whether it speaks TLS.
    tls: Vec<bool>,
}

impl Nginx {
    /// Starts nginx with one listener per site on free ports of 127.0.0.1 and waits until
    /// all listen. `None`, after printing how to install it and run the test (`cargo test
    /// {run}`), where nginx is not installed.
    pub fn start(run: &str, sites: &[Site]) -> Option<Nginx> {
        let Some(binary) = binary() else {
            eprintln!(
                "SKIPPED: nginx is not installed. Run: apt-get install -y nginx-light && cargo test {run} \
                 (or set STOWAGE_NGINX to an nginx binary)"
            );
            return None;
        };
        // A port found free can be taken before nginx binds it: try again with others.
        for _ in 0..5 {
            if let Some(nginx) = Nginx::try_start(&binary, sites) {
                return Some(nginx);
            }
        }
        panic!("nginx did not start; see its error log above");
    }

    fn try_start(binary: &Path, sites: &[Site]) -> Option<Nginx> {
        let dir = temp_dir("nginx");
        let ports: Vec<u16> = sites.iter().map(|_| free_port()).collect();
        std::fs::write(dir.join("nginx.conf"), config(&dir, sites, &ports)).unwrap();
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + START;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                eprintln!("nginx exited: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
            let listening = ports.iter().all(|&port| {
                TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(100))
                    .is_ok()
            });
            if listening {
                let tls = sites.iter().map(|site| site.leaf.is_some()).collect();
                return Some(Nginx { child, dir, ports, tls });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The port of the `site`th listener.
    pub fn port(&self, site: usize) -> u16 {
        self.ports[site]
    }

    /// `https://localhost:{port}` of the `site`th listener (`http://` for a plain one).
    pub fn url(&self, site: usize) -> String {
        let scheme = if self.tls[site] { "https" } else { "http" };
        format!("{scheme}://localhost:{}", self.ports[site])
    }

    /// The requests nginx answered so far, one access-log line each (`METHOD URI STATUS BYTES
    /// PORT`: the body's bytes sent, the port of the listener that answered).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The nginx binary: `$STOWAGE_NGINX`, else `/usr/sbin/nginx`, if it exists.
fn binary() -> Option<PathBuf> {
    let candidate = std::env::var_os("STOWAGE_NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from);
    candidate.is_file().then_some(candidate)
}

/// One process in the foreground, everything under `dir`.
fn config(dir: &Path, sites: &[Site], ports: &[u16]) -> String {
    let d = dir.display();
    let mut servers = String::new();
    for (site, port) in sites.iter().zip(ports) {
        let serve = match &site.serve {
            Serve::Files(root) => format!("root {};", root.display()),
            Serve::FilesWith { root, directives } => {
                let mut directives = directives.clone();
                for (n, port) in ports.iter().enumerate() {
                    directives = directives.replace(&format!("{{port:{n}}}"), &port.to_string());
                }
                format!("root {};\n    {directives}", root.display())
            }
            // No URI part after the host: the request's URI goes upstream as it came.
            Serve::Proxy(upstream) => format!(
                "location / {{ proxy_pass {upstream}; proxy_http_version 1.1; proxy_set_header Connection \"\"; \
                 proxy_request_buffering off; proxy_buffering off; proxy_redirect off; }}",
                upstream = upstream.trim_end_matches('/')
            ),
        };
        let tls = site.leaf.as_ref().map_or_else(String::new, |leaf| {
            format!(
                " ssl;\n    ssl_certificate {};\n    ssl_certificate_key {}",
                leaf.chain.display(),
                leaf.key.display()
            )
        });
        servers.push_str(&format!(
            "  server {{\n    listen 127.0.0.1:{port}{tls};\n    server_name _;\n    {serve}\n  }}\n"
        ));
    }
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  log_format short '$request_method $request_uri $status $body_bytes_sent $server_port';\n  \
         access_log {d}/access.log short;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         client_max_body_size 0;\n  keepalive_requests 100000;\n  default_type application/octet-stream;\n{servers}}}\n"
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh directory under the system's temporary one.
pub fn temp_dir(what: &str) -> PathBuf {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("stowage-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
