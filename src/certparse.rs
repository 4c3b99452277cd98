//! The facts this crate needs from one DER X.509 certificate, read with `der`'s reader.
//!
//! This one file is compiled three times: into build.rs (which turns roots/ into const tables),
//! into the library (which checks the roots of a signed bundle) and into the tests (which
//! cross-check it against x509-cert and rustls-webpki on every real certificate). One parser
//! means the build-time tables and the run-time checks cannot disagree about a certificate.
//!
//! Why not x509-cert: build.rs runs in every downstream build, and x509-cert brings der_derive,
//! syn and quote with it. This reader needs only `der` with the `oid` feature and no allocator,
//! so it also works in the `no_std` core.

use core::fmt;

use der::asn1::{AnyRef, BitStringRef, GeneralizedTime, ObjectIdentifier, UintRef, UtcTime};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use crate::key::KeyAlgorithm;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_NAME_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.30");

/// Why a certificate could not be read. The part names the field that was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) part: &'static str,
    pub(crate) der: Option<der::Error>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.der {
            Some(e) => write!(f, "malformed {}: {e}", self.part),
            None => write!(f, "malformed {}", self.part),
        }
    }
}

fn bad(part: &'static str) -> impl Fn(der::Error) -> ParseError {
    move |e| ParseError { part, der: Some(e) }
}

fn invalid(part: &'static str) -> ParseError {
    ParseError { part, der: None }
}

/// What was read from one certificate. Byte ranges are `(offset, len)` into `der`, so that
/// const tables can slice the anchor out of the certificate instead of storing it twice.
#[derive(Clone, Debug)]
pub(crate) struct CertFacts<'a> {
    pub(crate) der: &'a [u8],
    /// X.509 version as written (1, 2 or 3).
    pub(crate) version: u8,
    /// The whole issuer Name, tag and length included.
    pub(crate) issuer: &'a [u8],
    /// The whole subject Name, tag and length included.
    pub(crate) subject: &'a [u8],
    /// The subject Name's contents, without the outer tag and length (`TrustAnchor` framing).
    pub(crate) subject_contents: (usize, usize),
    /// The whole SubjectPublicKeyInfo, tag and length included: what SPKI pins hash.
    pub(crate) spki: &'a [u8],
    /// The SPKI's contents, without the outer tag and length (`TrustAnchor` framing).
    pub(crate) spki_contents: (usize, usize),
    /// Where the whole SubjectPublicKeyInfo TLV (`spki`) sits in `der`.
    pub(crate) spki_range: (usize, usize),
    /// notBefore, seconds since the Unix epoch.
    pub(crate) not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub(crate) not_after: u64,
    /// The public key; `None` for a kind this crate does not know, or an encoding of it that
    /// rustls cannot use (see [`read_key`]).
    pub(crate) key: Option<KeyAlgorithm>,
    /// The subjectPublicKey bits: with `key`, the key's identity, whatever the
    /// AlgorithmIdentifier's encoding.
    pub(crate) public_key: &'a [u8],
    /// basicConstraints cA, or `None` when the extension is absent.
    pub(crate) basic_constraints_ca: Option<bool>,
    pub(crate) has_name_constraints: bool,
}

impl<'a> CertFacts<'a> {
    pub(crate) fn subject_contents(&self) -> &'a [u8] {
        let (off, len) = self.subject_contents;
        &self.der[off..off + len]
    }

    pub(crate) fn spki_contents(&self) -> &'a [u8] {
        let (off, len) = self.spki_contents;
        &self.der[off..off + len]
    }

    /// A self-issued certificate names itself as issuer (RFC 5280 §6.1: byte equality of the
    /// DER Names is what every root in scope satisfies).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.issuer == self.subject
    }
}

/// RFC 5280 §4.1.2.5: `notBefore <= t <= notAfter`, both ends inclusive. The one validity
/// rule for build.rs, bundles and the signing side.
pub(crate) fn within_validity(not_before: u64, not_after: u64, t: u64) -> bool {
    not_before <= t && t <= not_after
}

