//! The device's verifier: [`verify`] as named steps, the device state it checks against,
//! and the only constructor of a [`VerifiedBundle`].
//!
//! [`verify`] is pure and synchronous: bytes, the device's [`TrustState`], a clock reading and
//! a [`Policy`] in; a [`Verdict`] out. Everything that applies trust takes only
//! [`VerifiedBundle`].

use alloc::borrow::ToOwned;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use rustls_pki_types::{TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};

use super::certs::{check_roots, VerifiedRoot};
use super::envelope::Bundle;
use super::error::{BundleError, SignerRole};
use super::keys::{PublicKey, SignerSet};
use super::limits::Policy;
use super::payload::{ParsedPayload, Payload};
use super::rule::Rule;

/// What a device trusts now: the inputs to every rollback, fleet and signer check.
///
/// Start from [`TrustState::initial`] (a device that never applied a bundle) or
/// [`TrustState::after`], and assign fields to describe another state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustState {
    /// The device's fleet.
    pub fleet: String,
    /// The active bundle's version (0 before any bundle).
    pub version: u64,
    /// Who may sign the next bundle.
    pub signers: SignerSet,
    /// Trusted time never goes below this: the crate's build time, then the last accepted
    /// bundle's `issued_at`.
    pub time_floor: UnixTime,
    /// SHA-256 of the active bundle's payload, to recognise a re-offered identical bundle.
    pub payload_sha256: Option<[u8; 32]>,
}

impl TrustState {
    /// A device that has never applied a bundle: version 0, the application's signer set, and
    /// the crate's build time as the time floor.
    pub fn initial(fleet: impl Into<String>, signers: SignerSet) -> Self {
        Self {
            fleet: fleet.into(),
            version: 0,
            signers,
            time_floor: crate::BUILD_TIME,
            payload_sha256: None,
        }
    }

    /// The state after applying `bundle`.
    ///
    /// The time floor rises to the bundle's `issued_at`, but never past the trusted time it
    /// was verified at: signers vouch that the bundle exists, so the true time is at least
    /// roughly `issued_at`, but `issued_at` may lie up to the clock tolerance ahead, and a
    /// floor lifted by that much would lift the next bundle's tolerance window with it
    /// (48 bundles walked a fixed clock's floor 47 hours ahead). So bundles alone never move
    /// the floor beyond the device's own clock.
    pub fn after(&self, bundle: &VerifiedBundle) -> Self {
        Self {
            fleet: self.fleet.clone(),
            version: bundle.payload.version,
            signers: bundle.payload.signers.clone(),
            time_floor: self
                .time_floor
                .max(bundle.payload.issued_at.min(bundle.trusted_time)),
            payload_sha256: Some(bundle.payload_sha256),
        }
    }
}

/// A bundle that passed every rule in [`verify`]. Only `verify` constructs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    payload: Payload,
    payload_sha256: [u8; 32],
    roots: Vec<VerifiedRoot>,
    bytes: Vec<u8>,
    trusted_time: UnixTime,
    clock_behind_floor: bool,
}

impl VerifiedBundle {
    /// The verified payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
    /// The roots, in payload order.
    pub fn roots(&self) -> &[VerifiedRoot] {
        &self.roots
    }
    /// The trust anchors, in payload order.
    pub fn anchors(&self) -> Vec<TrustAnchor<'static>> {
        self.roots.iter().map(VerifiedRoot::anchor).collect()
    }
    /// The bundle file exactly as verified, for persistence.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256 of the payload.
    pub fn payload_sha256(&self) -> &[u8; 32] {
        &self.payload_sha256
    }
    /// The trusted time verification used: max(clock, floor).
    pub fn trusted_time(&self) -> UnixTime {
        self.trusted_time
    }
    /// Whether the clock read behind the time floor (reported, not fatal: device clocks step
    /// backwards).
    pub fn clock_behind_floor(&self) -> bool {
        self.clock_behind_floor
    }
    /// A rustls root store holding exactly this bundle's roots.
    #[cfg(feature = "rustls")]
    pub fn root_cert_store(&self) -> rustls::RootCertStore {
        rustls::RootCertStore {
            roots: self.anchors(),
        }
    }
}

/// The outcome of a successful [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// A newer bundle that passed every rule: apply it.
    Apply(VerifiedBundle),
    /// The active bundle again (same version, identical payload): nothing to do.
    AlreadyActive {
        /// Its version.
        version: u64,
    },
}

