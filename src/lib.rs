//! Trust anchors for AWS IoT Core, as const tables, for rustls and for C TLS stacks.
//!
//! AWS IoT Core's ATS endpoints present chains to Amazon Root CA 1 (RSA suites) or Amazon
//! Root CA 3 (ECDSA suites); Amazon Root CA 2 and 4 are reserved for future use, and all four
//! are cross-signed by Starfield Services Root Certificate Authority - G2. This crate compiles
//! those roots in, checked at build time against their published SHA-256 fingerprints, and
//! exposes them the way rustls users expect.
//!
//! # When not to use it
//!
//! - To talk to anything but AWS IoT Core (and other Amazon Trust Services endpoints): use
//!   `webpki-roots` or the platform's verifier.
//! - For a custom domain with a private-CA server certificate, or a Greengrass core device:
//!   those chain to *your* root. Add it yourself (with features `client` and `store`:
//!   `client::anchors_from_pem`, `store::TrustStore::add_extra_anchor`); this crate does not
//!   guess.
//! - As the only way to keep a fleet's roots current. Compiled-in roots are right for
//!   "applications that can always be recompiled and instantly deployed"; devices that
//!   cannot be reflashed need a signed root update path as well: the [`bundle`] module.
//!
//! # What it deliberately does not do
//!
//! - It does not pin certificates or pick roots from a host name: AWS's cross-signing changes
//!   the issuer, and China and FIPS endpoints differ.
//! - It does not bundle intermediates: Amazon rotates them.
//! - It never chooses a rustls crypto provider for you.
//! - webpki does not check a trust anchor's dates. [`deadlines_before`] and each
//!   [`Root`]'s `not_after` and `root_program_removal` are how you watch them.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `amazon-root-ca-1` | yes | Amazon Root CA 1 (RSA 2048): ATS chains for RSA suites |
//! | `amazon-root-ca-2` | yes | Amazon Root CA 2 (RSA 4096): reserved for future use |
//! | `amazon-root-ca-3` | yes | Amazon Root CA 3 (ECDSA P-256): ATS chains for ECDSA suites |
//! | `amazon-root-ca-4` | yes | Amazon Root CA 4 (ECDSA P-384): reserved for future use |
//! | `starfield-services-g2` | yes | Starfield Services Root CA G2: cross-signs CA 1-4 |
//! | `starfield-class-2` | no | Starfield Class 2 CA: left Mozilla's store in April 2025 |
//! | `std` | yes | the standard library; off, the tables work in `no_std` without `alloc` |
//! | `alloc` | with `std` | heap allocation |
//! | `rustls` | no | [`root_cert_store`] for rustls 0.23 (no crypto provider chosen) |
//! | `bundle` | no | [`bundle::verify`]: signed root bundles, for devices (`no_std` + `alloc`) |
//! | `client` | no | [`client::client_config`]: rustls config with AWS IoT ALPN rules, endpoint checks, UnknownIssuer diagnostics |
//! | `rumqttc` | no | [`client`] plus rumqttc options (no crypto provider forced) |
//! | `jobs` | no | [`jobs::JobsClient`]: the AWS IoT Jobs protocol for root updates, sans-IO (`no_std` + `alloc`) |
//! | `store` | no | [`store::TrustStore`]: crash-safe stage → health check → commit, for fleet agents |
//! | `signing` | no | [`bundle::BundleBuilder`], [`bundle::SigningKey`]: release tooling; devices only verify |
//!
//! A device that negotiates only ECDSA suites needs only `amazon-root-ca-3`.
//!
//! # Example
//!
//! ```
//! // Pass the anchors to any rustls-webpki based verifier.
//! let anchors = aws_iot_roots::TLS_SERVER_ROOTS;
//! assert!(!anchors.is_empty());
//! for root in aws_iot_roots::ROOTS {
//!     println!("{} ({}) until {:?}", root.name, root.key, root.not_after);
//! }
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Shared verbatim with build.rs and the tests; not every item is used by the library.
#[cfg(any(feature = "bundle", feature = "client"))]
#[allow(dead_code)]
mod anchor;
#[cfg(any(feature = "bundle", feature = "client"))]
#[allow(dead_code)]
mod certparse;
// Shared with build.rs too; the client feature alone uses only `Hex`.
#[cfg(any(feature = "bundle", feature = "client"))]
#[allow(dead_code)]
mod hex;
mod key;

#[cfg(feature = "bundle")]
pub mod bundle;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "jobs")]
pub mod jobs;
#[cfg(feature = "bundle")]
mod json;
mod roots;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "bundle")]
mod timefmt;

// README.md's Rust examples compile as doctests, with the features they name.
#[cfg(all(doctest, feature = "store", feature = "rustls"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use key::KeyAlgorithm;
pub use roots::{
    deadlines_before, known_removal, Deadline, DeadlineKind, RemovalBasis, Root,
    RootProgramRemoval, BUILD_TIME, PEM_BUNDLE, PEM_BUNDLE_NUL, ROOTS, TLS_SERVER_ROOTS,
    TLS_SERVER_ROOT_CERTS,
};

/// The compiled-in roots as a rustls root store.
///
/// Build a verifier from it with the crypto provider of your choice; this crate picks none.
/// With no root feature enabled the store is empty, and rustls refuses to build a verifier
/// from it (`NoRootAnchors`).
///
/// # Examples
///
/// ```
/// let store = aws_iot_roots::root_cert_store();
/// assert_eq!(store.len(), aws_iot_roots::TLS_SERVER_ROOTS.len());
/// ```
#[cfg(feature = "rustls")]
pub fn root_cert_store() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: TLS_SERVER_ROOTS.to_vec(),
    }
}
