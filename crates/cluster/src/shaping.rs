//! What makes the cluster behave like a remote object store for ranged reads: a per-connection
//! bandwidth cap and first-byte latency ([`Link`]), and faults that hit individual range
//! requests ([`RangeFaultRule`]).
//!
//! Both apply to object `GET`s only; range faults only to those with a `Range` header.
//!
//! In a scenario file they read
//!
//! ```toml
//! [link]
//! bytes_per_sec = 100000000   # per-connection cap; none when absent
//! first_byte_ms = 5           # every object GET waits this long before its head; default 0
//!
//! [[range_fault]]
//! path_prefix = "/v1/objects/data/"          # optional; raw path prefix, "" matches all
//! fault = { kind = "status", status = 503 }  # status{status} | cut_mid_body | stall_mid_body{ms}
//!                                            # | delay{ms} | wrong_content_range | ignore_range
//!                                            # | corrupt
//! skip = 25                                  # let the first N matching range requests through
//! every = 50                                 # then hit one in N (default 1: all)
//! times = 4                                  # at most N times; forever when absent
//! ```
//!
//! and in JSON `{"link": {"bytes_per_sec": 100000000, "first_byte_ms": 5}, "range_fault":
//! [{"fault": {"kind": "stall_mid_body", "ms": 5000}, "every": 100}]}`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

use crate::faults::{self, InvalidFault};

/// How fast the cluster answers object GETs.
///
/// HTTP/1.1 connections carry one response at a time, so a cap per response is a cap per
/// connection: a client gets more bandwidth only by opening more connections, as with real
/// object stores.
///
/// Serialised as `{bytes_per_sec = N, first_byte_ms = N}` (both optional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "LinkRepr")]
pub struct Link {
    /// The most bytes per second one response body (of a generated object) is sent at; no cap
    /// when `None`.
    pub bytes_per_sec: Option<u64>,
    /// How long every object GET waits before its response head is sent.
    pub first_byte: Duration,
}

/// The serde shape of [`Link`]: the latency in whole milliseconds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRepr {
    #[serde(default)]
    bytes_per_sec: Option<u64>,
    #[serde(default)]
    first_byte_ms: u64,
}

impl From<LinkRepr> for Link {
    fn from(repr: LinkRepr) -> Self {
        Link { bytes_per_sec: repr.bytes_per_sec, first_byte: Duration::from_millis(repr.first_byte_ms) }
    }
}

/// Why a [`Link`] cannot be applied as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLink {
    /// A cap of 0 bytes per second (leave it out for no cap).
    #[error("link bytes_per_sec must be at least 1 (leave it out for no cap)")]
    ZeroRate,
}

impl Link {
    /// Checks that the link can be applied as written.
    pub fn validate(&self) -> Result<(), InvalidLink> {
        match self.bytes_per_sec {
            Some(0) => Err(InvalidLink::ZeroRate),
            _ => Ok(()),
        }
    }
}

/// What a [`RangeFaultRule`] does to a range request.
///
/// Serialised internally tagged by `kind`: `{kind = "status", status = 503}`,
/// `{kind = "cut_mid_body"}`, `{kind = "stall_mid_body", ms = 5000}`, `{kind = "delay", ms =
/// 2000}`, `{kind = "wrong_content_range"}`, `{kind = "ignore_range"}`, `{kind = "corrupt"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "RangeFaultRepr")]
pub enum RangeFault {
    /// Answer this status (with a short error body) instead of the range.
    Status {
        /// A final status, 200..=599.
        status: u16,
    },
    /// Send the head and half of the range's body, then cut the connection.
    CutMidBody,
    /// Send the head and half of the body, then send nothing for `ms` before the rest.
    StallMidBody {
        /// The pause, in milliseconds.
        ms: u64,
    },
    /// Hold the response head for `ms` (a straggler), then answer normally.
    Delay {
        /// The delay, in milliseconds.
        ms: u64,
    },
    /// Answer a 206 whose `Content-Range` names the bytes one past the ones asked for.
    WrongContentRange,
    /// Ignore `Range`: answer 200 with the whole object.
    IgnoreRange,
    /// Answer the range with its middle byte flipped, every header as usual: bytes the
    /// object's checksum does not match.
    Corrupt,
}

/// The serde shape of [`RangeFault`]: unit variants as empty struct variants, so unknown
/// fields next to their `kind` are rejected (see `faults::FaultRepr`).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RangeFaultRepr {
    Status { status: u16 },
    CutMidBody {},
    StallMidBody { ms: u64 },
    Delay { ms: u64 },
    WrongContentRange {},
    IgnoreRange {},
    Corrupt {},
}