/// Verifies a bundle file against what the device trusts now.
///
/// The rules, in order (each has a named test in tests/bundle_rules.rs):
///
/// 1. Sizes: file, payload, signature count and size, certificate count and size, all
///    before decoding what they bound.
/// 2. `payloadType` must equal [`PAYLOAD_TYPE`](super::PAYLOAD_TYPE) (format v1) or
///    [`PAYLOAD_TYPE_V2`](super::PAYLOAD_TYPE_V2) exactly.
/// 3. For **every group** of the current signer set, signatures over the PAE from at least
///    its threshold of *distinct* keys, by the group's algorithm (Ed25519 `verify_strict`,
///    ML-DSA with the empty context), before the payload is parsed. In v1 `keyid` is a hint;
///    in v2 it binds an entry to one key. Signatures by unknown keys are ignored.
/// 4. The payload parses: its type's schema, unknown fields and duplicate keys refused, the
///    next signer set's shape (groups, thresholds, no key twice).
/// 5. Fleet id equals the device's.
/// 6. Version: greater than the active one; equal with an identical payload is
///    [`Verdict::AlreadyActive`]; equal with another payload, or lower, is refused; so is
///    `u64::MAX`, after which no bundle could ever be applied (a fast-forward freeze).
/// 7. Signer rotation: in v2 the file's `keys` are exactly the keys the payload names, by
///    SHA-256, each valid for its group's algorithm; a different signer set must also be
///    signed by every one of its groups' thresholds.
/// 8. Time: trusted time is max(`clock`, floor); refused when expired, or issued beyond the
///    clock tolerance in the future. A clock behind the floor is reported, not fatal.
/// 9. Roots: at least one; exactly the listed certificates, no duplicates; each an X.509 CA
///    with a key rustls can use and no name constraints; no shared key; at least one valid at
///    trusted time.
///
/// # Security
///
/// Nothing is trusted, and nothing persisted, until every rule passed: the function is pure.
/// See tough's CVE-2020-15093 (duplicate signatures), CVE-2025-2885 (version jumps) and
/// CVE-2025-2888 (persisting before verifying) for why the rules are what they are.
///
/// # Errors
///
/// A [`BundleError`] naming the first rule that failed.
pub fn verify(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> Result<Verdict, BundleError> {
    verify_steps(
        bytes,
        state,
        clock,
        policy,
        Replay::AlreadyActive,
        &mut |_, _| {},
    )
}

/// What rule 6 makes of the active bundle offered again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Nothing to do: [`Verdict::AlreadyActive`] (what a device normally wants).
    AlreadyActive,
    /// Verify it in full for re-application: the store's floors name it, but its generation
    /// file was lost. Only the identical payload passes; any other at that version is still a
    /// conflict.
    // Only the store re-applies; a verify-only build never constructs it.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    Reapply,
}

/// The rules of [`verify`], as named steps in order. `report` hears each rule as it passes;
/// the first failure is returned. One sequence for [`verify`], the store's re-application of
/// a lost generation ([`verify_reapply`]) and the rule-by-rule report ([`verify_report`]).
fn verify_steps(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
    replay: Replay,
    report: &mut dyn FnMut(Rule, Outcome),
) -> Result<Verdict, BundleError> {
    // 1. Sizes, checked by the parser before each decode.
    let bundle = Bundle::from_bytes(bytes, &policy.limits)?;
    report(Rule::Sizes, Outcome::Passed);

    // 2. The type is part of what was signed; refuse anything else before any crypto.
    check_type(&bundle)?;
    report(Rule::PayloadType, Outcome::Passed);

    // 3. Every current group's threshold, over the exact payload bytes, before parsing them.
    let current_signed = authenticate(&bundle, &state.signers, SignerRole::Current)?;
    report(Rule::CurrentSignatures, Outcome::Passed);

    // 4. Only now parse the payload.
    let parsed = ParsedPayload::from_json(
        bundle.format(),
        &bundle.payload,
        &policy.limits,
        &state.signers,
    )?;
    let payload_sha256: [u8; 32] = Sha256::digest(&bundle.payload).into();
    report(Rule::Payload, Outcome::Passed);

    // 5. Bound to one fleet: another fleet's bundle is never replayed here.
    check_fleet(&parsed.fleet, &state.fleet)?;
    report(Rule::Fleet, Outcome::Passed);

    // 6. Rollback, version conflicts, and a fast-forward to the last possible version.
    let version = parsed.version;
    if version == u64::MAX {
        return Err(BundleError::VersionExhausted { version });
    }
    if version < state.version {
        return Err(BundleError::Rollback {
            offered: version,
            current: state.version,
        });
    }
    if version == state.version {
        let identical = state.payload_sha256 == Some(payload_sha256);
        match (identical, replay) {
            (true, Replay::AlreadyActive) => {
                report(Rule::Version, Outcome::Passed);
                return Ok(Verdict::AlreadyActive { version });
            }
            (true, Replay::Reapply) => {}
            (false, _) => return Err(BundleError::VersionConflict { version }),
        }
    }
    report(Rule::Version, Outcome::Passed);

    // 7. The next set's keys, bound by the hashes that were signed; then a new signer set
    //    must prove its own keys signed too, so a set can only be replaced by agreement of
    //    both the old and the new key holders, in every group.
    let payload = parsed.resolve(&bundle, &policy.limits, &state.signers)?;
    check_rotation(&bundle, &payload.signers, &state.signers, &current_signed)?;
    report(Rule::SignerRotation, Outcome::Passed);

    // 8. Time. The floor only rises, so a clock stepped back cannot revive an old bundle.
    let (trusted_time, clock_behind_floor) = check_time(&payload, clock, state, policy)?;
    report(Rule::Time, Outcome::Passed);

    // 9. Roots.
    let roots = check_roots(&payload, &bundle.certificates, trusted_time)?;
    report(Rule::Roots, Outcome::Passed);

    Ok(Verdict::Apply(VerifiedBundle {
        payload,
        payload_sha256,
        roots,
        bytes: bytes.to_vec(),
        trusted_time,
        clock_behind_floor,
    }))
}

