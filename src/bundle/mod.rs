//! Signed root bundles: how a fleet replaces its roots without a firmware release.
//!
//! The format is specified in docs/bundle-format.md: a DSSE envelope whose payload lists roots
//! by SHA-256, plus the DER certificates outside the signed bytes; in format v2 the signer set
//! is groups of explicit algorithms (Ed25519, ML-DSA-65, ML-DSA-87), all required, and the
//! next set's keys travel outside the signed bytes too, bound by hash. Devices call [`verify`]
//! (feature `bundle`); release tooling builds and signs with [`BundleBuilder`] and
//! [`SigningKey`] (feature `signing`).
//!
//! # Examples
//!
//! ```
//! # #[cfg(feature = "signing")] {
//! use core::time::Duration;
//! use aws_iot_roots::bundle::{verify, BundleBuilder, Policy, SignerSet, SigningKey, TrustState, Verdict};
//! use rustls_pki_types::UnixTime;
//!
//! let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
//! let key = SigningKey::generate();
//! let signers = SignerSet::new(vec![key.public_key()], 1)?;
//! let ca3 = aws_iot_roots::ROOTS.iter().find(|r| r.name == "Amazon Root CA 3").unwrap();
//!
//! // Release side: build, sign.
//! let mut bundle = BundleBuilder::new("acme-prod", 1, at(1_800_000_000), at(1_830_000_000), signers.clone())
//!     .root(ca3.der.clone(), Some(ca3.name.into()))
//!     .build(&Policy::default().limits)?;
//! bundle.sign(&key)?;
//! let bytes = bundle.to_bytes();
//!
//! // Device side: verify against what it trusts now, at its clock.
//! let mut state = TrustState::initial("acme-prod", signers);
//! state.time_floor = at(1_790_000_000);
//! match verify(&bytes, &state, at(1_800_000_100), &Policy::default())? {
//!     Verdict::Apply(verified) => assert_eq!(verified.roots().len(), 1),
//!     other => panic!("{other:?}"),
//! }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

//!
//! Format v2: a hybrid signer set, an Ed25519 group AND an ML-DSA-65 group, both required.
//!
//! ```
//! # #[cfg(feature = "signing")] {
//! use core::time::Duration;
//! use aws_iot_roots::bundle::{
//!     verify, Algorithm, BundleBuilder, BundleError, Format, Policy, SignerGroup, SignerRole,
//!     SignerSet, SigningKey, TrustState, Verdict,
//! };
//! use rustls_pki_types::UnixTime;
//!
//! let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
//! let (ed, ml) = (SigningKey::generate(), SigningKey::generate_with(Algorithm::MlDsa65));
//! let hybrid = SignerSet::from_groups(vec![
//!     SignerGroup::new(Algorithm::Ed25519, vec![ed.public_key()], 1)?,
//!     SignerGroup::new(Algorithm::MlDsa65, vec![ml.public_key()], 1)?,
//! ])?;
//! let ca3 = aws_iot_roots::ROOTS.iter().find(|r| r.name == "Amazon Root CA 3").unwrap();
//! let mut bundle = BundleBuilder::new("acme-prod", 2, at(1_800_000_000), at(1_830_000_000), hybrid.clone())
//!     .root(ca3.der.clone(), None)
//!     .build(&Policy::default().limits)?;
//! assert_eq!(bundle.format(), Some(Format::V2));
//! let mut state = TrustState::initial("acme-prod", hybrid);
//! state.time_floor = at(1_790_000_000);
//! let now = at(1_800_000_100);
//!
//! bundle.sign(&ed)?;
//! // Ed25519 alone does not move a hybrid device.
//! assert!(matches!(
//!     verify(&bundle.to_bytes(), &state, now, &Policy::default()),
//!     Err(BundleError::SignatureThreshold { role: SignerRole::Current, algorithm: Algorithm::MlDsa65, .. })
//! ));
//! bundle.sign(&ml)?;
//! assert!(matches!(verify(&bundle.to_bytes(), &state, now, &Policy::default())?, Verdict::Apply(_)));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The bundle format, one concern per module; users name only `bundle::*`.
mod certs;
pub(crate) mod dsse;
mod envelope;
pub(crate) mod error;
mod inspect;
pub(crate) mod keys;
pub(crate) mod limits;
pub(crate) mod payload;
mod rule;
#[cfg(feature = "signing")]
mod signing;
pub(crate) mod verify;
pub(crate) mod wire;

pub use certs::VerifiedRoot;
pub use dsse::{pae, Format, PAYLOAD_TYPE, PAYLOAD_TYPE_V2};
pub use envelope::{Bundle, SignatureCheck};
pub use error::{BundleError, Fingerprint, KeyError, Limit, Part, SignerRole};
pub use inspect::{default_root_name, CertificateInfo};
pub use keys::{Algorithm, PublicKey, SignerGroup, SignerSet};
pub use limits::{
    Limits, Policy, DEFAULT_CLOCK_TOLERANCE, KMS_RAW_MESSAGE_LIMIT, MAX_BUNDLE_BYTES,
    MAX_CERTIFICATE_BYTES, MAX_FLEET_ID_BYTES, MAX_PAYLOAD_BYTES, MAX_ROOTS, MAX_ROOT_NAME_BYTES,
    MAX_SIGNATURES, MAX_SIGNATURE_BYTES, MAX_SIGNER_KEYS, MAX_SIGNER_KEY_BYTES,
};
pub use payload::{Payload, RootRef};
pub use rule::Rule;
#[cfg(feature = "signing")]
pub use signing::{BundleBuilder, SigningKey};
pub use verify::{verify, verify_report, Outcome, TrustState, Verdict, VerifiedBundle};
pub use wire::{SCHEMA_VERSION, SCHEMA_VERSION_V2};
