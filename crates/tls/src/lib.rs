//! The TLS client configuration both stowage drivers share.
//!
//! `stowage-tokio` (over tokio's socket) and `stowage-uring` (driven by the ring) speak TLS
//! through one [`Session`] with one [`TlsConfig`]: a rustls
//! [`ClientConfig`](rustls::ClientConfig) on the `ring` crypto provider (not aws-lc-rs, which
//! needs cmake to build), ALPN `http/1.1`, TLS 1.2 and 1.3. What it trusts is
//! [`TlsOptions`]:
//!
//! - by default the Mozilla roots compiled in by `webpki-roots` — the same on every machine,
//!   whatever the system's CA bundle (a CI image may have none);
//! - with [`cacert`](TlsOptions::cacert), the certificates of one PEM file *instead* (as curl's
//!   `--cacert`): a private CA, or a test server's self-signed certificate;
//! - with [`insecure`](TlsOptions::insecure), any certificate (as curl's `--insecure`): the
//!   chain and the host name are not checked, but the server must still prove it holds the
//!   certificate's key (the handshake's signature is verified), so a broken handshake still
//!   fails.
//!
//! [`Session`] is a TLS client connection with no IO, for a driver that moves the bytes
//! itself: rustls's unbuffered connection does the handshake; over TLS 1.3 the record layer is
//! then ours (rustls's kernel connection: its AEADs, keys, tickets and key updates), each record
//! decrypted where it was received and its plaintext copied once, into the driver's
//! destination.
//!
//! A rustls error becomes a [`TlsError`](stowage_proto::tls::TlsError) through [`classify`],
//! the kind the machines are fed as `TransportError::Tls` (and never retry).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod classify;
mod config;
mod insecure;
mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use classify::{classify, classify_established, server_name};
pub use config::{TlsConfig, TlsConfigError, TlsOptions};
pub use rustls;
pub use session::Session;
