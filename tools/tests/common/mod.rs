//! Helpers shared by the CLI's integration tests: run the real binary, make keys and bundles.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;

pub(crate) const FLEET: &str = "acme-prod";
pub(crate) const ISSUED: &str = "2027-01-01T00:00:00Z";
pub(crate) const EXPIRES: &str = "2028-01-01T00:00:00Z";
pub(crate) const NOW: &str = "2027-01-02T00:00:00Z";
pub(crate) const FLOOR: &str = "2026-12-01T00:00:00Z";

pub(crate) fn roots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../roots")
}

pub(crate) fn root(name: &str) -> PathBuf {
    roots_dir().join(name)
}

pub(crate) fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(rel)
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> Run {
    run_env(dir, args, &[])
}

/// `run` with extra environment variables.
pub(crate) fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("iot-roots").expect("binary");
    cmd.current_dir(dir)
        .env_remove("NO_COLOR")
        // A fixed clock unless a test gives --now: tests must not depend on the wall clock.
        .env("IOT_ROOTS_NOW", NOW)
        .env_remove("IOT_ROOTS_PKCS11_PIN")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let r = run(dir, args);
    assert_eq!(
        r.code, 0,
        "iot-roots {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

pub(crate) fn fails(dir: &Path, args: &[&str], code: i32, stderr_has: &str) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code, code,
        "iot-roots {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains(stderr_has) || r.stdout.contains(stderr_has),
        "{stderr_has:?} not in:\n{}{}",
        r.stdout,
        r.stderr
    );
    r
}

pub(crate) fn have_openssl() -> bool {
    let ok = StdCommand::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required in CI"
        );
        eprintln!("skipping: openssl not found");
    }
    ok
}

pub(crate) fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Keys k1..kN with public halves, and a signer-set file `set.json` of the first `n` keys.
pub(crate) fn keys(dir: &Path, n: usize, threshold: u32) {
    for i in 1..=n {
        ok(
            dir,
            &[
                "keygen",
                "--out",
                &format!("k{i}.pem"),
                "--pub-out",
                &format!("k{i}.pub"),
            ],
        );
    }
    let mut args = vec![
        "signer-set".to_owned(),
        "--threshold".into(),
        threshold.to_string(),
        "--out".into(),
        "set.json".into(),
    ];
    args.extend((1..=n).map(|i| format!("k{i}.pub")));
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
}

pub(crate) fn create(dir: &Path, out: &str, version: u64, set: &str, roots: &[PathBuf]) {
    let v = version.to_string();
    let mut args = vec![
        "bundle",
        "create",
        "--fleet",
        FLEET,
        "--version",
        &v,
        "--issued",
        ISSUED,
        "--expires",
        EXPIRES,
    ];
    args.extend(["--next-signers", set, "--out", out]);
    let paths: Vec<String> = roots.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    ok(dir, &args);
}

/// Lowercase hex, independent of the code under test.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ```` ```sh ```` blocks of a Markdown text, in order (exactly `sh`, nothing after it).
pub(crate) fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}
