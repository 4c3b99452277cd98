//! Bundle file decoding: never panics; whatever parses re-serializes to something that parses
//! to the same payload, signatures and certificates.
#![no_main]

use aws_iot_roots::bundle::{Bundle, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(b) = Bundle::from_bytes(data, &limits) {
        let again = Bundle::from_bytes(&b.to_bytes(), &limits).expect("a parsed bundle re-parses");
        assert_eq!(again.payload_bytes(), b.payload_bytes());
        assert_eq!(again.signature_count(), b.signature_count());
        assert!(again.certificates().eq(b.certificates()));
        assert_eq!(again.pae(), b.pae());
    }
});
