//! Fault injection: rules that delay, fail or cut requests before they are routed.
//!
//! In a scenario file a rule reads
//!
//! ```toml
//! [[fault]]
//! method = "POST"                      # optional; any method when absent (case-insensitive)
//! path_prefix = "/v1/objects/cloud/"   # optional; matched against the raw (encoded) path
//! fault = { kind = "reset" }           # latency{ms} | status{status} | reset | stall{ms}
//! skip = 0                             # let the first N matching requests through
//! times = 1                            # then inject N times; forever when absent
//! ```
//!
//! and in JSON `{"method": "POST", "path_prefix": "/v1/objects/cloud/", "fault": {"kind":
//! "status", "status": 503}, "times": 1}`.
//!
//! How rules match is specified on [`FaultRule`].

use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

/// What an applying rule does to a request.
///
/// Serialised internally tagged by `kind`: `{kind = "latency", ms = 250}`,
/// `{kind = "status", status = 503}`, `{kind = "reset"}`, `{kind = "stall", ms = 5000}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "FaultRepr")]
pub enum Fault {
    /// Wait `ms` before handling the request at all (its effects, e.g. a cold GET taking the
    /// lock, happen after the delay), then serve it normally.
    Latency {
        /// The delay in milliseconds.
        ms: u64,
    },
    /// Answer `status` with a short JSON error body instead of handling the request.
    Status {
        /// The status to answer; a final status, 200..=599.
        status: u16,
    },
    /// Reset the TCP connection (`SO_LINGER` 0, then close) without answering.
    Reset,
    /// Handle the request at once (its effects happen), then hold the response head for `ms`
    /// before sending it. A client with a shorter read timeout times out.
    Stall {
        /// How long to hold the response head, in milliseconds.
        ms: u64,
    },
}

/// The serde shape of [`Fault`]. `Reset` is an empty struct variant here so that unknown
/// fields next to `kind = "reset"` are rejected like everywhere else (serde ignores extra
/// fields of unit variants in internally tagged enums).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum FaultRepr {
    Latency { ms: u64 },
    Status { status: u16 },
    Reset {},
    Stall { ms: u64 },
}

impl From<FaultRepr> for Fault {
    fn from(repr: FaultRepr) -> Self {
        match repr {
            FaultRepr::Latency { ms } => Fault::Latency { ms },
            FaultRepr::Status { status } => Fault::Status { status },
            FaultRepr::Reset {} => Fault::Reset,
            FaultRepr::Stall { ms } => Fault::Stall { ms },
        }
    }
}

/// A fault and the requests it applies to.
///
/// # Matching
///
/// Rules are tried in the order they were added. A rule *matches* a request when its method
/// (if any) and path prefix do. Walking the rules, a matching rule still in its `skip` phase
/// counts the request as skipped and the walk goes on; a matching rule whose `times` are used
/// up is passed over; the first matching rule with budget left applies, and the walk stops
/// (later rules do not see the request). At most one fault applies per request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The request method to match; any method when `None`.
    #[serde(default)]
    pub method: Option<String>,
    /// The prefix of the raw request path to match; `""` matches every path.
    #[serde(default)]
    pub path_prefix: String,
    /// What to do.
    pub fault: Fault,
    /// How many matching requests to let through before injecting.
    #[serde(default)]
    pub skip: u32,
    /// How many times to inject once the skipped requests have passed; `None` is forever.
    #[serde(default)]
    pub times: Option<u32>,
}

/// Why a [`FaultRule`] cannot be applied as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFault {
    /// A `status` fault with a status that cannot end a response.
    #[error("fault status {status} is not a final HTTP status (200..=599; 1xx cannot answer a request)")]
    Status {
        /// The offending status.
        status: u16,
    },
    /// A method that is not an HTTP method token.
    #[error("fault method {method:?} is not an HTTP method")]
    Method {
        /// The offending method.
        method: String,
    },
    /// A path prefix that no request path can have.
    #[error("fault path_prefix {prefix:?} must be empty or start with '/'")]
    PathPrefix {
        /// The offending prefix.
        prefix: String,
    },
}

