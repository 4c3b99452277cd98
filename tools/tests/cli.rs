//! Every `iot-roots` command and documented failure, run as the real binary, plus OpenSSL
//! interop and the release-rotation walkthrough of RELEASE-CHECKLIST.md.

mod common;

use aws_iot_roots::bundle::{PublicKey, SignerSet};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use common::*;
use rustls_pki_types::{TrustAnchor, UnixTime};

/// `bundle create` of version 1 for one root file, into b.json.
fn create_v1<'a>(issued: &'a str, expires: &'a str, root: &'a str) -> Vec<&'a str> {
    vec![
        "bundle",
        "create",
        "--fleet",
        FLEET,
        "--version",
        "1",
        "--issued",
        issued,
        "--expires",
        expires,
        "--next-signers",
        "set.json",
        "--out",
        "b.json",
        root,
    ]
}

/// `bundle verify` against the walkthrough's device state directory.
fn verify_on_device(bundle: &str) -> Vec<&str> {
    vec![
        "bundle",
        "verify",
        bundle,
        "--fleet",
        FLEET,
        "--signers",
        "set.json",
        "--state",
        "device",
        "--now",
        NOW,
    ]
}

fn verify_args<'a>(bundle: &'a str, set: &'a str) -> Vec<&'a str> {
    vec![
        "bundle",
        "verify",
        bundle,
        "--fleet",
        FLEET,
        "--signers",
        set,
        "--now",
        NOW,
        "--time-floor",
        FLOOR,
    ]
}

#[test]
fn keygen_writes_0600_refuses_to_overwrite_and_agrees_with_pubkey() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = tempfile::tempdir().expect("tmp");
    let out = ok(d.path(), &["keygen", "--out", "k.pem"]);
    let mode = std::fs::metadata(d.path().join("k.pem"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(d.path().join("k.pem")).expect("read");
    fails(
        d.path(),
        &["keygen", "--out", "k.pem"],
        3,
        "refusing to overwrite",
    );
    assert_eq!(
        std::fs::read(d.path().join("k.pem")).expect("read"),
        before,
        "key unchanged"
    );
    // The printed key and id are the ones `pubkey` derives.
    let printed = ok(d.path(), &["pubkey", "k.pem"]);
    assert_eq!(out, printed);
    let json: serde_json::Value =
        serde_json::from_str(&ok(d.path(), &["pubkey", "k.pem", "--json"])).expect("json");
    assert!(out.contains(json["key_id"].as_str().expect("id")));
    assert!(ok(d.path(), &["pubkey", "k.pem", "--pem"]).starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[test]
fn missing_and_malformed_inputs_are_input_errors() {
    let d = tempfile::tempdir().expect("tmp");
    fails(d.path(), &["pubkey", "nope.pem"], 3, "nope.pem");
    std::fs::write(d.path().join("junk.pem"), "hello").expect("write");
    fails(d.path(), &["pubkey", "junk.pem"], 3, "junk.pem");
    fails(d.path(), &["inspect", "--pem", "nope.pem"], 3, "nope.pem");
    fails(
        d.path(),
        &["inspect", "--pem", "junk.pem"],
        3,
        "no certificate",
    );
    fails(
        d.path(),
        &["bundle", "sign", "nope.json", "--key", "k.pem"],
        3,
        "nope.json",
    );
    std::fs::create_dir(d.path().join("empty")).expect("mkdir");
    fails(d.path(), &["inspect", "--roots", "empty"], 3, "no *.pem");
    fails(d.path(), &["frobnicate"], 2, "unrecognized subcommand");
}

#[test]
fn signer_set_refuses_a_threshold_above_its_keys() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 2, 2);
    fails(
        d.path(),
        &[
            "signer-set",
            "--threshold",
            "3",
            "k1.pub",
            "k2.pub",
            "--out",
            "s.json",
        ],
        3,
        "threshold 3 is outside 1..=2",
    );
    // A private key file works too: its public half is taken.
    ok(
        d.path(),
        &[
            "signer-set",
            "--threshold",
            "1",
            "k1.pem",
            "--out",
            "s.json",
        ],
    );
}

#[test]
fn bundle_create_refuses_expired_and_non_ca_certificates() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 1, 1);
    let ca1 = root("Amazon_Root_CA_1.pem").display().to_string();
    fails(
        d.path(),
        &create_v1("2039-01-01T00:00:00Z", "2040-01-01T00:00:00Z", &ca1),
        3,
        "expired on 2038-01-17",
    );
    let leaf = testdata(
        "aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem",
    )
    .display()
    .to_string();
    fails(
        d.path(),
        &create_v1(ISSUED, EXPIRES, &leaf),
        3,
        "is not a CA",
    );
    fails(
        d.path(),
        &create_v1(ISSUED, EXPIRES, "missing.pem"),
        3,
        "missing.pem",
    );
    assert!(
        !d.path().join("b.json").exists(),
        "nothing written on refusal"
    );
}

