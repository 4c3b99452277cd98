//! What a reviewer and a signer see: who signed and who is missing, why a signature does not
//! count, what a diff must flag, and that no command loses a signature.

mod common;

use common::*;

fn setup(d: &std::path::Path) {
    keys(d, 3, 2);
    create(d, "b.json", 2, "set.json", &[root("Amazon_Root_CA_3.pem")]);
}

fn key_id(d: &std::path::Path, key: &str) -> String {
    let out = ok(d, &["pubkey", key, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v["key_id"].as_str().expect("key id").to_owned()
}

#[test]
fn signatures_show_who_signed_and_who_is_missing_per_set() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    setup(p);
    ok(p, &["bundle", "sign", "b.json", "--key", "k1.pem"]);
    let r = fails(
        p,
        &["bundle", "signatures", "b.json", "--signers", "set.json"],
        1,
        "current signer set, ed25519: 1 of 2 required: NOT MET",
    );
    let k1 = key_id(p, "k1.pub");
    let k2 = key_id(p, "k2.pub");
    assert!(
        r.stdout.contains(&format!("  signed   {}", &k1[..16])),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("  missing  {}", &k2[..16])),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.starts_with("1 signature\n"),
        "plural: {}",
        r.stdout
    );
    ok(p, &["bundle", "sign", "b.json", "--key", "k2.pem"]);
    let json: serde_json::Value = serde_json::from_str(&ok(
        p,
        &[
            "bundle",
            "signatures",
            "b.json",
            "--signers",
            "set.json",
            "--json",
        ],
    ))
    .expect("json");
    let set = &json["review"]["sets"][0];
    assert_eq!(set["role"], "current");
    assert_eq!(set["met"], true);
    assert_eq!(set["signed"][0]["key_id"], k1);
    assert_eq!(set["missing"].as_array().map(Vec::len), Some(1));
}

/// `verify` says which signature problem it is: a key missing, a key in no set, or a
/// payload that changed after its signers signed.
#[test]
fn a_signature_refusal_says_which_problem_it_is() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    setup(p);
    ok(
        p,
        &[
            "keygen",
            "--out",
            "stranger.pem",
            "--pub-out",
            "stranger.pub",
        ],
    );
    // One of two, plus a stranger's: missing signers and an unknown key.
    ok(p, &["bundle", "sign", "b.json", "--key", "k1.pem"]);
    ok(p, &["bundle", "sign", "b.json", "--key", "stranger.pem"]);
    let r = fails(
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
        1,
        "1 of the 2 required ed25519 keys of the current set signed",
    );
    assert!(
        r.stdout.contains("1 signature by keys in no signer set"),
        "{}",
        r.stdout
    );
    let json: serde_json::Value = serde_json::from_str(
        &run(
            p,
            &[
                "bundle",
                "verify",
                "b.json",
                "--fleet",
                FLEET,
                "--signers",
                "set.json",
                "--json",
            ],
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(json["reason"], "current_signatures");
    assert_eq!(json["signature_problem"], "signatures_by_unknown_keys");
    assert_eq!(json["version"], 2);
    assert_eq!(json["expires_at"], EXPIRES);
    assert_eq!(json["roots"][0]["name"], "Amazon Root CA 3");
    assert_eq!(json["missing_signers"].as_array().map(Vec::len), Some(2));
    // Two signed, then the payload was edited: their signatures no longer verify.
    let d2 = tempfile::tempdir().expect("tmp");
    let q = d2.path();
    setup(q);
    ok(q, &["bundle", "sign", "b.json", "--key", "k1.pem"]);
    ok(q, &["bundle", "sign", "b.json", "--key", "k2.pem"]);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q.join("b.json")).expect("read")).expect("json");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(v["envelope"]["payload"].as_str().expect("payload"))
        .expect("b64");
    let edited = String::from_utf8(payload)
        .expect("utf-8")
        .replace("\"version\":2", "\"version\":3");
    v["envelope"]["payload"] = serde_json::json!(b64.encode(edited));
    std::fs::write(q.join("b.json"), serde_json::to_vec(&v).expect("json")).expect("write");
    let r = fails(
        q,
        &[
            "bundle",
            "verify",
            "b.json",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
        ],
        1,
        "the payload changed after it signed",
    );
    assert!(
        r.stdout.contains("0 of the 2 required ed25519 keys"),
        "{}",
        r.stdout
    );
}