fn check_type(bundle: &Bundle) -> Result<(), BundleError> {
    if bundle.format().is_none() {
        return Err(BundleError::PayloadType {
            found: bundle.payload_type.clone(),
        });
    }
    Ok(())
}

/// Every group of `signers` reached its threshold of distinct keys: the keys that signed.
fn authenticate(
    bundle: &Bundle,
    signers: &SignerSet,
    role: SignerRole,
) -> Result<BTreeSet<PublicKey>, BundleError> {
    let mut all = BTreeSet::new();
    for group in signers.groups() {
        let signed = bundle.signed_by(group.keys());
        if signed.len() < group.threshold() as usize {
            return Err(BundleError::SignatureThreshold {
                role,
                algorithm: group.algorithm(),
                required: group.threshold(),
            });
        }
        all.extend(signed);
    }
    Ok(all)
}

fn check_fleet(found: &str, fleet: &str) -> Result<(), BundleError> {
    if found != fleet {
        return Err(BundleError::WrongFleet {
            expected: fleet.to_owned(),
            found: found.to_owned(),
        });
    }
    Ok(())
}

fn check_rotation(
    bundle: &Bundle,
    next: &SignerSet,
    current: &SignerSet,
    current_signed: &BTreeSet<PublicKey>,
) -> Result<(), BundleError> {
    if next.same_as(current) {
        return Ok(());
    }
    for group in next.groups() {
        // Keys in both sets were tried in step 3 already: only the others are verified now.
        let joining: Vec<PublicKey> = group
            .keys()
            .iter()
            .filter(|k| !current.contains(k))
            .cloned()
            .collect();
        let mut signed = bundle.signed_by(&joining);
        signed.extend(
            group
                .keys()
                .iter()
                .filter(|k| current_signed.contains(k))
                .cloned(),
        );
        if signed.len() < group.threshold() as usize {
            return Err(BundleError::SignatureThreshold {
                role: SignerRole::New,
                algorithm: group.algorithm(),
                required: group.threshold(),
            });
        }
    }
    Ok(())
}

/// Trusted time and whether the clock reads behind the floor.
fn check_time(
    payload: &Payload,
    clock: UnixTime,
    state: &TrustState,
    policy: &Policy,
) -> Result<(UnixTime, bool), BundleError> {
    let trusted_time = clock.max(state.time_floor);
    let clock_behind_floor = clock < state.time_floor;
    if payload.expires_at <= trusted_time {
        return Err(BundleError::Expired {
            expires_at: payload.expires_at,
            trusted_time,
        });
    }
    let latest = trusted_time
        .as_secs()
        .saturating_add(policy.clock_tolerance.as_secs());
    if payload.issued_at.as_secs() > latest {
        return Err(BundleError::IssuedInFuture {
            issued_at: payload.issued_at,
            trusted_time,
        });
    }
    Ok((trusted_time, clock_behind_floor))
}

/// [`verify`] for a bundle the device's floors already name (same version, same payload)
/// whose committed generation was lost: verified by every rule, and returned for
/// re-application instead of as "already active". Any other payload at that version is a
/// conflict, as in [`verify`].
#[cfg(feature = "store")]
pub(crate) fn verify_reapply(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> Result<Verdict, BundleError> {
    verify_steps(bytes, state, clock, policy, Replay::Reapply, &mut |_, _| {})
}

/// What one rule made of a bundle, in a [`verify_report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The rule held.
    Passed,
    /// The rule refused the bundle.
    Failed(BundleError),
    /// An earlier rule refused the bundle, so this one was not checked.
    NotReached,
    /// The bundle is already active: nothing after the version rule applies.
    NotNeeded,
}