/// Where `inner` starts within `outer`. Both come from one reader over `outer`, so `inner` is
/// always a sub-slice; the check keeps that an invariant rather than an assumption.
fn range_in(outer: &[u8], inner: &[u8]) -> Result<(usize, usize), ParseError> {
    let start = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
    match start.checked_add(inner.len()) {
        Some(end) if end <= outer.len() => Ok((start, inner.len())),
        _ => Err(invalid("certificate layout")),
    }
}

fn expect_tag(any: &AnyRef<'_>, tag: Tag, part: &'static str) -> Result<(), ParseError> {
    if any.tag() == tag {
        Ok(())
    } else {
        Err(invalid(part))
    }
}

/// Reads one DER certificate. Trailing bytes after it are an error.
pub(crate) fn parse(der: &[u8]) -> Result<CertFacts<'_>, ParseError> {
    let cert: AnyRef<'_> = AnyRef::from_der(der).map_err(bad("certificate"))?;
    expect_tag(&cert, Tag::Sequence, "certificate")?;
    let mut c = SliceReader::new(cert.value()).map_err(bad("certificate"))?;
    let tbs: AnyRef<'_> = c.decode().map_err(bad("tbsCertificate"))?;
    expect_tag(&tbs, Tag::Sequence, "tbsCertificate")?;
    let sig_alg: AnyRef<'_> = c.decode().map_err(bad("signatureAlgorithm"))?;
    expect_tag(&sig_alg, Tag::Sequence, "signatureAlgorithm")?;
    let _sig: BitStringRef<'_> = c.decode().map_err(bad("signatureValue"))?;
    c.finish().map_err(bad("certificate"))?;

    let mut t = SliceReader::new(tbs.value()).map_err(bad("tbsCertificate"))?;
    let v0 = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    let version = if Tag::peek(&t).map_err(bad("tbsCertificate"))? == v0 {
        let v: AnyRef<'_> = t.decode().map_err(bad("version"))?;
        let n = u8::from_der(v.value()).map_err(bad("version"))?;
        // DER forbids encoding the DEFAULT (v1) explicitly.
        if n == 0 || n > 2 {
            return Err(invalid("version"));
        }
        n + 1
    } else {
        1
    };
    let serial: AnyRef<'_> = t.decode().map_err(bad("serialNumber"))?;
    expect_tag(&serial, Tag::Integer, "serialNumber")?;
    let alg: AnyRef<'_> = t.decode().map_err(bad("signature"))?;
    expect_tag(&alg, Tag::Sequence, "signature")?;
    let issuer = name_tlv(&mut t, "issuer")?;
    let validity: AnyRef<'_> = t.decode().map_err(bad("validity"))?;
    expect_tag(&validity, Tag::Sequence, "validity")?;
    let (not_before, not_after) = {
        let mut v = SliceReader::new(validity.value()).map_err(bad("validity"))?;
        let nb = read_time(&mut v, "notBefore")?;
        let na = read_time(&mut v, "notAfter")?;
        v.finish().map_err(bad("validity"))?;
        (nb, na)
    };
    let subject = name_tlv(&mut t, "subject")?;
    let spki = t.tlv_bytes().map_err(bad("subjectPublicKeyInfo"))?;
    let spki_any = AnyRef::from_der(spki).map_err(bad("subjectPublicKeyInfo"))?;
    expect_tag(&spki_any, Tag::Sequence, "subjectPublicKeyInfo")?;
    let (key, public_key) = read_key(spki_any.value())?;

    let mut basic_constraints_ca = None;
    let mut has_name_constraints = false;
    while !t.is_finished() {
        let field: AnyRef<'_> = t.decode().map_err(bad("tbsCertificate"))?;
        match field.tag() {
            // issuerUniqueID, subjectUniqueID: allowed, unused.
            Tag::ContextSpecific {
                number: TagNumber(1 | 2),
                ..
            } => {}
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(3),
            } => {
                if version != 3 {
                    return Err(invalid("extensions (only allowed in v3)"));
                }
                let seq = AnyRef::from_der(field.value()).map_err(bad("extensions"))?;
                expect_tag(&seq, Tag::Sequence, "extensions")?;
                let mut seen_bc = false;
                let mut e = SliceReader::new(seq.value()).map_err(bad("extensions"))?;
                while !e.is_finished() {
                    let ext: AnyRef<'_> = e.decode().map_err(bad("extension"))?;
                    expect_tag(&ext, Tag::Sequence, "extension")?;
                    let mut x = SliceReader::new(ext.value()).map_err(bad("extension"))?;
                    let oid: ObjectIdentifier = x.decode().map_err(bad("extension"))?;
                    let _critical: Option<bool> = x.decode().map_err(bad("extension"))?;
                    let value: &der::asn1::OctetStringRef = x.decode().map_err(bad("extension"))?;
                    x.finish().map_err(bad("extension"))?;
                    if oid == OID_BASIC_CONSTRAINTS {
                        // RFC 5280 §4.2: an extension appears at most once.
                        if seen_bc {
                            return Err(invalid("basicConstraints (repeated)"));
                        }
                        seen_bc = true;
                        basic_constraints_ca = Some(read_basic_constraints(value.as_bytes())?);
                    } else if oid == OID_NAME_CONSTRAINTS {
                        has_name_constraints = true;
                    }
                }
            }
            _ => return Err(invalid("tbsCertificate (unexpected field)")),
        }
    }

    Ok(CertFacts {
        der,
        version,
        issuer,
        subject,
        subject_contents: range_in(
            der,
            AnyRef::from_der(subject).map_err(bad("subject"))?.value(),
        )?,
        spki,
        spki_contents: range_in(der, spki_any.value())?,
        spki_range: range_in(der, spki)?,
        not_before,
        not_after,
        key,
        public_key,
        basic_constraints_ca,
        has_name_constraints,
    })
}