#[test]
fn bundle_sign_verify_wrong_key_and_tampering() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 3, 2);
    create(
        d.path(),
        "b.json",
        2,
        "set.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    // Unsigned and once-signed bundles are refused for their signatures.
    let r = fails(d.path(), &verify_args("b.json", "set.json"), 1, "REFUSED");
    assert!(r.stdout.contains("FAIL 3."), "{}", r.stdout);
    ok(d.path(), &["bundle", "sign", "b.json", "--key", "k1.pem"]);
    fails(
        d.path(),
        &["bundle", "sign", "b.json", "--key", "k1.pem"],
        3,
        "already signed by key",
    );
    // A wrong key: valid signature, but not in the device's set.
    ok(d.path(), &["keygen", "--out", "stranger.pem"]);
    ok(
        d.path(),
        &[
            "bundle",
            "sign",
            "b.json",
            "--key",
            "stranger.pem",
            "--out",
            "wrong.json",
        ],
    );
    fails(
        d.path(),
        &verify_args("wrong.json", "set.json"),
        1,
        "fewer than 2 distinct ed25519 keys",
    );
    ok(d.path(), &["bundle", "sign", "b.json", "--key", "k3.pem"]);
    let out = ok(d.path(), &verify_args("b.json", "set.json"));
    assert_eq!(
        out.matches("\nok   ").count() + usize::from(out.starts_with("ok")),
        9,
        "{out}"
    );
    assert!(out.contains("ACCEPTED: version 2"));
    // Tampered: one certificate swapped for another root.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("b.json")).expect("read"))
            .expect("json");
    let other = run(d.path(), &["export", "--format", "der-dir", "--out", "der"]);
    let n = aws_iot_roots::ROOTS.len();
    assert!(
        other
            .stderr
            .contains(&format!("{n} roots from compiled-in roots written")),
        "{}",
        other.stderr
    );
    use base64::Engine as _;
    let ca1 = std::fs::read(
        d.path()
            .join("der/8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e.der"),
    )
    .expect("der");
    v["certificates"][0] = serde_json::json!(base64::engine::general_purpose::STANDARD.encode(ca1));
    std::fs::write(
        d.path().join("tampered.json"),
        serde_json::to_vec(&v).expect("json"),
    )
    .expect("write");
    let r = fails(
        d.path(),
        &verify_args("tampered.json", "set.json"),
        1,
        "not listed in the signed payload",
    );
    assert!(r.stdout.contains("FAIL 9."), "{}", r.stdout);
    let json: serde_json::Value = serde_json::from_str(
        &run(
            d.path(),
            &[verify_args("tampered.json", "set.json"), vec!["--json"]].concat(),
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(json["accepted"], false);
    assert_eq!(json["rules"][8]["result"], "FAILED");
}

#[test]
fn bundle_verify_against_a_device_state_refuses_rollback() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 1, 1);
    for v in [2u64, 3] {
        create(
            d.path(),
            &format!("v{v}.json"),
            v,
            "set.json",
            &[root("Amazon_Root_CA_3.pem")],
        );
        ok(
            d.path(),
            &["bundle", "sign", &format!("v{v}.json"), "--key", "k1.pem"],
        );
    }
    // A device that applied version 3.
    let key =
        PublicKey::from_spki_pem(&std::fs::read_to_string(d.path().join("k1.pub")).expect("pub"))
            .expect("key");
    let config = StoreConfig::new(FLEET, SignerSet::new(vec![key], 1).expect("set"));
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_798_848_000));
    let mut store = TrustStore::open(d.path().join("state"), config).expect("store");
    store
        .apply(
            &std::fs::read(d.path().join("v3.json")).expect("v3"),
            now,
            &mut |_: &[TrustAnchor<'static>]| Ok(()),
        )
        .expect("apply");
    drop(store);
    let args = [
        "bundle",
        "verify",
        "v2.json",
        "--fleet",
        FLEET,
        "--signers",
        "set.json",
        "--state",
        "state",
        "--now",
        NOW,
    ];
    let r = fails(d.path(), &args, 1, "rollback: offered 2, current 3");
    assert!(r.stdout.contains("FAIL 6."), "{}", r.stdout);
    // Status of the same device, read-only.
    let status: serde_json::Value = serde_json::from_str(&ok(
        d.path(),
        &[
            "status",
            "--state",
            "state",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
            "--now",
            NOW,
            "--json",
        ],
    ))
    .expect("json");
    assert_eq!(status["version"], 3);
    assert_eq!(status["source"]["kind"], "bundle");
    let human = ok(
        d.path(),
        &[
            "status",
            "--state",
            "state",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
            "--now",
            NOW,
        ],
    );
    assert!(
        human.contains("version:       3") && human.contains("Amazon Root CA 3"),
        "{human}"
    );
    fails(
        d.path(),
        &[
            "status",
            "--state",
            "nowhere",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
        ],
        3,
        "no such state directory",
    );
}

