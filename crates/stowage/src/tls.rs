//! `--cacert FILE` and `--insecure`: what the drivers trust over `https://`.

use std::path::PathBuf;

use anyhow::Context;
use stowage_tokio::{TlsConfig, TlsOptions};

/// The TLS flags of every command that takes a URL.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct TlsArgs {
    /// Trust the CA certificates of this PEM file (instead of the built-in Mozilla roots) for
    /// https:// URLs.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Accept any server certificate over https:// (self-signed test servers): its chain and
    /// host name are not checked, the handshake's signature still is.
    #[arg(long, short = 'k')]
    insecure: bool,
}

impl TlsArgs {
    /// The configuration both drivers take.
    pub(crate) fn config(&self) -> anyhow::Result<TlsConfig> {
        let options = TlsOptions { cacert: self.cacert.clone(), insecure: self.insecure };
        TlsConfig::new(&options).context("--cacert")
    }
}