fn name_tlv<'a>(r: &mut SliceReader<'a>, part: &'static str) -> Result<&'a [u8], ParseError> {
    let tlv = r.tlv_bytes().map_err(bad(part))?;
    let any = AnyRef::from_der(tlv).map_err(bad(part))?;
    expect_tag(&any, Tag::Sequence, part)?;
    Ok(tlv)
}

fn read_time(r: &mut SliceReader<'_>, part: &'static str) -> Result<u64, ParseError> {
    let d = match Tag::peek(r).map_err(bad(part))? {
        Tag::UtcTime => r.decode::<UtcTime>().map_err(bad(part))?.to_unix_duration(),
        Tag::GeneralizedTime => r
            .decode::<GeneralizedTime>()
            .map_err(bad(part))?
            .to_unix_duration(),
        _ => return Err(invalid(part)),
    };
    Ok(d.as_secs())
}

// Field primes, big-endian, for the check that a point's coordinates are reduced: an
// unreduced coordinate is a second encoding of the same point, which ring refuses.
// Equal-length slices compare as big-endian numbers.
const P256_P: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];
/// 2^384 - 2^128 - 2^96 + 2^32 - 1.
const P384_P: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
];

/// An uncompressed SEC 1 point (`04 || X || Y`) with both coordinates reduced, the only
/// encoding rustls' providers accept. A compressed point (`02`/`03 || X`) names the same key in
/// fewer bytes: accepting both would make one key look like two.
fn uncompressed_point(point: &[u8], coordinate: usize, reduced: impl Fn(&[u8]) -> bool) -> bool {
    point.len() == 1 + 2 * coordinate
        && point[0] == 0x04
        && reduced(&point[1..1 + coordinate])
        && reduced(&point[1 + coordinate..])
}