#[test]
fn bundle_pae_and_attach_check_the_signature_first() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 2, 1);
    create(
        d.path(),
        "b.json",
        2,
        "set.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    ok(d.path(), &["bundle", "pae", "b.json", "--out", "pae.bin"]);
    let pae = std::fs::read(d.path().join("pae.bin")).expect("pae");
    assert!(pae.starts_with(b"DSSEv1 44 application/vnd.aws-iot-roots.bundle.v1+json "));
    // A signature made with k1, attached as k2's: refused, bundle unchanged.
    ok(
        d.path(),
        &[
            "bundle",
            "sign",
            "b.json",
            "--key",
            "k1.pem",
            "--out",
            "signed.json",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("signed.json")).expect("read"))
            .expect("json");
    let sig_b64 = v["envelope"]["signatures"][0]["sig"]
        .as_str()
        .expect("sig")
        .to_owned();
    std::fs::write(d.path().join("sig.b64"), format!("{sig_b64}\n")).expect("write");
    let before = std::fs::read(d.path().join("b.json")).expect("read");
    fails(
        d.path(),
        &[
            "bundle", "attach", "b.json", "--sig", "sig.b64", "--pubkey", "k2.pub",
        ],
        1,
        "not attached",
    );
    assert_eq!(
        std::fs::read(d.path().join("b.json")).expect("read"),
        before
    );
    // Base64 (as `aws kms sign` prints it) under the right key: attached, and it verifies.
    ok(
        d.path(),
        &[
            "bundle", "attach", "b.json", "--sig", "sig.b64", "--pubkey", "k1.pub",
        ],
    );
    ok(d.path(), &verify_args("b.json", "set.json"));
}

#[test]
fn bundle_diff_shows_what_a_reviewer_must_see() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 2, 1);
    ok(
        d.path(),
        &[
            "signer-set",
            "--threshold",
            "2",
            "k1.pub",
            "k2.pub",
            "--out",
            "set2.json",
        ],
    );
    create(
        d.path(),
        "old.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_1.pem"), root("Amazon_Root_CA_3.pem")],
    );
    create(
        d.path(),
        "new.json",
        2,
        "set2.json",
        &[root("Amazon_Root_CA_3.pem"), root("Amazon_Root_CA_4.pem")],
    );
    let out = ok(d.path(), &["bundle", "diff", "old.json", "new.json"]);
    assert!(out.contains("version    1 -> 2   CHANGED"), "{out}");
    assert!(out.contains("+ root    Amazon Root CA 4"), "{out}");
    assert!(out.contains("- root    Amazon Root CA 1"), "{out}");
    assert!(out.contains("  root    Amazon Root CA 3"), "{out}");
    assert!(out.contains("threshold  1 -> 2   CHANGED"), "{out}");
    assert!(out.contains("SIGNER SET CHANGES"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&ok(
        d.path(),
        &["bundle", "diff", "old.json", "new.json", "--json"],
    ))
    .expect("json");
    assert_eq!(json["roots_added"][0]["name"], "Amazon Root CA 4");
    assert_eq!(json["roots_removed"][0]["name"], "Amazon Root CA 1");
    assert_eq!(json["signer_set_changed"], true);
}

