//! Payload parsing (schema, fields, keys, timestamps, root references): never panics; a parsed
//! payload re-encodes to JSON that parses to the same payload.
#![no_main]

use aws_iot_roots::bundle::{Bundle, Limits};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let file = format!(
        r#"{{"envelope":{{"payloadType":"application/vnd.aws-iot-roots.bundle.v1+json","payload":"{b64}","signatures":[]}},"certificates":[]}}"#
    );
    let Ok(bundle) = Bundle::from_bytes(file.as_bytes(), &limits) else { return };
    if let Ok(p) = bundle.payload_unverified(&limits) {
        let json = p.to_json();
        let again = format!(
            r#"{{"envelope":{{"payloadType":"application/vnd.aws-iot-roots.bundle.v1+json","payload":"{}","signatures":[]}},"certificates":[]}}"#,
            base64::engine::general_purpose::STANDARD.encode(&json)
        );
        let reparsed = Bundle::from_bytes(again.as_bytes(), &limits).expect("bundle").payload_unverified(&limits).expect("payload");
        assert_eq!(reparsed, p);
    }
});
