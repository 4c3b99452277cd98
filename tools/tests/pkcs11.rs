//! Signing with a key in an HSM over PKCS#11, against a real SoftHSM2 token (Debian's
//! softhsm2 2.6, which offers CKM_EDDSA): the token's key makes the signer set, signs a
//! bundle with a file key as the second signer, and a device accepts it. The PIN comes only
//! from the environment (or a prompt), never from an argument.

mod common;

use std::path::Path;
use std::process::Command as StdCommand;

use common::*;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";

fn have_softhsm() -> bool {
    let ok = Path::new(MODULE).exists()
        && StdCommand::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        && StdCommand::new("pkcs11-tool")
            .arg("--help")
            .output()
            .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "SoftHSM2 and pkcs11-tool are required in CI (scripts/test-all.sh installs them)"
        );
        eprintln!("skipped: SoftHSM2 or pkcs11-tool (opensc) is not installed");
    }
    ok
}

/// A token labelled `release` holding an Ed25519 key labelled `acme-release-1`, in a SoftHSM2
/// store of its own under `dir`; returns the SOFTHSM2_CONF to use.
fn token(dir: &Path) -> String {
    let store = dir.join("tokens");
    std::fs::create_dir(&store).expect("mkdir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            store.display()
        ),
    )
    .expect("conf");
    let conf = conf.display().to_string();
    let sh = |program: &str, args: &[&str]| {
        let out = StdCommand::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect(program);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "release",
            "--pin",
            PIN,
            "--so-pin",
            "5678",
        ],
    );
    sh(
        "pkcs11-tool",
        &[
            "--module",
            MODULE,
            "--token-label",
            "release",
            "--login",
            "--pin",
            PIN,
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--label",
            "acme-release-1",
            "--id",
            "01",
        ],
    );
    conf
}

#[test]
fn a_token_key_signs_a_bundle_a_device_accepts() {
    if !have_softhsm() {
        return;
    }
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    let conf = token(p);
    let env = [
        ("SOFTHSM2_CONF", conf.as_str()),
        ("IOT_ROOTS_PKCS11_PIN", PIN),
    ];
    let token_key = [
        "--pkcs11-module",
        MODULE,
        "--token-label",
        "release",
        "--key-label",
        "acme-release-1",
    ];
    let with = |cmd: &[&'static str]| {
        let mut a: Vec<&str> = cmd.to_vec();
        a.extend_from_slice(&token_key);
        a
    };
    // The token's public key, as a file for the signer set.
    let r = run_env(p, &with(&["pubkey", "--pem"]), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("-----BEGIN PUBLIC KEY-----"),
        "{}",
        r.stdout
    );
    std::fs::write(p.join("hsm.pub"), &r.stdout).expect("write");
    // The same key read by OpenSSL is the same key (pure Ed25519 SPKI).
    if have_openssl() {
        let der = StdCommand::new("openssl")
            .args(["pkey", "-pubin", "-in", "hsm.pub", "-outform", "DER"])
            .current_dir(p)
            .output()
            .expect("openssl");
        assert!(der.status.success());
        assert_eq!(der.stdout.len(), 44, "Ed25519 SPKI");
    }
    ok(p, &["keygen", "--out", "k2.pem", "--pub-out", "k2.pub"]);
    let set = with(&[
        "signer-set",
        "--threshold",
        "2",
        "k2.pub",
        "--out",
        "set.json",
    ]);
    let r = run_env(p, &set, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    create(p, "v1.json", 1, "set.json", &[root("Amazon_Root_CA_3.pem")]);
    let r = run_env(p, &with(&["bundle", "sign", "v1.json"]), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("1 signature"), "{}", r.stdout);
    ok(p, &["bundle", "sign", "v1.json", "--key", "k2.pem"]);
    // The device path: verify, then apply through the trust store.
    ok(
        p,
        &[
            "bundle",
            "verify",
            "v1.json",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
        ],
    );
    assert_eq!(
        ok(
            p,
            &[
                "device",
                "apply",
                "v1.json",
                "--state",
                "state",
                "--fleet",
                FLEET,
                "--signers",
                "set.json",
                "--skip-health-check",
            ]
        ),
        "applied: version 1, generation 1\n"
    );
    // A second signature by the same token key is refused as a repeat.
    let r = run_env(p, &with(&["bundle", "sign", "v1.json"]), &env);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("is already signed by key"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_wrong_pin_a_missing_key_and_a_pin_argument_are_refused() {
    if !have_softhsm() {
        return;
    }
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    let conf = token(p);
    let base = [
        "pubkey",
        "--pkcs11-module",
        MODULE,
        "--token-label",
        "release",
    ];
    let with_label = |label: &'static str| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(["--key-label", label]);
        a
    };
    let r = run_env(
        p,
        &with_label("acme-release-1"),
        &[("SOFTHSM2_CONF", &conf), ("IOT_ROOTS_PKCS11_PIN", "0000")],
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("log in to token \"release\" (wrong PIN?)"),
        "{}",
        r.stderr
    );
    let r = run_env(
        p,
        &with_label("nobody"),
        &[("SOFTHSM2_CONF", &conf), ("IOT_ROOTS_PKCS11_PIN", PIN)],
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("token \"release\" has no private key labelled \"nobody\""),
        "{}",
        r.stderr
    );
    // No PIN in the environment and no terminal: a clear error, never a hang.
    let r = run_env(
        p,
        &with_label("acme-release-1"),
        &[("SOFTHSM2_CONF", &conf)],
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("set IOT_ROOTS_PKCS11_PIN"),
        "{}",
        r.stderr
    );
    // There is no --pin option at all.
    let mut a = with_label("acme-release-1");
    a.extend(["--pin", PIN]);
    let r = run_env(p, &a, &[("SOFTHSM2_CONF", &conf)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
