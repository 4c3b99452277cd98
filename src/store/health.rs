//! What a health check is: the seam between the store and whatever proves that the staged
//! anchors work, with the device's failures told apart from the bundle's.

use std::string::String;

use rustls_pki_types::TrustAnchor;

/// Checks, before a commit, that the device can do its job trusting only the staged anchors.
pub trait HealthCheck {
    /// `Ok` if the device works with exactly `anchors`.
    ///
    /// # Errors
    ///
    /// [`HealthCheckError::Unavailable`] when the device could not run the check (it says
    /// nothing about the bundle), [`HealthCheckError::Failed`] when the check ran and the
    /// anchors did not do the job.
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError>;
}

impl<F: FnMut(&[TrustAnchor<'static>]) -> Result<(), HealthCheckError>> HealthCheck for F {
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
        self(anchors)
    }
}

/// Why a health check did not pass. Only [`HealthCheckError::Failed`] counts against the
/// bundle: a device that is offline, or whose endpoint is down, must not throw a good bundle
/// away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthCheckError {
    /// The device could not run the check: network down, name resolution, connection
    /// refused, a timeout, a local configuration error. The attempt is not counted and the
    /// bundle stays staged.
    Unavailable {
        /// What happened.
        reason: String,
    },
    /// The check ran and failed with only the staged anchors (the endpoint's chain did not
    /// verify): the bundle's fault. Counted; at the limit the bundle is discarded.
    Failed {
        /// What happened.
        reason: String,
    },
}

impl HealthCheckError {
    /// The reason, whichever the kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::Unavailable { reason } | Self::Failed { reason } => reason,
        }
    }
}

impl core::fmt::Display for HealthCheckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unavailable { reason } => write!(f, "check could not run: {reason}"),
            Self::Failed { reason } => write!(f, "check failed: {reason}"),
        }
    }
}

impl std::error::Error for HealthCheckError {}
