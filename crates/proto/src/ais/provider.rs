//! Bucket providers.

use std::fmt;
use std::str::FromStr;

/// Where a bucket's objects really live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// AIStore itself (`ais`).
    Ais,
    /// Amazon S3 (`aws`; alias `s3`).
    Aws,
    /// Google Cloud Storage (`gcp`; alias `gs`).
    Gcp,
    /// Azure Blob Storage (`azure`; alias `az`).
    Azure,
    /// Oracle Cloud Infrastructure (`oci`).
    Oci,
    /// Plain HTTP(S) origin (`ht`).
    Ht,
}

/// A provider string AIStore does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown bucket provider {0:?} (expected ais, aws/s3, gcp/gs, azure/az, oci or ht)")]
pub struct UnknownProvider(pub String);

impl Provider {
    /// The canonical name used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Ais => "ais",
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Azure => "azure",
            Provider::Oci => "oci",
            Provider::Ht => "ht",
        }
    }

    /// Whether objects of this provider live outside the cluster (everything but `ais`).
    pub const fn is_remote(self) -> bool {
        !matches!(self, Provider::Ais)
    }
}

impl FromStr for Provider {
    type Err = UnknownProvider;

    /// Parses a canonical name or an alias (`s3`, `gs`, `az`); the empty string is `ais`,
    /// AIStore's default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" | "ais" => Provider::Ais,
            "aws" | "s3" => Provider::Aws,
            "gcp" | "gs" => Provider::Gcp,
            "azure" | "az" => Provider::Azure,
            "oci" => Provider::Oci,
            "ht" => Provider::Ht,
            other => return Err(UnknownProvider(other.to_owned())),
        })
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_remoteness() {
        assert_eq!("s3".parse(), Ok(Provider::Aws));
        assert_eq!("gs".parse(), Ok(Provider::Gcp));
        assert_eq!("".parse(), Ok(Provider::Ais));
        assert!(!Provider::Ais.is_remote());
        for p in [Provider::Aws, Provider::Gcp, Provider::Azure, Provider::Oci, Provider::Ht] {
            assert!(p.is_remote());
            assert_eq!(p.as_str().parse(), Ok(p));
        }
        assert!("ftp".parse::<Provider>().is_err());
    }
}
