//! Which failures are worth another pass: the three classifier presets.

use std::fmt;
use std::str::FromStr;

use http::StatusCode;
use stowage_proto::TransportError;

/// What an answer means for the service that gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// 2xx: the block is stored there.
    Stored,
    /// Try this service again in the next pass.
    Retryable,
    /// Never try this service again for this block.
    Permanent,
}

/// Which answers are retryable: a parameter of the write, with the three presets of the
/// reference systems. Transport errors are retryable under every preset, except a redirect the
/// driver could not follow (the service would answer it again: permanent); 2xx is success.
///
/// | preset | retryable | everything else |
/// |---|---|---|
/// | [`Go2024`](Classifier::Go2024) (default) | 408, 429, every status ≥ 500 except 507 | permanent |
/// | [`Seed2016`](Classifier::Seed2016) | 408, 429, 5xx except 503 | permanent |
/// | [`Python321`](Classifier::Python321) | 408, 409, 423, 500, 502, 503, 504, and statuses outside 100–599 | permanent (incl. 429, 507) |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Classifier {
    /// Today's Go SDK against today's keepstore, which answers 507 when full.
    #[default]
    Go2024,
    /// The rule of Arvados story #9446 (2016), when 503 meant "server full".
    Seed2016,
    /// The Python SDK 3.2.1 (`arvados.retry.check_http_response_success`).
    Python321,
}

impl Classifier {
    /// Every preset, default first.
    pub const ALL: [Classifier; 3] = [Classifier::Go2024, Classifier::Seed2016, Classifier::Python321];

    /// The verdict on an HTTP answer.
    pub fn status(self, status: StatusCode) -> Verdict {
        if status.is_success() {
            return Verdict::Stored;
        }
        let code = status.as_u16();
        let retryable = match self {
            Classifier::Go2024 => matches!(code, 408 | 429) || (code >= 500 && code != 507),
            Classifier::Seed2016 => matches!(code, 408 | 429) || ((500..600).contains(&code) && code != 503),
            Classifier::Python321 => matches!(code, 408 | 409 | 423 | 500 | 502 | 503 | 504) || code >= 600,
        };
        if retryable { Verdict::Retryable } else { Verdict::Permanent }
    }

    /// The verdict on a failure below HTTP: retryable under every preset, but a redirect that
    /// could not be followed and a failed TLS handshake, which are permanent
    /// ([`TransportError::is_permanent`]).
    pub fn transport(self, error: TransportError) -> Verdict {
        if error.is_permanent() { Verdict::Permanent } else { Verdict::Retryable }
    }

    /// The preset's name: `go-2024`, `seed-2016`, `python-3.2.1`.
    pub fn name(self) -> &'static str {
        match self {
            Classifier::Go2024 => "go-2024",
            Classifier::Seed2016 => "seed-2016",
            Classifier::Python321 => "python-3.2.1",
        }
    }
}

impl fmt::Display for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown classifier preset name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown classifier {0:?}: expected go-2024, seed-2016 or python-3.2.1")]
pub struct UnknownClassifier(pub String);

impl FromStr for Classifier {
    type Err = UnknownClassifier;

    fn from_str(s: &str) -> Result<Self, UnknownClassifier> {
        Classifier::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| UnknownClassifier(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Classifier::ALL {
            assert_eq!(c.name().parse::<Classifier>(), Ok(c));
        }
        assert!("go".parse::<Classifier>().is_err());
    }
}
