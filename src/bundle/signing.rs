//! The signing side: keys and bundle construction, for release tooling and tests. Devices
//! only verify (feature `bundle`); this module is behind the `signing` feature.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use alloc::boxed::Box;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::Signer as _;
use ml_dsa::signature::Keypair as _;
use ml_dsa::{MlDsa65, MlDsa87};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::certs::check_roots;
use super::envelope::Bundle;
use super::inspect::CertificateInfo;
use super::payload::{Payload, RootRef};
use crate::bundle::dsse::Format;
use crate::bundle::error::{BundleError, KeyError};
use crate::bundle::keys::{Algorithm, PublicKey, SignerSet};
use crate::bundle::limits::Limits;

/// A signing key of one [`Algorithm`]: Ed25519, ML-DSA-65 or ML-DSA-87.
///
/// Not `Clone` (one copy of a secret is easier to account for), redacted in `Debug`, and
/// zeroized on drop (ed25519-dalek's `ZeroizeOnDrop`, ml-dsa's `zeroize`).
pub struct SigningKey(Secret);

// As `Material`: Ed25519 inline, the large ML-DSA keys boxed.
#[allow(clippy::large_enum_variant)]
enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    // Boxed: the expanded ML-DSA key is several KiB, kept off the stack.
    MlDsa65(Box<ml_dsa::SigningKey<MlDsa65>>),
    MlDsa87(Box<ml_dsa::SigningKey<MlDsa87>>),
}

/// 32 bytes from the operating system's CSPRNG: an Ed25519 seed, ML-DSA's ξ, or ML-DSA's
/// per-signature randomness.
fn os_random() -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    #[allow(clippy::expect_used)]
    getrandom::fill(seed.as_mut()).expect("the OS random number generator failed");
    seed
}

fn encoding_error(e: impl ToString) -> KeyError {
    KeyError::Encoding {
        detail: e.to_string(),
    }
}

impl SigningKey {
    /// A new Ed25519 key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system cannot supply random bytes. A key from anything weaker must
    /// never be made, and there is nothing to fall back to.
    pub fn generate() -> Self {
        Self::generate_with(Algorithm::Ed25519)
    }