/// The key's kind and its subjectPublicKey bits. The kind is `None` for a key this crate does
/// not know *and* for a known key in an encoding rustls cannot use, so that each accepted key
/// has exactly one accepted encoding:
/// - RSA: parameters must be NULL (RFC 3279 §2.3.1; webpki matches the NULL form only); the
///   RSAPublicKey integers are DER, so minimal.
/// - EC: a named curve, and an uncompressed point with reduced coordinates.
/// - Ed25519: no parameters (RFC 8410 §3) and 32 bytes.
fn read_key(spki_contents: &[u8]) -> Result<(Option<KeyAlgorithm>, &[u8]), ParseError> {
    let part = "subjectPublicKeyInfo";
    let mut r = SliceReader::new(spki_contents).map_err(bad(part))?;
    let alg: AnyRef<'_> = r.decode().map_err(bad(part))?;
    expect_tag(&alg, Tag::Sequence, part)?;
    let key: BitStringRef<'_> = r.decode().map_err(bad(part))?;
    r.finish().map_err(bad(part))?;
    let mut a = SliceReader::new(alg.value()).map_err(bad(part))?;
    let oid: ObjectIdentifier = a.decode().map_err(bad(part))?;
    let params: Option<AnyRef<'_>> = a.decode().map_err(bad(part))?;
    a.finish().map_err(bad(part))?;
    let key_bytes = key.as_bytes().ok_or_else(|| invalid("subjectPublicKey"))?;

    let kind = if oid == OID_RSA_ENCRYPTION {
        let mut k = SliceReader::new(key_bytes).map_err(bad("RSA public key"))?;
        let modulus = k
            .sequence(|s| {
                let n: UintRef<'_> = s.decode()?;
                let _e: UintRef<'_> = s.decode()?;
                Ok(n)
            })
            .map_err(bad("RSA public key"))?;
        k.finish().map_err(bad("RSA public key"))?;
        let n = modulus.as_bytes();
        let bits = match n.first() {
            Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        };
        let bits = u16::try_from(bits).map_err(|_| invalid("RSA public key (too large)"))?;
        let null_params = params.is_some_and(|p| p.tag() == Tag::Null && p.value().is_empty());
        null_params.then_some(KeyAlgorithm::Rsa { bits })
    } else if oid == OID_EC_PUBLIC_KEY {
        let curve = params.ok_or_else(|| invalid("EC parameters"))?;
        let curve: ObjectIdentifier = curve.decode_as().map_err(bad("EC parameters"))?;
        if curve == OID_P256 {
            uncompressed_point(key_bytes, 32, |c| c < &P256_P[..])
                .then_some(KeyAlgorithm::EcdsaP256)
        } else if curve == OID_P384 {
            uncompressed_point(key_bytes, 48, |c| c < &P384_P[..])
                .then_some(KeyAlgorithm::EcdsaP384)
        } else if curve == OID_P521 {
            // p = 2^521 - 1 is 01 ff .. ff in 66 bytes (slices compare big-endian).
            let reduced = |c: &[u8]| c[0] == 0 || (c[0] == 1 && c[1..].iter().any(|&b| b != 0xff));
            uncompressed_point(key_bytes, 66, reduced).then_some(KeyAlgorithm::EcdsaP521)
        } else {
            None
        }
    } else if oid == OID_ED25519 {
        (params.is_none() && key_bytes.len() == 32).then_some(KeyAlgorithm::Ed25519)
    } else {
        None
    };
    Ok((kind, key_bytes))
}

fn read_basic_constraints(value: &[u8]) -> Result<bool, ParseError> {
    let part = "basicConstraints";
    let mut r = SliceReader::new(value).map_err(bad(part))?;
    let ca = r
        .sequence(|s| {
            let ca: Option<bool> = s.decode()?;
            let _path_len: Option<UintRef<'_>> = s.decode()?;
            Ok(ca)
        })
        .map_err(bad(part))?;
    r.finish().map_err(bad(part))?;
    // DER: the DEFAULT FALSE must be omitted, so an explicit FALSE is malformed.
    if ca == Some(false) {
        return Err(invalid("basicConstraints (explicit default)"));
    }
    Ok(ca == Some(true))
}