impl FaultRule {
    /// A rule that applies `fault` to every request, forever.
    pub fn new(fault: Fault) -> Self {
        FaultRule { method: None, path_prefix: String::new(), fault, skip: 0, times: None }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
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

    /// Inject only `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Checks that the rule can be applied as written.
    pub fn validate(&self) -> Result<(), InvalidFault> {
        if let Fault::Status { status } = self.fault {
            status_code(status)?;
        }
        if let Some(method) = &self.method
            && http::Method::from_bytes(method.as_bytes()).is_err()
        {
            return Err(InvalidFault::Method { method: method.clone() });
        }
        check_path_prefix(&self.path_prefix)
    }

    fn matches(&self, method: &http::Method, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && path.starts_with(&self.path_prefix)
    }
}

/// A path prefix is empty or starts with `/` (anything else matches no request path).
pub(crate) fn check_path_prefix(prefix: &str) -> Result<(), InvalidFault> {
    if prefix.is_empty() || prefix.starts_with('/') {
        Ok(())
    } else {
        Err(InvalidFault::PathPrefix { prefix: prefix.to_owned() })
    }
}

/// The status code of a `status` fault, if it is a final status.
pub(crate) fn status_code(status: u16) -> Result<http::StatusCode, InvalidFault> {
    http::StatusCode::from_u16(status)
        .ok()
        .filter(|code| (200..=599).contains(&code.as_u16()))
        .ok_or(InvalidFault::Status { status })
}

/// The live rules with their budgets.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Armed>>,
}

#[derive(Debug)]
struct Armed {
    rule: FaultRule,
    /// Matching requests let through so far; at most `rule.skip`.
    skipped: u32,
    /// Times injected so far; at most `rule.times` when set.
    injected: u32,
}

impl Faults {
    /// Appends a rule; it is tried after every rule already present.
    pub(crate) fn add(&self, rule: FaultRule) {
        self.lock().push(Armed { rule, skipped: 0, injected: 0 });
    }

    /// The fault to apply to a request, if any, spending the budget of the rule that applies
    /// and the skips of the matching rules before it.
    pub(crate) fn take(&self, method: &http::Method, path: &str) -> Option<Fault> {
        let mut rules = self.lock();
        for armed in rules.iter_mut().filter(|armed| armed.rule.matches(method, path)) {
            if armed.skipped < armed.rule.skip {
                armed.skipped += 1;
                continue;
            }
            if armed.rule.times.is_some_and(|times| armed.injected >= times) {
                continue;
            }
            armed.injected = armed.injected.saturating_add(1);
            return Some(armed.rule.fault);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Armed>> {
        // The rules stay consistent under a panic elsewhere: every update is a single store.
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    const STATUS: Fault = Fault::Status { status: 503 };

    #[test]
    fn skip_then_times_then_through() {
        let faults = Faults::default();
        faults.add(FaultRule::new(STATUS).skip(1).times(2));
        let seen: Vec<_> = (0..5).map(|_| faults.take(&Method::GET, "/v1/objects/b/o")).collect();
        assert_eq!(seen, [None, Some(STATUS), Some(STATUS), None, None]);
    }

    #[test]
    fn method_and_prefix_must_match() {
        let faults = Faults::default();
        faults.add(FaultRule::new(Fault::Reset).method("post").path_prefix("/v1/objects/cloud/"));
        assert_eq!(faults.take(&Method::GET, "/v1/objects/cloud/o"), None);
        assert_eq!(faults.take(&Method::POST, "/v1/objects/local/o"), None);
        assert_eq!(faults.take(&Method::POST, "/v1/objects/cloud/o"), Some(Fault::Reset));
    }

    #[test]
    fn first_rule_with_budget_applies_and_hides_the_rest() {
        let faults = Faults::default();
        let latency = Fault::Latency { ms: 5 };
        faults.add(FaultRule::new(STATUS).skip(1).times(1));
        faults.add(FaultRule::new(latency).skip(1));
        // Request 1: rule 1 skips it, rule 2 skips it too. Request 2: rule 1 applies, rule 2
        // does not see it. Request 3: rule 1 is spent, rule 2 applies.
        assert_eq!(faults.take(&Method::GET, "/"), None);
        assert_eq!(faults.take(&Method::GET, "/"), Some(STATUS));
        assert_eq!(faults.take(&Method::GET, "/"), Some(latency));
    }

    #[test]
    fn validation() {
        assert_eq!(FaultRule::new(Fault::Status { status: 99 }).validate(), Err(InvalidFault::Status { status: 99 }));
        assert!(FaultRule::new(Fault::Status { status: 102 }).validate().is_err());
        assert!(FaultRule::new(Fault::Status { status: 600 }).validate().is_err());
        assert!(FaultRule::new(Fault::Status { status: 599 }).validate().is_ok());
        assert!(matches!(FaultRule::new(Fault::Reset).method("G T").validate(), Err(InvalidFault::Method { .. })));
        assert!(matches!(
            FaultRule::new(Fault::Reset).path_prefix("v1").validate(),
            Err(InvalidFault::PathPrefix { .. })
        ));
    }
}
