//! The whole device verification against a fixed signer set: never panics, and anything
//! accepted satisfies the rules a fuzzer can check from outside.
#![no_main]

#[path = "common.rs"]
mod common;

use aws_iot_roots::bundle::{verify, Policy, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let state = common::state();
    if let Ok(Verdict::Apply(v)) = verify(data, &state, common::at(common::CLOCK), &Policy::default()) {
        let p = v.payload();
        assert_eq!(p.fleet, state.fleet);
        assert!(p.version > state.version && p.version < u64::MAX);
        assert!(p.expires_at > v.trusted_time());
        assert!(!v.roots().is_empty());
        assert_eq!(v.roots().len(), p.roots.len());
    }
});
