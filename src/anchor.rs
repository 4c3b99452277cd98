//! The one root-acceptance rule: what any certificate must be before this crate trusts it as
//! a root, wherever it comes from.
//!
//! Shared verbatim with build.rs (`#[path]`), so the compiled-in roots, the roots of a signed
//! bundle (and of a bundle being built), and `client::anchors_from_pem` are held to the same
//! checks. Each caller adds only what is its own: build.rs also pins the fingerprint and
//! requires a self-issued certificate; a bundle also requires that its payload lists the
//! certificate; nothing else. tests/anchor_rule.rs holds the table of what each accepts.

use crate::certparse::CertFacts;
use crate::key::KeyAlgorithm;

/// Why a certificate is not an acceptable root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not an X.509 v3 CA: basicConstraints absent, or `cA` false. (Extensions exist only in
    /// v3, so a v1 or v2 certificate always lands here.)
    NotCa,
    /// It carries name constraints, which webpki would apply to every chain through it and
    /// this crate does not model.
    NameConstraints,
    /// A key rustls' providers cannot use, or one in an encoding they refuse.
    UnsupportedKey,
}

impl Refusal {
    /// The reason in words, for errors that carry no typed variant of their own.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::NotCa => "not an X.509 v3 CA certificate",
            Self::NameConstraints => "name constraints are not supported",
            Self::UnsupportedKey => "a key (or key encoding) rustls cannot use",
        }
    }
}

/// The rule: an X.509 v3 CA (basicConstraints `cA`), no name constraints, and a key rustls
/// can use in the one encoding it accepts (certparse refuses the others). The key's
/// algorithm on success.
pub(crate) fn accept(facts: &CertFacts<'_>) -> Result<KeyAlgorithm, Refusal> {
    if facts.version != 3 || facts.basic_constraints_ca != Some(true) {
        return Err(Refusal::NotCa);
    }
    if facts.has_name_constraints {
        return Err(Refusal::NameConstraints);
    }
    facts
        .key
        .filter(|k| k.usable_by_rustls())
        .ok_or(Refusal::UnsupportedKey)
}

/// What "the same key" means for two roots: the subjectPublicKey bits, not the SPKI bytes,
/// so that another spelling of the AlgorithmIdentifier cannot make one key look like two.
pub(crate) fn key_identity<'a>(facts: &CertFacts<'a>) -> &'a [u8] {
    facts.public_key
}
