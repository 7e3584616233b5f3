//! A job answer that is not the JSON it should be.

/// Which body failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// The snapshot map of `what=qryxstats`.
    Snapshots,
    /// The status of `what=status`.
    Status,
}

impl Body {
    const fn describe(self) -> &'static str {
        match self {
            Body::Snapshots => "job snapshots",
            Body::Status => "job status",
        }
    }
}

/// A response body that is not the JSON it should be: malformed, or of the wrong shape.
///
/// The message names what was wrong where it can: the target, the field, and the line and
/// column (`target "t1": field `aborted`: invalid type: string "yes", expected a boolean at
/// line 1 column 42`).
#[derive(Debug, thiserror::Error)]
#[error("malformed {} JSON: {source}", .body.describe())]
pub struct ParseError {
    /// Which body.
    pub body: Body,
    /// What serde_json said.
    #[source]
    pub source: serde_json::Error,
}

impl ParseError {
    pub(crate) fn snapshots(source: serde_json::Error) -> Self {
        ParseError { body: Body::Snapshots, source }
    }

    pub(crate) fn status(source: serde_json::Error) -> Self {
        ParseError { body: Body::Status, source }
    }
}
