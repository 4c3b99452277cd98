//! Interoperability with OpenSSL 3: keys both ways, `pkeyutl -sign -rawin` over the PAE, and a
//! whole bundle built by docs/make-bundle.sh. Needs `openssl`: fails without it when `CI` is
//! set, skips with a printed reason elsewhere.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::path::Path;
use std::process::Command;

use aws_iot_roots::bundle::{
    verify, Bundle, BundleBuilder, Limits, PublicKey, SignerSet, SigningKey, Verdict,
};
use common::bundles::*;

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    common::available(ok, "openssl", "scripts/test-all.sh installs it")
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn genpkey(dir: &Path, name: &str) -> SigningKey {
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", name], dir);
    SigningKey::from_pkcs8_pem(&std::fs::read_to_string(dir.join(name)).expect("key"))
        .expect("openssl key reads")
}

fn unsigned(signers: SignerSet) -> Bundle {
    BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), signers)
        .root(
            root_der("Amazon Root CA 3").into(),
            Some("Amazon Root CA 3".into()),
        )
        .build(&Limits::default())
        .expect("bundle")
}

#[test]
fn openssl_pkeyutl_rawin_signature_over_the_pae_attaches_and_verifies() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let key = genpkey(dir.path(), "k.pem");
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    let mut bundle = unsigned(set.clone());
    std::fs::write(dir.path().join("pae.bin"), bundle.pae()).expect("pae");
    let sig = openssl(
        &[
            "pkeyutl", "-sign", "-rawin", "-inkey", "k.pem", "-in", "pae.bin",
        ],
        dir.path(),
    );
    assert_eq!(sig.len(), 64);
    // A signature by another key is refused before it is attached.
    let other = SigningKey::generate().public_key();
    assert_eq!(
        bundle.attach(&other, &sig),
        Err(aws_iot_roots::bundle::BundleError::BadSignature)
    );
    bundle.attach(&key.public_key(), &sig).expect("attach");
    let v = verify(&bundle.to_bytes(), &state(set, 1), at(CLOCK), &policy()).expect("verifies");
    assert!(matches!(v, Verdict::Apply(_)));
}

#[test]
fn openssl_genpkey_key_signs_and_our_keys_read_in_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    // OpenSSL → us: the public key we derive equals the one OpenSSL writes.
    let key = genpkey(dir.path(), "k.pem");
    let pub_pem = openssl(&["pkey", "-in", "k.pem", "-pubout"], dir.path());
    let theirs =
        PublicKey::from_spki_pem(std::str::from_utf8(&pub_pem).expect("utf-8")).expect("spki");
    assert_eq!(theirs, key.public_key());
    // Us → OpenSSL: our PKCS#8 and SPKI PEM read back, to the same public key.
    let ours = SigningKey::generate();
    std::fs::write(
        dir.path().join("ours.pem"),
        ours.to_pkcs8_pem().expect("pem").as_bytes(),
    )
    .expect("write");
    let derived = openssl(&["pkey", "-in", "ours.pem", "-pubout"], dir.path());
    assert_eq!(
        String::from_utf8(derived).expect("utf-8"),
        ours.public_key().to_spki_pem().expect("spki")
    );
    // And OpenSSL verifies our signature over a PAE.
    let bundle = unsigned(SignerSet::new(vec![ours.public_key()], 1).expect("set"));
    std::fs::write(dir.path().join("pae.bin"), bundle.pae()).expect("pae");
    std::fs::write(dir.path().join("sig.bin"), ours.sign(&bundle.pae())).expect("sig");
    std::fs::write(
        dir.path().join("ours.pub"),
        ours.public_key().to_spki_pem().expect("spki"),
    )
    .expect("pub");
    openssl(
        &[
            "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "ours.pub", "-in", "pae.bin",
            "-sigfile", "sig.bin",
        ],
        dir.path(),
    );
}

#[test]
fn bundle_built_by_the_documented_shell_script_verifies() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let k1 = genpkey(d, "s1.pem");
    let k2 = genpkey(d, "s2.pem");
    openssl(&["pkey", "-in", "s1.pem", "-pubout", "-out", "s1.pub"], d);
    openssl(&["pkey", "-in", "s2.pem", "-pubout", "-out", "s2.pub"], d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("docs/make-bundle.sh");
    let out = Command::new("sh")
        .arg(&script)
        .args([
            "bundle.json",
            FLEET,
            "2",
            "2027-01-01T00:00:00Z",
            "2028-01-01T00:00:00Z",
            "2",
            "s1.pub s2.pub",
            "s1.pem s2.pem",
        ])
        .arg(root.join("roots/Amazon_Root_CA_1.pem"))
        .arg(root.join("roots/Amazon_Root_CA_3.pem"))
        .current_dir(d)
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(d.join("bundle.json")).expect("bundle");
    let set = SignerSet::new(vec![k1.public_key(), k2.public_key()], 2).expect("set");
    match verify(&bytes, &state(set, 1), at(CLOCK), &policy()).expect("script bundle verifies") {
        Verdict::Apply(v) => {
            assert_eq!(v.payload().version, 2);
            let names: Vec<&str> = v.roots().iter().map(|r| r.subject()).collect();
            assert_eq!(
                names,
                [
                    "CN=Amazon Root CA 1, O=Amazon, C=US",
                    "CN=Amazon Root CA 3, O=Amazon, C=US"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}