impl From<RangeFaultRepr> for RangeFault {
    fn from(repr: RangeFaultRepr) -> Self {
        match repr {
            RangeFaultRepr::Status { status } => RangeFault::Status { status },
            RangeFaultRepr::CutMidBody {} => RangeFault::CutMidBody,
            RangeFaultRepr::StallMidBody { ms } => RangeFault::StallMidBody { ms },
            RangeFaultRepr::Delay { ms } => RangeFault::Delay { ms },
            RangeFaultRepr::WrongContentRange {} => RangeFault::WrongContentRange,
            RangeFaultRepr::IgnoreRange {} => RangeFault::IgnoreRange,
            RangeFaultRepr::Corrupt {} => RangeFault::Corrupt,
        }
    }
}

/// A range fault and the range requests it applies to.
///
/// A rule matches an object GET with a `Range` header whose raw path starts with
/// `path_prefix`. Of the matching requests it lets `skip` through, then applies to every
/// `every`-th one (`every` = 1: all of them), at most `times` times. Rules are tried in the
/// order they were added; the first that applies wins.
///
/// In a scenario file (`[[range_fault]]`) every field but `fault` is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeFaultRule {
    /// The prefix of the raw request path to match; `""` matches every path.
    #[serde(default)]
    pub path_prefix: String,
    /// What to do.
    pub fault: RangeFault,
    /// Matching requests let through first.
    #[serde(default)]
    pub skip: u32,
    /// Apply to every `every`-th matching request after the skipped ones (0 is taken as 1).
    #[serde(default = "one")]
    pub every: u32,
    /// How many times to apply; forever when `None`.
    #[serde(default)]
    pub times: Option<u32>,
}

fn one() -> u32 {
    1
}

impl RangeFaultRule {
    /// A rule that applies `fault` to every range request, forever.
    pub fn new(fault: RangeFault) -> Self {
        RangeFaultRule { path_prefix: String::new(), fault, skip: 0, every: 1, times: None }
    }

    /// Only requests whose raw path starts with `prefix`.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = prefix.into();
        self
    }

    /// Let the first `n` matching requests through.
    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Apply to one matching request in `n`.
    pub fn every(mut self, n: u32) -> Self {
        self.every = n;
        self
    }

    /// Apply only `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Checks that the rule can be applied as written: a final status, a path prefix that a
    /// request path can have.
    pub fn validate(&self) -> Result<(), InvalidFault> {
        if let RangeFault::Status { status } = self.fault {
            faults::status_code(status)?;
        }
        faults::check_path_prefix(&self.path_prefix)
    }
}

/// The live link settings and range fault rules of a cluster.
#[derive(Debug, Default)]
pub(crate) struct Shaping {
    link: Mutex<Link>,
    rules: Mutex<Vec<Armed>>,
}

#[derive(Debug)]
struct Armed {
    rule: RangeFaultRule,
    /// Matching requests seen.
    seen: u32,
    /// Times applied.
    applied: u32,
}

impl Shaping {
    pub(crate) fn set_link(&self, link: Link) {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
    }

    pub(crate) fn link(&self) -> Link {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, rule: RangeFaultRule) {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner).push(Armed { rule, seen: 0, applied: 0 });
    }

    /// The fault for a range request to `path`, if any (counting it against every matching
    /// rule up to the one that applies).
    pub(crate) fn take(&self, path: &str) -> Option<RangeFault> {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        for armed in rules.iter_mut().filter(|armed| path.starts_with(&armed.rule.path_prefix)) {
            let n = armed.seen;
            armed.seen = armed.seen.saturating_add(1);
            let Some(past_skip) = n.checked_sub(armed.rule.skip) else { continue };
            if past_skip % armed.rule.every.max(1) != 0 || armed.rule.times.is_some_and(|t| armed.applied >= t) {
                continue;
            }
            armed.applied = armed.applied.saturating_add(1);
            return Some(armed.rule.fault);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_after_skip_at_most_times() {
        let shaping = Shaping::default();
        shaping.add(RangeFaultRule::new(RangeFault::CutMidBody).skip(1).every(3).times(2));
        let hits: Vec<bool> = (0..12).map(|_| shaping.take("/v1/objects/b/o").is_some()).collect();
        let expected = [false, true, false, false, true, false, false, false, false, false, false, false];
        assert_eq!(hits, expected);
    }

    #[test]
    fn prefix_must_match() {
        let shaping = Shaping::default();
        shaping.add(RangeFaultRule::new(RangeFault::IgnoreRange).path_prefix("/v1/objects/a/"));
        assert_eq!(shaping.take("/v1/objects/b/o"), None);
        assert_eq!(shaping.take("/v1/objects/a/o"), Some(RangeFault::IgnoreRange));
    }
}