#[test]
fn check_expiry_is_a_gate_a_release_can_pass() {
    let d = tempfile::tempdir().expect("tmp");
    fn at<'a>(now: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["check-expiry", "--now", now];
        args.extend_from_slice(extra);
        args
    }
    // Starfield Services G2's projected Mozilla removal (2027-04-15) is within a year of
    // 2026-11-27: reported as advice, not failed.
    let class2 = aws_iot_roots::ROOTS
        .iter()
        .any(|r| r.feature == "starfield-class-2");
    let r = run(d.path(), &at("2026-11-27T00:00:00Z", &["--within", "1y"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("advice"), "{}", r.stdout);
    assert!(!r.stdout.contains("DUE"), "{}", r.stdout);
    assert!(
        r.stderr.contains("window: 365 days, until 2027-11-27"),
        "{}",
        r.stderr
    );
    // Starfield Class 2 (removed in 2025) is compiled in under --all-features: past is due.
    let advice = if class2 {
        "2 root-program deadlines within the window"
    } else {
        "1 root-program deadline within the window"
    };
    assert!(r.stderr.contains(advice), "{}", r.stderr);
    // --fail-on root-program makes it fail; an acknowledgement (name or SHA-256, or a file)
    // says the fleet handled it.
    let r = fails(
        d.path(),
        &at(
            "2026-11-27T00:00:00Z",
            &["--within", "1y", "--fail-on", "root-program"],
        ),
        1,
        if class2 {
            "2 deadlines fail the gate within the window"
        } else {
            "1 deadline fails the gate within the window"
        },
    );
    assert!(r.stdout.contains("DUE"), "{}", r.stdout);
    let sfs = "Starfield Services Root Certificate Authority - G2";
    let r = run(
        d.path(),
        &at(
            "2026-11-27T00:00:00Z",
            &[
                "--within",
                "1y",
                "--fail-on",
                "root-program",
                "--acknowledge",
                sfs,
            ],
        ),
    );
    assert_eq!(r.code, i32::from(class2), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("acknowledged"), "{}", r.stdout);
    std::fs::write(
        d.path().join("acks.txt"),
        "# handled in bundle v7\n568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5\n",
    )
    .expect("write");
    let r = run(
        d.path(),
        &at(
            "2026-11-27T00:00:00Z",
            &[
                "--within",
                "1y",
                "--fail-on",
                "root-program",
                "--acknowledge-file",
                "acks.txt",
            ],
        ),
    );
    assert_eq!(r.code, i32::from(class2), "{}{}", r.stdout, r.stderr);
    let r = run(
        d.path(),
        &at(
            "2026-11-27T00:00:00Z",
            &["--within", "1y", "--acknowledge", "no such root"],
        ),
    );
    assert!(r.stderr.contains("matches no root"), "{}", r.stderr);
    // Expiry is hard: Starfield Services G2 expires 2037-12-31.
    let r = fails(
        d.path(),
        &at("2037-06-01T00:00:00Z", &["--within", "1y"]),
        1,
        // CA 1 and Starfield Services G2 (and Class 2, when compiled in).
        if class2 {
            "3 deadlines fail the gate within the window"
        } else {
            "2 deadlines fail the gate within the window"
        },
    );
    assert!(r.stdout.contains("DUE"), "{}", r.stdout);
    // With --bundle, only the roots that bundle carries are checked: one without Starfield
    // Services G2 passes.
    keys(d.path(), 1, 1);
    create(
        d.path(),
        "ca3.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    ok(
        d.path(),
        &at(
            "2037-06-01T00:00:00Z",
            &["--within", "1y", "--bundle", "ca3.json"],
        ),
    );
    // Durations: months and words; a bare m is refused with a hint.
    ok(d.path(), &at("2026-11-27T00:00:00Z", &["--within", "3mo"]));
    ok(
        d.path(),
        &at("2026-11-27T00:00:00Z", &["--within", "18 weeks"]),
    );
    fails(
        d.path(),
        &["check-expiry", "--within", "6m"],
        2,
        "\"m\" is ambiguous; write 6mo for months or 6min for minutes",
    );
    fails(
        d.path(),
        &["check-expiry", "--within", "a while"],
        2,
        "expected a number and a unit",
    );
    // JSON: the window in days, every deadline with its verdict.
    let ca3 = root("Amazon_Root_CA_3.pem").display().to_string();
    let json: serde_json::Value = serde_json::from_str(
        &run(
            d.path(),
            &at(
                "2026-11-27T00:00:00Z",
                &["--within", "4y", "--pem", &ca3, "--json"],
            ),
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(json["within_days"], 1460);
    assert_eq!(json["due"], 0);
    assert_eq!(json["advice"], 1);
    assert_eq!(json["deadlines"][1]["at"], "2030-05-26T00:00:00Z");
    assert_eq!(json["deadlines"][1]["verdict"], "advice");
    assert_eq!(json["deadlines"][0]["verdict"], "ok");
}

#[test]
fn inspect_reads_directories_pem_files_and_bundles() {
    let d = tempfile::tempdir().expect("tmp");
    let out = ok(
        d.path(),
        &[
            "inspect",
            "--roots",
            &roots_dir().display().to_string(),
            "--now",
            "2026-11-27T00:00:00Z",
        ],
    );
    assert_eq!(out.lines().count(), 1 + 6, "{out}");
    assert!(
        out.contains("Starfield Class") && out.contains("2025-04-15 (a)"),
        "{out}"
    );
    // Tables fit 80 columns; --wide shows every column in full.
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    let wide = ok(
        d.path(),
        &[
            "inspect",
            "--roots",
            &roots_dir().display().to_string(),
            "--now",
            "2026-11-27T00:00:00Z",
            "--wide",
        ],
    );
    assert!(
        wide.contains("Starfield Services Root Certificate Authority - G2"),
        "{wide}"
    );
    assert!(wide.contains("(announced, "), "{wide}");
    assert!(
        wide.contains("568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5"),
        "{wide}"
    );
    let out = ok(
        d.path(),
        &[
            "inspect",
            "--pem",
            &testdata("aws-chains/crosssign/Amazon_Root_CA_1__by__SFS_G2.pem")
                .display()
                .to_string(),
            "--wide",
        ],
    );
    // The cross-signed CA 1 has a different certificate hash but the same SPKI pin.
    assert!(
        out.contains("fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"),
        "{out}"
    );
    assert!(
        !out.contains("8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"),
        "{out}"
    );
    keys(d.path(), 1, 1);
    create(
        d.path(),
        "b.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(d.path(), &["inspect", "--bundle", "b.json", "--json"]))
            .expect("json");
    assert_eq!(json["roots"][0]["name"], "Amazon Root CA 3");
    assert_eq!(
        json["source"],
        serde_json::json!({
            "kind": "bundle", "path": "b.json", "fleet": FLEET, "version": 1,
            "expires_at": EXPIRES, "verified": false, "signers": json["source"]["signers"],
        })
    );
    assert_eq!(json["source"]["signers"]["threshold"], 1);
    assert_eq!(
        json["source"]["signers"]["keys"][0]["key_id"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    let text = ok(d.path(), &["inspect", "--bundle", "b.json"]);
    assert!(text.contains("next signer set: 1 of 1"), "{text}");
}

/// Every certificate in a PEM text, as DER.
fn pem_ders(text: &[u8]) -> Vec<Vec<u8>> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::pem_slice_iter(text)
        .map(|c| c.expect("pem").to_vec())
        .collect()
}

#[test]
fn export_writes_labelled_pem_to_a_file_or_stdout_and_never_overwrites() {
    let d = tempfile::tempdir().expect("tmp");
    let compiled: Vec<Vec<u8>> = aws_iot_roots::ROOTS
        .iter()
        .map(|r| r.der.to_vec())
        .collect();
    ok(
        d.path(),
        &["export", "--format", "pem", "--out", "roots.pem"],
    );
    let pem = std::fs::read(d.path().join("roots.pem")).expect("pem");
    assert_eq!(pem_ders(&pem), compiled);
    let text = String::from_utf8(pem.clone()).expect("utf-8");
    for r in aws_iot_roots::ROOTS {
        assert!(
            text.contains(&format!("# {} (SHA-256 ", r.name)),
            "no label for {}",
            r.name
        );
    }
    // Never overwritten without --force.
    fails(
        d.path(),
        &["export", "--format", "pem", "--out", "roots.pem"],
        3,
        "roots.pem already exists; refusing to overwrite it (--force replaces it)",
    );
    ok(
        d.path(),
        &["export", "--format", "pem", "--out", "roots.pem", "--force"],
    );
    // `-` is standard output, not a file named "-".
    let r = run(d.path(), &["export", "--format", "pem", "--out", "-"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.as_bytes(), &pem[..]);
    assert!(!d.path().join("-").exists());
    ok(
        d.path(),
        &["export", "--format", "pem-nul", "--out", "roots.nul"],
    );
    let nul = std::fs::read(d.path().join("roots.nul")).expect("nul");
    assert_eq!(nul.last(), Some(&0));
    assert_eq!(&nul[..nul.len() - 1], &pem[..]);
    ok(d.path(), &["export", "--format", "der-dir", "--out", "der"]);
    for r in aws_iot_roots::ROOTS {
        let name = format!("{}.der", hex(&r.sha256));
        assert_eq!(
            std::fs::read(d.path().join("der").join(name)).expect("der"),
            r.der.as_ref()
        );
    }
    // A bundle's roots.
    keys(d.path(), 1, 1);
    create(
        d.path(),
        "b.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    let r = run(
        d.path(),
        &[
            "export", "--format", "pem", "--bundle", "b.json", "--out", "-",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(pem_ders(r.stdout.as_bytes()).len(), 1);
    assert!(
        r.stdout.starts_with("# Amazon Root CA 3 (SHA-256 18ce6cfe"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("bundle b.json (not verified)"),
        "{}",
        r.stderr
    );
    // OpenSSL reads the labelled file.
    if have_openssl() {
        let out = openssl(d.path(), &["crl2pkcs7", "-nocrl", "-certfile", "roots.pem"]);
        assert!(out.contains("BEGIN PKCS7"), "{out}");
    }
    fails(
        d.path(),
        &["export", "--format", "p12", "--out", "x"],
        2,
        "invalid value",
    );
}

#[test]
fn openssl_keys_and_signatures_interoperate() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    // A key made by keygen is read by openssl pkey, to the same public key.
    ok(p, &["keygen", "--out", "ours.pem", "--pub-out", "ours.pub"]);
    let derived = openssl(p, &["pkey", "-in", "ours.pem", "-pubout"]);
    assert_eq!(
        derived,
        std::fs::read_to_string(p.join("ours.pub")).expect("pub")
    );
    // A key made by openssl genpkey signs with `bundle sign`.
    openssl(
        p,
        &["genpkey", "-algorithm", "ed25519", "-out", "theirs.pem"],
    );
    openssl(
        p,
        &["pkey", "-in", "theirs.pem", "-pubout", "-out", "theirs.pub"],
    );
    ok(
        p,
        &[
            "signer-set",
            "--threshold",
            "2",
            "ours.pub",
            "theirs.pub",
            "--out",
            "set.json",
        ],
    );
    create(p, "b.json", 2, "set.json", &[root("Amazon_Root_CA_3.pem")]);
    ok(p, &["bundle", "sign", "b.json", "--key", "theirs.pem"]);
    // And openssl pkeyutl signs the PAE for `bundle attach`.
    ok(p, &["bundle", "pae", "b.json", "--out", "pae.bin"]);
    openssl(
        p,
        &[
            "pkeyutl", "-sign", "-rawin", "-inkey", "ours.pem", "-in", "pae.bin", "-out", "sig.bin",
        ],
    );
    ok(
        p,
        &[
            "bundle", "attach", "b.json", "--sig", "sig.bin", "--pubkey", "ours.pub",
        ],
    );
    ok(p, &verify_args("b.json", "set.json"));
}

/// RELEASE-CHECKLIST.md, step by step, against a real device trust store.
#[test]
fn release_rotation_walkthrough() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_798_848_000));
    let pass = |_: &[TrustAnchor<'static>]| -> Result<(), aws_iot_roots::store::HealthCheckError> {
        Ok(())
    };
    // Three release engineers, 2 of 3 must sign.
    keys(p, 3, 2);
    let set1 = std::fs::read_to_string(p.join("set.json")).expect("set");
    let device_set = {
        let v: serde_json::Value = serde_json::from_str(&set1).expect("json");
        use base64::Engine as _;
        let keys = v["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                PublicKey::from_bytes(
                    &base64::engine::general_purpose::STANDARD
                        .decode(k.as_str().expect("b64"))
                        .expect("b64"),
                )
                .expect("key")
            })
            .collect();
        SignerSet::new(keys, 2).expect("set")
    };
    let mut device =
        TrustStore::open(p.join("device"), StoreConfig::new(FLEET, device_set)).expect("device");
    let apply = |device: &mut TrustStore, file: &str| {
        device
            .apply(&std::fs::read(p.join(file)).expect("bundle"), now, &mut {
                pass
            })
            .expect(file);
    };
    create(
        p,
        "v1.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_1.pem"), root("Amazon_Root_CA_3.pem")],
    );
    ok(p, &["bundle", "sign", "v1.json", "--key", "k1.pem"]);
    ok(p, &["bundle", "sign", "v1.json", "--key", "k2.pem"]);
    apply(&mut device, "v1.json");

    // 1. Add a new root (here Amazon Root CA 4), signed by two of three keys.
    create(
        p,
        "v2.json",
        2,
        "set.json",
        &[
            root("Amazon_Root_CA_1.pem"),
            root("Amazon_Root_CA_3.pem"),
            root("Amazon_Root_CA_4.pem"),
        ],
    );
    assert!(ok(p, &["bundle", "diff", "v1.json", "v2.json"]).contains("+ root    Amazon Root CA 4"));
    ok(p, &["bundle", "sign", "v2.json", "--key", "k1.pem"]);
    ok(p, &["bundle", "sign", "v2.json", "--key", "k3.pem"]);
    ok(p, &verify_on_device("v2.json"));
    apply(&mut device, "v2.json");
    assert_eq!(device.anchors().len(), 3);

    // 2. Rotate one signing key: k3 leaves, k4 joins. The leaving and the joining holders
    //    sign, so both the old and the new set reach their threshold.
    ok(p, &["keygen", "--out", "k4.pem", "--pub-out", "k4.pub"]);
    ok(
        p,
        &[
            "signer-set",
            "--threshold",
            "2",
            "k1.pub",
            "k2.pub",
            "k4.pub",
            "--out",
            "set2.json",
        ],
    );
    create(
        p,
        "v3.json",
        3,
        "set2.json",
        &[
            root("Amazon_Root_CA_1.pem"),
            root("Amazon_Root_CA_3.pem"),
            root("Amazon_Root_CA_4.pem"),
        ],
    );
    assert!(ok(p, &["bundle", "diff", "v2.json", "v3.json"]).contains("SIGNER SET CHANGES"));
    ok(p, &["bundle", "sign", "v3.json", "--key", "k3.pem"]);
    ok(p, &["bundle", "sign", "v3.json", "--key", "k4.pem"]);
    // Old set: k3 alone is 1 of 2. New set: k4 alone is 1 of 2. One more signature by k1
    // (in both sets) completes both thresholds.
    fails(p, &verify_on_device("v3.json"), 1, "REFUSED");
    ok(p, &["bundle", "sign", "v3.json", "--key", "k1.pem"]);
    ok(p, &verify_on_device("v3.json"));
    apply(&mut device, "v3.json");

    // 3. Retire the old root in the next bundle, signed under the new set.
    create(
        p,
        "v4.json",
        4,
        "set2.json",
        &[root("Amazon_Root_CA_3.pem"), root("Amazon_Root_CA_4.pem")],
    );
    assert!(ok(p, &["bundle", "diff", "v3.json", "v4.json"]).contains("- root    Amazon Root CA 1"));
    // The rotated-out key can no longer help: k3 + k1 is one key of the new set.
    ok(
        p,
        &[
            "bundle",
            "sign",
            "v4.json",
            "--key",
            "k3.pem",
            "--out",
            "v4-old.json",
        ],
    );
    ok(p, &["bundle", "sign", "v4-old.json", "--key", "k1.pem"]);
    fails(p, &verify_on_device("v4-old.json"), 1, "fewer than 2");
    ok(p, &["bundle", "sign", "v4.json", "--key", "k2.pem"]);
    ok(p, &["bundle", "sign", "v4.json", "--key", "k4.pem"]);
    apply(&mut device, "v4.json");
    let names: Vec<String> = device
        .active_bundle()
        .expect("bundle")
        .roots()
        .iter()
        .map(|r| r.subject().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().all(|n| !n.contains("Amazon Root CA 1")),
        "{names:?}"
    );
}

/// Issue 11's spec fact (and issue 12's report): a root whose subject has no CN takes its OU
/// as its name, so Starfield Class 2 goes into a bundle instead of failing on an 83-byte DN.
#[test]
fn a_root_without_a_common_name_goes_into_a_bundle_under_its_ou() {
    let d = tempfile::tempdir().expect("tmp");
    keys(d.path(), 1, 1);
    create(
        d.path(),
        "b.json",
        1,
        "set.json",
        &[root("Starfield_Class_2_CA.pem")],
    );
    let out = ok(d.path(), &["inspect", "--bundle", "b.json", "--json"]);
    assert!(
        out.contains("Starfield Class 2 Certification Authority"),
        "{out}"
    );
}

/// The hybrid commands end to end: ML-DSA-65 keys, a combined signer set, a v2 bundle signed
/// by files and by an external signer through `pae` / `attach`, and the per-group report.
#[test]
fn hybrid_keys_sets_signing_and_attach() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 2, 2);
    for i in 1..=3 {
        let (key, public) = (format!("m{i}.pem"), format!("m{i}.pub"));
        let out = ok(
            p,
            &[
                "keygen",
                "--alg",
                "ml-dsa-65",
                "--out",
                &key,
                "--pub-out",
                &public,
            ],
        );
        assert!(out.contains("algorithm:  ml-dsa-65"), "{out}");
    }
    let pem = std::fs::read_to_string(p.join("m1.pem")).expect("pem");
    // RFC 9881 seed-only PKCS#8: 54 bytes of DER, 72 of base64.
    assert_eq!(pem.lines().nth(1).map(str::len), Some(64), "{pem}");
    fails(
        p,
        &["keygen", "--alg", "ml-dsa-44", "--out", "x.pem"],
        2,
        "expected ed25519, ml-dsa-65 or ml-dsa-87",
    );
    ok(
        p,
        &[
            "signer-set",
            "--threshold",
            "2",
            "m1.pub",
            "m2.pub",
            "m3.pub",
            "--out",
            "ml.json",
        ],
    );
    // Mixed algorithms in one group, and two groups of one algorithm, are refused.
    fails(
        p,
        &[
            "signer-set",
            "--threshold",
            "1",
            "k1.pub",
            "m1.pub",
            "--out",
            "x.json",
        ],
        3,
        "key #1 is ml-dsa-65, in a group of ed25519",
    );
    fails(
        p,
        &[
            "signer-set",
            "--combine",
            "set.json",
            "set.json",
            "--out",
            "x.json",
        ],
        3,
        "two ed25519 groups",
    );
    let out = ok(
        p,
        &[
            "signer-set",
            "--combine",
            "set.json",
            "ml.json",
            "--out",
            "hybrid.json",
        ],
    );
    assert!(
        out.contains("2 of 2 ed25519 + 2 of 3 ml-dsa-65 must sign"),
        "{out}"
    );
    create(
        p,
        "b.json",
        1,
        "hybrid.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    for k in ["k1.pem", "k2.pem", "m1.pem"] {
        ok(p, &["bundle", "sign", "b.json", "--key", k]);
    }
    // The third ML-DSA-65 signature by an external signer over the exact PAE.
    ok(p, &["bundle", "pae", "b.json", "--out", "b.pae"]);
    let secret = aws_iot_roots::bundle::SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(p.join("m3.pem")).expect("pem"),
    )
    .expect("key");
    let sig = secret.sign(&std::fs::read(p.join("b.pae")).expect("pae"));
    std::fs::write(p.join("short.sig"), &sig[..64]).expect("write");
    fails(
        p,
        &[
            "bundle",
            "attach",
            "b.json",
            "--sig",
            "short.sig",
            "--pubkey",
            "m3.pub",
        ],
        3,
        "an ml-dsa-65 signature",
    );
    std::fs::write(p.join("b.sig"), &sig).expect("write");
    ok(
        p,
        &[
            "bundle", "attach", "b.json", "--sig", "b.sig", "--pubkey", "m3.pub",
        ],
    );
    let out = ok(
        p,
        &[
            "bundle",
            "verify",
            "b.json",
            "--fleet",
            FLEET,
            "--signers",
            "hybrid.json",
        ],
    );
    assert!(
        out.contains("ed25519: 2 signed, 2 needed, ml-dsa-65: 2 signed, 2 needed"),
        "{out}"
    );
    // Devices that trust only the Ed25519 set see a rotation into hybrid.
    let out = ok(
        p,
        &[
            "bundle",
            "verify",
            "b.json",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
        ],
    );
    assert!(out.contains("ACCEPTED"), "{out}");
    let out = ok(p, &["inspect", "--bundle", "b.json"]);
    assert!(
        out.contains("next signer set: 2 of 2 ed25519 + 2 of 3 ml-dsa-65"),
        "{out}"
    );
}