/// Writes a Name as RFC 4514 text ("CN=Amazon Root CA 1, O=Amazon, C=US"), for humans only.
pub(crate) fn write_name(name_tlv: &[u8], out: &mut dyn fmt::Write) -> Result<(), ParseError> {
    let part = "Name";
    let any = AnyRef::from_der(name_tlv).map_err(bad(part))?;
    expect_tag(&any, Tag::Sequence, part)?;
    // RFC 4514 writes the most specific RDN first, the reverse of encoding order. Count first
    // so that no allocation is needed.
    let count = {
        let mut r = SliceReader::new(any.value()).map_err(bad(part))?;
        let mut n = 0usize;
        while !r.is_finished() {
            r.tlv_bytes().map_err(bad(part))?;
            n += 1;
        }
        n
    };
    for i in (0..count).rev() {
        let mut r = SliceReader::new(any.value()).map_err(bad(part))?;
        let mut rdn: AnyRef<'_> = r.decode().map_err(bad(part))?;
        for _ in 0..i {
            rdn = r.decode().map_err(bad(part))?;
        }
        expect_tag(&rdn, Tag::Set, part)?;
        let mut s = SliceReader::new(rdn.value()).map_err(bad(part))?;
        let mut first_in_rdn = true;
        while !s.is_finished() {
            let atv: AnyRef<'_> = s.decode().map_err(bad(part))?;
            expect_tag(&atv, Tag::Sequence, part)?;
            let mut a = SliceReader::new(atv.value()).map_err(bad(part))?;
            let oid: ObjectIdentifier = a.decode().map_err(bad(part))?;
            let value: AnyRef<'_> = a.decode().map_err(bad(part))?;
            let sep = match (i + 1 == count, first_in_rdn) {
                (true, true) => "",
                (_, true) => ", ",
                (_, false) => "+",
            };
            first_in_rdn = false;
            let label = attribute_label(&oid);
            // write_str/write_char, not write!: this runs for every root of every bundle
            // verified, and the formatting machinery per character was a tenth of verify.
            let ok = match label {
                Some(l) => out
                    .write_str(sep)
                    .and_then(|()| out.write_str(l))
                    .and_then(|()| out.write_char('=')),
                None => write!(out, "{sep}{oid}="),
            };
            ok.map_err(|_| invalid(part))?;
            match core::str::from_utf8(value.value()) {
                Ok(text) => {
                    for ch in text.chars() {
                        let escaped = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';');
                        let w = if escaped {
                            out.write_char('\\').and_then(|()| out.write_char(ch))
                        } else {
                            out.write_char(ch)
                        };
                        w.map_err(|_| invalid(part))?;
                    }
                }
                Err(_) => {
                    write!(out, "#{}", crate::hex::Hex(value.value()))
                        .map_err(|_| invalid(part))?;
                }
            }
        }
    }
    Ok(())
}

/// The value of attribute `oid` in a Name, from the most specific RDN that has it (the last in
/// encoding order, the first in RFC 4514 text), if it is text (UTF8String, PrintableString,
/// IA5String: valid UTF-8).
pub(crate) fn name_attribute<'a>(
    name_tlv: &'a [u8],
    oid: &ObjectIdentifier,
) -> Result<Option<&'a str>, ParseError> {
    let part = "Name";
    let any = AnyRef::from_der(name_tlv).map_err(bad(part))?;
    expect_tag(&any, Tag::Sequence, part)?;
    let mut found = None;
    let mut r = SliceReader::new(any.value()).map_err(bad(part))?;
    while !r.is_finished() {
        let rdn: AnyRef<'a> = r.decode().map_err(bad(part))?;
        expect_tag(&rdn, Tag::Set, part)?;
        let mut s = SliceReader::new(rdn.value()).map_err(bad(part))?;
        while !s.is_finished() {
            let atv: AnyRef<'a> = s.decode().map_err(bad(part))?;
            expect_tag(&atv, Tag::Sequence, part)?;
            let mut a = SliceReader::new(atv.value()).map_err(bad(part))?;
            let this: ObjectIdentifier = a.decode().map_err(bad(part))?;
            let value: AnyRef<'a> = a.decode().map_err(bad(part))?;
            let text = matches!(
                value.tag(),
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String
            );
            if this == *oid && text {
                found = core::str::from_utf8(value.value()).ok().or(found);
            }
        }
    }
    Ok(found)
}

pub(crate) const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
pub(crate) const OID_ORGANIZATIONAL_UNIT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.4.11");
pub(crate) const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

fn attribute_label(oid: &ObjectIdentifier) -> Option<&'static str> {
    const LABELS: &[(&str, &str)] = &[
        ("2.5.4.3", "CN"),
        ("2.5.4.6", "C"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
        ("2.5.4.5", "SERIALNUMBER"),
    ];
    LABELS
        .iter()
        .find(|(dotted, _)| {
            ObjectIdentifier::new(dotted)
                .map(|o| &o == oid)
                .unwrap_or(false)
        })
        .map(|(_, label)| *label)
}