    /// A new key of `algorithm` from the operating system's CSPRNG (for ML-DSA, a random
    /// seed ξ, FIPS 204 ML-DSA.KeyGen).
    ///
    /// # Panics
    ///
    /// As [`SigningKey::generate`].
    pub fn generate_with(algorithm: Algorithm) -> Self {
        let seed = os_random();
        Self(match algorithm {
            Algorithm::Ed25519 => Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
            Algorithm::MlDsa65 => Secret::MlDsa65(Box::new(ml_dsa::SigningKey::from_seed(
                &ml_dsa::Seed::from(*seed),
            ))),
            Algorithm::MlDsa87 => Secret::MlDsa87(Box::new(ml_dsa::SigningKey::from_seed(
                &ml_dsa::Seed::from(*seed),
            ))),
        })
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`): Ed25519 as written by
    /// `openssl genpkey -algorithm ed25519`, or ML-DSA-65/87 in the seed-only form of
    /// RFC 9881 (`[0] OCTET STRING` of the 32-byte ξ), as OpenSSL 3.5, pyca/cryptography and
    /// [`SigningKey::to_pkcs8_pem`] write it. The algorithm comes from the key's OID.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] when the PEM is none of these.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let ed = match ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            Ok(k) => return Ok(Self(Secret::Ed25519(k))),
            Err(e) => e,
        };
        if let Ok(k) = ml_dsa::SigningKey::<MlDsa65>::from_pkcs8_pem(pem) {
            return Ok(Self(Secret::MlDsa65(Box::new(k))));
        }
        if let Ok(k) = ml_dsa::SigningKey::<MlDsa87>::from_pkcs8_pem(pem) {
            return Ok(Self(Secret::MlDsa87(Box::new(k))));
        }
        Err(KeyError::Encoding {
            detail: alloc::format!(
                "not an Ed25519 or ML-DSA-65/87 (seed form) PKCS#8 private key: {ed}"
            ),
        })
    }

    /// PKCS#8 PEM, readable by `openssl pkey` (3.5 and later for ML-DSA) and
    /// pyca/cryptography. The string is zeroized when dropped.
    ///
    /// Ed25519 is written as PKCS#8 v1 (the secret only), the form `openssl genpkey` writes:
    /// OpenSSL 3.0 refuses the v2 form with the public key attached. ML-DSA is written in
    /// RFC 9881's seed-only form.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let pem = match &self.0 {
            Secret::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
            Secret::MlDsa65(k) => k.to_pkcs8_pem(LineEnding::LF),
            Secret::MlDsa87(k) => k.to_pkcs8_pem(LineEnding::LF),
        };
        pem.map(|s| Zeroizing::new(s.as_str().to_owned()))
            .map_err(encoding_error)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match &self.0 {
            Secret::Ed25519(_) => Algorithm::Ed25519,
            Secret::MlDsa65(_) => Algorithm::MlDsa65,
            Secret::MlDsa87(_) => Algorithm::MlDsa87,
        }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        let encoded: Vec<u8> = match &self.0 {
            Secret::Ed25519(k) => k.verifying_key().as_bytes().to_vec(),
            Secret::MlDsa65(k) => k.verifying_key().encode().to_vec(),
            Secret::MlDsa87(k) => k.verifying_key().encode().to_vec(),
        };
        // A key derived from a secret is never weak or non-canonical.
        PublicKey::from_encoded(self.algorithm(), &encoded)
            .unwrap_or_else(|_| unreachable!("derived public keys are valid"))
    }

    /// Signs `message`: Ed25519 (pure, not prehashed), or ML-DSA.Sign (pure, empty context)
    /// in FIPS 204's default hedged mode, with fresh randomness per signature.
    ///
    /// # Panics
    ///
    /// If the operating system cannot supply random bytes (ML-DSA).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.0 {
            Secret::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Secret::MlDsa65(k) => ml_dsa_sign(k.expanded_key(), message),
            Secret::MlDsa87(k) => ml_dsa_sign(k.expanded_key(), message),
        }
    }
}

fn ml_dsa_sign<P: ml_dsa::MlDsaParams>(
    key: &ml_dsa::ExpandedSigningKey<P>,
    message: &[u8],
) -> Vec<u8> {
    // The hedged ML-DSA.Sign with an empty context: M' = 0x00 || 0x00 || M (FIPS 204,
    // algorithm 2), signed internally with fresh rnd (algorithm 7).
    let rnd = os_random();
    key.sign_internal(&[&[0u8, 0u8], message], &ml_dsa::B32::from(*rnd))
        .encode()
        .to_vec()
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
    /// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`) of Ed25519, ML-DSA-65 or
    /// ML-DSA-87, as `openssl pkey -pubout` writes it. The algorithm comes from the OID.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`], or the checks of [`PublicKey::from_encoded`].
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let ed = match ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            Ok(vk) => return Self::from_bytes(vk.as_bytes()),
            Err(e) => e,
        };
        if let Ok(k) = ml_dsa::VerifyingKey::<MlDsa65>::from_public_key_pem(pem) {
            return Self::from_encoded(Algorithm::MlDsa65, &k.encode());
        }
        if let Ok(k) = ml_dsa::VerifyingKey::<MlDsa87>::from_public_key_pem(pem) {
            return Self::from_encoded(Algorithm::MlDsa87, &k.encode());
        }
        Err(KeyError::Encoding {
            detail: alloc::format!("not an Ed25519 or ML-DSA-65/87 SPKI public key: {ed}"),
        })
    }

    /// SPKI PEM, readable by `openssl pkey -pubin` (3.5 and later for ML-DSA).
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        fn ml<P>(bytes: &[u8]) -> Result<String, KeyError>
        where
            P: ml_dsa::MlDsaParams
                + ml_dsa::pkcs8::spki::AssociatedAlgorithmIdentifier<Params = der::AnyRef<'static>>,
        {
            let enc = ml_dsa::EncodedVerifyingKey::<P>::try_from(bytes).map_err(encoding_error)?;
            ml_dsa::VerifyingKey::<P>::decode(&enc)
                .to_public_key_pem(LineEnding::LF)
                .map_err(encoding_error)
        }
        match self.algorithm() {
            Algorithm::Ed25519 => self
                .ed25519_key()
                .ok_or_else(|| encoding_error("not an Ed25519 key"))?
                .to_public_key_pem(LineEnding::LF)
                .map_err(encoding_error),
            Algorithm::MlDsa65 => ml::<MlDsa65>(self.as_bytes()),
            Algorithm::MlDsa87 => ml::<MlDsa87>(self.as_bytes()),
        }
    }
}

impl Bundle {
    /// Signs with `key` and appends the signature; signers sign one after another.
    ///
    /// # Errors
    ///
    /// [`BundleError::Malformed`] for an ML-DSA key on a v1 bundle, which can carry only
    /// Ed25519 signatures.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), BundleError> {
        self.check_algorithm(key.algorithm())?;
        let sig = key.sign(&self.pae());
        self.push_signature(&key.public_key(), sig);
        Ok(())
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
    format: Option<Format>,
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
            format: None,
        }
    }

    /// The format to build. Unset, a set format v1 can express (one Ed25519 group) is built
    /// as v1, which every firmware generation reads, and any other set as v2. Choose v2 for
    /// a bundle that the *current* signers sign with ML-DSA while the next set is Ed25519 only
    /// (a downgrade, which needs the hybrid threshold).
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
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
        let v1_ok = self.signers.v1_group().is_some();
        let format = match self.format {
            Some(f) => f,
            None if v1_ok => Format::V1,
            None => Format::V2,
        };
        if format == Format::V1 && !v1_ok {
            return Err(BundleError::Malformed {
                part: crate::bundle::error::Part::Payload,
                detail: "format v1 holds one ed25519 signer group; this signer set needs v2".into(),
            });
        }
        let keys = (format == Format::V2)
            .then(|| self.signers.keys().map(|k| k.as_bytes().to_vec()).collect());
        let mut roots: Vec<([u8; 32], CertificateDer<'static>, Option<String>)> = self
            .roots
            .into_iter()
            .map(|(der, name)| (Sha256::digest(&der).into(), der, name))
            .collect();
        roots.sort_by_key(|r| r.0);
        let payload = Payload {
            format,
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
        let bundle = Bundle::new_unsigned(format, json, ders, keys);
        bundle.payload_unverified(limits)?;
        Ok(bundle)
    }
}
