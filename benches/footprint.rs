//! Bytes of the const tables, for this build's features, against webpki-roots' table.
//! `cargo bench --bench footprint` (default set), or with
//! `--no-default-features --features amazon-root-ca-3` (CA 3 alone). See BENCHMARKS.md.

use std::mem::size_of_val;

use rustls_pki_types::TrustAnchor;

fn anchor_bytes(a: &TrustAnchor<'_>) -> usize {
    a.subject.len()
        + a.subject_public_key_info.len()
        + a.name_constraints.as_ref().map_or(0, |n| n.len())
}

fn main() {
    // Our anchors are slices of the DER certificates, so the DER is the payload; the anchor
    // table adds only its slice headers.
    let ours = aws_iot_roots::ROOTS;
    let der: usize = ours.iter().map(|r| r.der.len()).sum();
    let anchors = aws_iot_roots::TLS_SERVER_ROOTS;
    let anchor_table = size_of_val(anchors);
    let root_table = size_of_val(ours);
    println!("aws-iot-roots: {} roots", ours.len());
    println!(
        "  TLS_SERVER_ROOTS: {anchor_table} B of anchor structs + {der} B of DER they slice = {} B",
        anchor_table + der
    );
    println!("  ROOTS metadata: {root_table} B of structs (sharing the same DER)");
    println!(
        "  PEM_BUNDLE: {} B (linked only if used)",
        aws_iot_roots::PEM_BUNDLE.len()
    );
    let w = webpki_roots::TLS_SERVER_ROOTS;
    let w_bytes: usize = w.iter().map(anchor_bytes).sum();
    let w_table = size_of_val(w);
    println!("webpki-roots: {} anchors", w.len());
    println!("  TLS_SERVER_ROOTS: {w_table} B of anchor structs + {w_bytes} B of subject/SPKI/constraints = {} B", w_table + w_bytes);
}