#[test]
fn no_command_loses_a_signature_and_sign_warns_about_a_key_in_no_set() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    setup(p);
    ok(p, &["bundle", "sign", "b.json", "--key", "k1.pem"]);
    let signed = std::fs::read(p.join("b.json")).expect("read");
    // create over a signed bundle: refused without --force.
    let r = run(
        p,
        &[
            "bundle",
            "create",
            "--fleet",
            FLEET,
            "--version",
            "2",
            "--expires",
            EXPIRES,
            "--issued",
            ISSUED,
            "--next-signers",
            "set.json",
            "--out",
            "b.json",
            &root("Amazon_Root_CA_3.pem").display().to_string(),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("b.json already exists; refusing to overwrite it"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(p.join("b.json")).expect("read"), signed);
    // sign --out over an existing file: refused without --force; in place is atomic.
    std::fs::write(p.join("other.json"), "keep me").expect("write");
    fails(
        p,
        &[
            "bundle",
            "sign",
            "b.json",
            "--key",
            "k2.pem",
            "--out",
            "other.json",
        ],
        3,
        "other.json already exists",
    );
    assert_eq!(
        std::fs::read_to_string(p.join("other.json")).expect("read"),
        "keep me"
    );
    ok(
        p,
        &[
            "bundle",
            "sign",
            "b.json",
            "--key",
            "k2.pem",
            "--out",
            "other.json",
            "--force",
        ],
    );
    // A key in neither the next set nor --signers: warned, and it counts for nothing.
    ok(p, &["keygen", "--out", "stranger.pem"]);
    let r = run(
        p,
        &[
            "bundle",
            "sign",
            "b.json",
            "--key",
            "stranger.pem",
            "--signers",
            "set.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is in neither the bundle's next signer set nor the --signers set"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("2 signatures"), "{}", r.stdout);
    // pae --out refuses too.
    std::fs::write(p.join("b.pae"), "x").expect("write");
    fails(
        p,
        &["bundle", "pae", "b.json", "--out", "b.pae"],
        3,
        "already exists",
    );
}

#[test]
fn diff_flags_what_devices_would_refuse_and_signers_by_key_id() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 3, 2);
    ok(p, &["keygen", "--out", "k4.pem", "--pub-out", "k4.pub"]);
    create(p, "v5.json", 5, "set.json", &[root("Amazon_Root_CA_3.pem")]);
    create(p, "v4.json", 4, "set.json", &[root("Amazon_Root_CA_3.pem")]);
    let out = ok(p, &["bundle", "diff", "v5.json", "v4.json"]);
    assert!(
        out.contains("WARNING: version goes from 5 to 4: devices at 5 will refuse this bundle"),
        "{out}"
    );
    // Another fleet.
    ok(
        p,
        &[
            "bundle",
            "create",
            "--fleet",
            "acme-staging",
            "--version",
            "6",
            "--expires",
            EXPIRES,
            "--issued",
            ISSUED,
            "--next-signers",
            "set.json",
            "--out",
            "staging.json",
            &root("Amazon_Root_CA_3.pem").display().to_string(),
        ],
    );
    let out = ok(p, &["bundle", "diff", "v5.json", "staging.json"]);
    assert!(
        out.contains("WARNING: fleet changes from acme-prod to acme-staging"),
        "{out}"
    );
    // A signer change, by key id and key.
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
        "v6.json",
        6,
        "set2.json",
        &[root("Amazon_Root_CA_3.pem")],
    );
    let out = ok(p, &["bundle", "diff", "v5.json", "v6.json"]);
    let k3 = key_id(p, "k3.pub");
    let k4 = key_id(p, "k4.pub");
    assert!(out.contains(&format!("- signer  {}", &k3[..16])), "{out}");
    assert!(out.contains(&format!("+ signer  {}", &k4[..16])), "{out}");
    assert!(out.contains("SIGNER SET CHANGES"), "{out}");
    // The compiled-in set as the old side: what a first bundle drops.
    let out = ok(p, &["bundle", "diff", "--compiled-in", "v5.json"]);
    assert!(out.contains("- root    Amazon Root CA 1"), "{out}");
    assert!(out.contains("  root    Amazon Root CA 3"), "{out}");
    assert!(out.contains("A bundle replaces the whole set"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
}

#[test]
fn create_takes_durations_names_and_warns_about_what_devices_need() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    // A duration, relative to --issued; beyond a year it warns.
    let r = run(
        p,
        &[
            "bundle",
            "create",
            "--fleet",
            FLEET,
            "--version",
            "1",
            "--issued",
            ISSUED,
            "--expires",
            "2y",
            "--next-signers",
            "set.json",
            "--compiled-in",
            "--out",
            "a.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 730 days: 2028 is a leap year.
    assert!(r.stdout.contains("expires 2028-12-31"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("expires more than a year after it is issued"),
        "{}",
        r.stderr
    );
    // No root AWS IoT ATS endpoints chain to: warned.
    let ca4 = root("Amazon_Root_CA_4.pem").display().to_string();
    let name = format!("{ca4}=Our CA 4");
    let r = run(
        p,
        &[
            "bundle",
            "create",
            "--fleet",
            FLEET,
            "--version",
            "1",
            "--issued",
            ISSUED,
            "--expires",
            "180d",
            "--next-signers",
            "set.json",
            "--out",
            "b.json",
            &ca4,
            "--name",
            &name,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("devices applying this bundle cannot reach AWS IoT Core"),
        "{}",
        r.stderr
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(p, &["inspect", "--bundle", "b.json", "--json"])).expect("json");
    assert_eq!(json["roots"][0]["name"], "Our CA 4");
    fails(
        p,
        &[
            "bundle",
            "create",
            "--fleet",
            FLEET,
            "--version",
            "1",
            "--expires",
            "180d",
            "--next-signers",
            "set.json",
            "--out",
            "c.json",
            &ca4,
            "--name",
            "nofile=x",
        ],
        3,
        "--name \"nofile=x\": nofile is not one of the PEM files given",
    );
    // A refusal about one certificate names the file it came from.
    fails(
        p,
        &[
            "bundle", "create", "--fleet", FLEET, "--version", "1", "--expires", "180d",
            "--next-signers", "set.json", "--out", "d.json", &ca4,
            &testdata("aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem")
                .display()
                .to_string(),
        ],
        3,
        "0_leaf_star.iot.eu-central-1.amazonaws.com.pem)",
    );
}

/// A failed write names the file the user gave, never the temporary file beside it.
#[test]
fn a_failed_write_names_the_users_file_not_a_temp_file() {
    let d = tempfile::tempdir().expect("tmp");
    let r = fails(
        d.path(),
        &[
            "export",
            "--format",
            "pem",
            "--out",
            "no-such-dir/roots.pem",
        ],
        3,
        "write no-such-dir/roots.pem",
    );
    assert!(!r.stderr.contains(".tmp"), "{}", r.stderr);
}
