//! Public-key kinds of trust anchors. Dependency-free: shared by the library, build.rs and the
//! tests, and usable in the `no_std` core.

use core::fmt;

/// A root's public key, as far as a TLS stack cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: u16,
    },
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// ECDSA on NIST P-521 (secp521r1).
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// Whether rustls-webpki can verify signatures by this key: RSA of 2048 to 8192 bits,
    /// ECDSA on P-256, P-384 or P-521 (P-521 with providers that have it, such as
    /// aws-lc-rs), or Ed25519. One rule for the compiled-in roots and for signed bundles.
    pub fn usable_by_rustls(self) -> bool {
        match self {
            Self::Rsa { bits } => (2048..=8192).contains(&bits),
            Self::EcdsaP256 | Self::EcdsaP384 | Self::EcdsaP521 | Self::Ed25519 => true,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA {bits}"),
            Self::EcdsaP256 => f.write_str("ECDSA P-256"),
            Self::EcdsaP384 => f.write_str("ECDSA P-384"),
            Self::EcdsaP521 => f.write_str("ECDSA P-521"),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}