/// Every rule of [`verify`] with its outcome, in checking order, and the verdict: for
/// review tools (`iot-roots bundle verify`), computed by the same steps as [`verify`].
pub fn verify_report(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> (Vec<(Rule, Outcome)>, Result<Verdict, BundleError>) {
    let mut outcomes: Vec<(Rule, Outcome)> = Vec::with_capacity(Rule::ALL.len());
    let result = verify_steps(
        bytes,
        state,
        clock,
        policy,
        Replay::AlreadyActive,
        &mut |r, o| outcomes.push((r, o)),
    );
    let after = match &result {
        Err(e) => {
            outcomes.push((e.rule(), Outcome::Failed(e.clone())));
            Outcome::NotReached
        }
        Ok(_) => Outcome::NotNeeded,
    };
    for rule in Rule::ALL {
        if !outcomes.iter().any(|(r, _)| *r == rule) {
            outcomes.push((rule, after.clone()));
        }
    }
    outcomes.sort_by_key(|(r, _)| *r);
    (outcomes, result)
}

/// Re-verifies a bundle this device committed earlier, on every open of the trust store, to
/// catch bit rot and tampering of the state directory.
///
/// Every committed bundle was signed by a threshold of its own payload's signer set (rule 7
/// makes a rotating bundle prove its new keys; otherwise the sets are the same), so that is
/// what is checked, with the structural steps of [`verify`]: sizes, type, parse, fleet and
/// roots. Time rules are not applied: an active bundle keeps working after it expires
/// (refusing it would brick the device; the store reports it as stale instead).
///
/// `accepted_at` is the trusted time at which the device accepted it: at least one root was
/// valid then.
#[cfg(feature = "store")]
pub(crate) fn verify_committed(
    bytes: &[u8],
    fleet: &str,
    accepted_at: UnixTime,
    limits: &super::limits::Limits,
) -> Result<VerifiedBundle, BundleError> {
    let bundle = Bundle::from_bytes(bytes, limits)?;
    check_type(&bundle)?;
    let none = SignerSet::none();
    let payload = ParsedPayload::from_json(bundle.format(), &bundle.payload, limits, &none)?
        .resolve(&bundle, limits, &none)?;
    authenticate(&bundle, &payload.signers, SignerRole::New)?;
    check_fleet(&payload.fleet, fleet)?;
    let roots = check_roots(&payload, &bundle.certificates, accepted_at)?;
    Ok(VerifiedBundle {
        payload_sha256: Sha256::digest(&bundle.payload).into(),
        trusted_time: accepted_at,
        payload,
        roots,
        bytes: bytes.to_vec(),
        clock_behind_floor: false,
    })
}

#[cfg(all(
    test,
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1"
))]
mod tests {
    use super::*;
    use crate::bundle::{BundleBuilder, Limits, SigningKey};
    use rustls_pki_types::CertificateDer;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(core::time::Duration::from_secs(secs))
    }

    /// Re-application accepts only the payload the floors name: a different payload at the
    /// same version stays a conflict even on this path (the store reaches it only after
    /// `verify` said "already active", so nothing else would notice the rule missing).
    #[test]
    fn reapply_accepts_only_the_payload_the_floors_name() {
        let key = SigningKey::generate();
        let set = SignerSet::new(alloc::vec![key.public_key()], 1).expect("set");
        let ca1 = CertificateDer::from(crate::ROOTS[0].der.to_vec());
        let make = |expires: u64| {
            let mut b = BundleBuilder::new("f", 1, at(1_798_000_000), at(expires), set.clone())
                .root(ca1.clone(), None)
                .build(&Limits::default())
                .expect("bundle");
            b.sign(&key).expect("sign");
            b.to_bytes()
        };
        let (one, other) = (make(1_830_000_000), make(1_830_000_001));
        let mut state = TrustState::initial("f", set.clone());
        state.time_floor = at(1_797_000_000);
        let policy = Policy::default();
        let v = match verify(&one, &state, at(1_798_100_000), &policy) {
            Ok(Verdict::Apply(v)) => v,
            other => panic!("{other:?}"),
        };
        let floors = state.after(&v);
        let now = at(1_798_100_000);
        assert!(matches!(
            verify_reapply(&one, &floors, now, &policy),
            Ok(Verdict::Apply(_))
        ));
        assert_eq!(
            verify_reapply(&other, &floors, now, &policy),
            Err(BundleError::VersionConflict { version: 1 })
        );
        assert_eq!(
            verify(&one, &floors, now, &policy),
            Ok(Verdict::AlreadyActive { version: 1 })
        );
    }
}
