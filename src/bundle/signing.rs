//! The signing side: keys and bundle construction, for release tooling and tests. Devices
//! only verify (feature `bundle`); this module is behind the `signing` feature.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::Signer as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::certs::check_roots;
use super::envelope::Bundle;
use super::inspect::CertificateInfo;
use super::payload::{Payload, RootRef};
use crate::bundle::error::{BundleError, KeyError};
use crate::bundle::keys::{PublicKey, SignerSet};
use crate::bundle::limits::Limits;

/// An Ed25519 signing key.
///
/// Not `Clone` (one copy of a secret is easier to account for), redacted in `Debug`, and
/// zeroized on drop (ed25519-dalek's `ZeroizeOnDrop`).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system cannot supply random bytes (as `OsRng` did before). A key
    /// from anything weaker must never be made, and there is nothing to fall back to.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        #[allow(clippy::expect_used)]
        getrandom::fill(seed.as_mut()).expect("the OS random number generator failed");
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), as written by
    /// `openssl genpkey -algorithm ed25519` or [`SigningKey::to_pkcs8_pem`].
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] when the PEM is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|e| KeyError::Encoding {
                detail: e.to_string(),
            })
    }

    /// PKCS#8 PEM, readable by `openssl pkey`. The string is zeroized when dropped.
    ///
    /// Written as PKCS#8 v1 (the secret only), the form `openssl genpkey` writes: OpenSSL 3.0
    /// refuses the v2 form with the public key attached, which ed25519-dalek writes by default.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        v1.to_pkcs8_pem(LineEnding::LF)
            .map(|s| Zeroizing::new(s.as_str().to_owned()))
            .map_err(|e| KeyError::Encoding {
                detail: e.to_string(),
            })
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        // A key derived from a secret is never weak or non-canonical.
        PublicKey::from_bytes(self.0.verifying_key().as_bytes())
            .unwrap_or_else(|_| unreachable!("derived public keys are valid"))
    }

    /// Signs `message` (Ed25519, pure, not prehashed).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey {{ public: {}, secret: <redacted> }}",
            self.public_key()
        )
    }
}

impl PublicKey {
    /// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`), as `openssl pkey -pubout`
    /// writes it.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`], or the checks of [`PublicKey::from_bytes`].
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let vk = ed25519_dalek::VerifyingKey::from_public_key_pem(pem).map_err(|e| {
            KeyError::Encoding {
                detail: e.to_string(),
            }
        })?;
        Self::from_bytes(vk.as_bytes())
    }

    /// SPKI PEM, readable by `openssl pkey -pubin`.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encoding {
                detail: e.to_string(),
            })
    }
}

impl Bundle {
    /// Signs with `key` and appends the signature; signers sign one after another.
    pub fn sign(&mut self, key: &SigningKey) {
        let sig = key.sign(&self.pae());
        self.push_signature(&key.public_key(), sig.to_vec());
    }
}

/// Builds an unsigned bundle, deterministically: the same inputs give the same bytes.
#[derive(Debug)]
pub struct BundleBuilder {
    fleet: String,
    version: u64,
    issued_at: UnixTime,
    expires_at: UnixTime,
    signers: SignerSet,
    roots: Vec<(CertificateDer<'static>, Option<String>)>,
}

impl BundleBuilder {
    /// Starts a bundle for `fleet` at `version`, valid from `issued_at` to `expires_at`,
    /// naming `signers` as the signer set for the next bundle.
    pub fn new(
        fleet: impl Into<String>,
        version: u64,
        issued_at: UnixTime,
        expires_at: UnixTime,
        signers: SignerSet,
    ) -> Self {
        Self {
            fleet: fleet.into(),
            version,
            issued_at,
            expires_at,
            signers,
            roots: Vec::new(),
        }
    }

    /// Adds a root certificate, with an optional display name.
    pub fn root(mut self, der: CertificateDer<'static>, name: Option<String>) -> Self {
        self.roots.push((der, name));
        self
    }

    /// The unsigned bundle. Roots are ordered by certificate SHA-256, so input order does
    /// not change the bytes.
    ///
    /// Checks what a release engineer must not get wrong before anyone signs: each root
    /// parses as a CA certificate and is not expired at `issued_at`, and the payload fits
    /// `limits` (and so the PAE fits a KMS raw message with the default limits).
    ///
    /// # Errors
    ///
    /// [`BundleError::NotCa`], [`BundleError::CertificateExpired`], any other root rule of
    /// [`verify`](crate::bundle::verify), or [`BundleError::TooLarge`].
    pub fn build(self, limits: &Limits) -> Result<Bundle, BundleError> {
        if self.roots.is_empty() {
            return Err(BundleError::NoRoots);
        }
        let mut roots: Vec<([u8; 32], CertificateDer<'static>, Option<String>)> = self
            .roots
            .into_iter()
            .map(|(der, name)| (Sha256::digest(&der).into(), der, name))
            .collect();
        roots.sort_by_key(|r| r.0);
        let payload = Payload {
            fleet: self.fleet,
            version: self.version,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            roots: roots
                .iter()
                .map(|(sha, _, name)| RootRef {
                    sha256: *sha,
                    name: name.clone(),
                })
                .collect(),
            signers: self.signers,
        };
        let ders: Vec<Vec<u8>> = roots.into_iter().map(|(_, der, _)| der.to_vec()).collect();
        // Each certificate on its own first, so the error names the one at fault: a CA,
        // valid when the bundle is issued. Then the device's own rules over the set.
        for der in &ders {
            let info = CertificateInfo::from_der(der)?;
            let sha256 = crate::bundle::error::Fingerprint(info.sha256);
            if !info.is_ca {
                return Err(BundleError::NotCa { sha256 });
            }
            // notAfter is inclusive (RFC 5280 §4.1.2.5): expired means strictly before.
            if info.not_after < payload.issued_at {
                return Err(BundleError::CertificateExpired {
                    sha256,
                    not_after: info.not_after,
                    at: payload.issued_at,
                });
            }
        }
        check_roots(&payload, &ders, payload.issued_at)?;
        let json = payload.to_json();
        if json.len() > limits.max_payload_bytes {
            return Err(BundleError::TooLarge {
                limit: crate::bundle::error::Limit::PayloadBytes,
                max: limits.max_payload_bytes,
                actual: json.len(),
            });
        }
        // Round-trip through the device's own parser, so a builder bug cannot produce a
        // bundle that every device would refuse.
        let bundle = Bundle::new_unsigned(json, ders);
        bundle.payload_unverified(limits)?;
        Ok(bundle)
    }
}
