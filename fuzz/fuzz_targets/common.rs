//! The fixed device the fuzz targets verify against: fleet "acme-prod", the 2-of-3 signer set
//! of tests/attacks/keys (k1..k3), version 1, fixed clock. The attack catalogue's bundles are
//! the seed corpus, so the fuzzer starts from inputs that reach every rule.
#![allow(dead_code)]

use std::time::Duration;

use aws_iot_roots::bundle::{PublicKey, SignerSet, TrustState};
use base64::Engine as _;
use rustls_pki_types::UnixTime;

pub const FLEET: &str = "acme-prod";
/// 2027-01-02T00:00:00Z, as in the attack catalogue.
pub const CLOCK: u64 = 1_798_848_000;

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub fn signers() -> SignerSet {
    let keys = include_str!("../signers.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|k| PublicKey::from_bytes(&base64::engine::general_purpose::STANDARD.decode(k).expect("b64")).expect("key"))
        .collect();
    SignerSet::new(keys, 2).expect("set")
}

pub fn state() -> TrustState {
    let mut st = TrustState::initial(FLEET, signers());
    st.version = 1;
    st.time_floor = at(1_796_083_200);
    st
}
