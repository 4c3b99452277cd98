//! RELEASE-CHECKLIST.md is a runbook that runs verbatim: its ```` ```sh ```` blocks, in
//! order, with `bash -euo pipefail`, in an empty directory, with `iot-roots` on PATH and REPO
//! set to the checkout. This runs the file itself, not a paraphrase, so an edit that breaks
//! the runbook fails CI. Blocks with another info string (`sh aws`, `sh pkcs11`) need AWS or
//! an HSM and are skipped here.

mod common;

use std::path::Path;

use common::sh_blocks;
use std::process::Command;

/// The runbook's rehearsal clock: fixed, so the test does not depend on the wall clock.
const NOW: &str = "2027-01-02T00:00:00Z";

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_release_runbook_runs_verbatim_from_an_empty_directory() {
    if !have("openssl") {
        assert!(std::env::var_os("CI").is_none(), "openssl is missing in CI");
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let text = std::fs::read_to_string(repo.join("RELEASE-CHECKLIST.md")).expect("runbook");
    let blocks = sh_blocks(&text);
    // The runbook must go from nothing to a retired root: keys, first bundle, device,
    // added root, 2 of 3, rotation, retirement, the gate.
    let script = blocks.concat();
    for step in [
        "iot-roots keygen",
        "bundle create --fleet acme-prod --version 1",
        "--compiled-in",
        "bundle diff --compiled-in",
        "device apply",
        "--version 2",
        "set2.json",
        "--version 4",
        "check-expiry",
        "keygen --alg ml-dsa-65",
        "signer-set --combine",
        "--version 6",
    ] {
        assert!(script.contains(step), "the runbook lost its {step:?} step");
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("runbook.sh"), &script).expect("write");
    let bin = Path::new(env!("CARGO_BIN_EXE_iot-roots"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "runbook.sh"])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("REPO", repo)
        .env("IOT_ROOTS_NOW", NOW)
        .env_remove("IOT_ROOTS_PKCS11_PIN")
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "the runbook failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The rehearsal left a device at version 4 without Amazon Root CA 2.
    let status = Command::new(env!("CARGO_BIN_EXE_iot-roots"))
        .args([
            "device",
            "status",
            "--state",
            "device",
            "--fleet",
            "acme-prod",
        ])
        .args(["--signers", "set.json", "--json"])
        .current_dir(dir.path())
        .env("IOT_ROOTS_NOW", NOW)
        .output()
        .expect("status");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    // Version 5 moved the device to hybrid; version 6 was only verified.
    assert_eq!(json["version"], 5, "{json}");
    assert_eq!(
        json["signers"]["summary"], "2 of 3 ed25519 + 2 of 3 ml-dsa-65",
        "{json}"
    );
    let names: Vec<&str> = json["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"Acme Private Root CA 1"), "{names:?}");
    assert!(!names.contains(&"Amazon Root CA 2"), "{names:?}");
}

#[test]
fn only_plain_sh_blocks_are_run() {
    let md = "a\n```sh\necho 1\n```\n```sh aws\naws kms sign\n```\n```sh\necho 2\n```\n";
    assert_eq!(sh_blocks(md), vec!["echo 1\n", "echo 2\n"]);
}
