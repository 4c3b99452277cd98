//! `iot-roots inspect`, run as the real binary.

use assert_cmd::Command;
use predicates::prelude::*;

fn iot_roots() -> Command {
    let mut cmd = Command::cargo_bin("iot-roots").expect("binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

#[test]
fn table_lists_every_default_root_with_pins_and_days_left() {
    let out = iot_roots()
        .args(["inspect", "--now", "2026-11-27T00:00:00Z", "--wide"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    // The test links the library with the same (unified) features as the binary.
    assert_eq!(lines.len(), 1 + aws_iot_roots::ROOTS.len(), "{text}");
    assert!(aws_iot_roots::ROOTS.len() >= 5, "default roots are on");
    assert!(lines[0].starts_with("NAME") && lines[0].contains("SPKI PIN"));
    let ca1 = lines
        .iter()
        .find(|l| l.starts_with("Amazon Root CA 1 "))
        .expect("CA 1 row");
    // 2026-11-27 → 2038-01-17 is 4069 days; the SPKI pin is the published one.
    assert!(
        ca1.contains("RSA 2048") && ca1.contains("2038-01-17") && ca1.contains(" 4069 "),
        "{ca1}"
    );
    assert!(ca1.contains("fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"));
    let sfs = lines
        .iter()
        .find(|l| l.starts_with("Starfield Services"))
        .expect("SFS row");
    assert!(
        sfs.contains("Mozilla 2027-04-15 (projected, 139 days)"),
        "{sfs}"
    );
    // Not a terminal: no colour codes.
    assert!(!text.contains('\x1b'));
    assert!(!text.lines().any(|l| l.ends_with(' ')), "trailing spaces");
}

#[test]
fn json_is_deterministic_and_complete() {
    let run = || {
        let out = iot_roots()
            .args(["inspect", "--json", "--now", "2030-05-01T00:00:00Z"])
            .assert()
            .success();
        out.get_output().stdout.clone()
    };
    let a = run();
    assert_eq!(a, run());
    let v: serde_json::Value = serde_json::from_slice(&a).expect("json");
    assert_eq!(v["schema"], 1);
    assert_eq!(v["source"]["kind"], "compiled-in");
    assert_eq!(v["source"]["verified"], false);
    let roots = v["roots"].as_array().expect("array");
    assert_eq!(roots.len(), aws_iot_roots::ROOTS.len());
    let ca3 = roots
        .iter()
        .find(|r| r["name"] == "Amazon Root CA 3")
        .expect("CA 3");
    assert_eq!(ca3["key"], "ECDSA P-256");
    assert_eq!(
        ca3["sha256"],
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4"
    );
    assert_eq!(
        ca3["spki_sha256"],
        "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9"
    );
    assert_eq!(ca3["not_after"], "2040-05-26T00:00:00Z");
    assert_eq!(ca3["root_program_removal"]["date"], "2030-05-26T00:00:00Z");
    // 2030-05-01 → 2030-05-26: 15 years after the key, not April 15.
    assert_eq!(ca3["root_program_removal"]["days_left"], 25);
}

#[test]
fn bad_now_is_a_usage_error() {
    iot_roots()
        .args(["inspect", "--now", "next tuesday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RFC 3339"));
}

#[test]
fn bad_iot_roots_now_is_a_usage_error_not_the_wall_clock() {
    iot_roots()
        .args(["inspect"])
        .env("IOT_ROOTS_NOW", "yesterday")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("IOT_ROOTS_NOW=\"yesterday\""));
}

#[test]
fn help_fits_80_columns_and_lists_the_exit_codes() {
    let out = iot_roots()
        .arg("--help")
        .env("COLUMNS", "80")
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).expect("utf-8");
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("  3  an input could not be read"), "{text}");
    let long: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
    assert!(long.is_empty(), "{long:?}");
}
