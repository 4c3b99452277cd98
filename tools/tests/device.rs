//! `iot-roots device …` for Linux gateways: the CA file C clients read, checked with OpenSSL
//! against a real AWS IoT chain and a local TLS server; refusals that change nothing; SIGKILL
//! at any instant.

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// 2026-01-15: inside the validity of the real *.iot.eu-central-1 leaf in the test data.
const CHAIN_TIME: &str = "1768435200";

fn apply_args<'a>(bundle: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "device",
        "apply",
        bundle,
        "--state",
        "state",
        "--fleet",
        FLEET,
        "--signers",
        "set.json",
    ];
    args.extend_from_slice(extra);
    args
}

/// A bundle over the compiled-in roots (and `extra` PEM files), signed by k1.
fn bundle(dir: &Path, out: &str, version: u64, extra: &[&str]) {
    let v = version.to_string();
    let mut args = vec![
        "bundle",
        "create",
        "--fleet",
        FLEET,
        "--version",
        &v,
        "--expires",
        EXPIRES,
        "--next-signers",
        "set.json",
        "--compiled-in",
        "--out",
        out,
        "--force",
    ];
    args.extend_from_slice(extra);
    ok(dir, &args);
    ok(dir, &["bundle", "sign", out, "--key", "k1.pem"]);
}

/// A CA (PEM in `ca.pem`) and a leaf for `iot.test` signed by it (`leaf.pem`, `leaf.key`).
fn test_pki(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Gateway Test CA");
    let ca = p.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::from_params(&p, &ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["iot.test".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("test-ca.pem"), ca.pem()).expect("ca");
    std::fs::write(dir.join("leaf.pem"), leaf.pem()).expect("leaf");
    std::fs::write(dir.join("leaf.key"), key.serialize_pem()).expect("key");
}

/// `openssl s_server` on a loopback port, serving `leaf.pem`; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let child = StdCommand::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", "leaf.pem", "-key", "leaf.key"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn version_of(dir: &Path) -> serde_json::Value {
    if !dir.join("state").exists() {
        return serde_json::Value::Null;
    }
    let status: serde_json::Value = serde_json::from_str(&ok(
        dir,
        &[
            "device",
            "status",
            "--state",
            "state",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
            "--json",
        ],
    ))
    .expect("json");
    status["version"].clone()
}

#[test]
fn the_ca_file_lets_openssl_verify_a_real_aws_iot_chain() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    bundle(p, "v1.json", 1, &[]);
    let out = ok(
        p,
        &apply_args("v1.json", &["--skip-health-check", "--pem-out", "ca.pem"]),
    );
    assert_eq!(out, "applied: version 1, generation 1\n");
    let chain = testdata("aws-chains/iot_eu-central-1_m04_2025");
    let verify = |cafile: &str| {
        StdCommand::new("openssl")
            // Only the CA file: never the system store in /etc/ssl/certs.
            .args(["verify", "-no-CApath", "-no-CAstore", "-attime", CHAIN_TIME])
            .args(["-CAfile", cafile, "-untrusted"])
            .arg(chain.join("1_Amazon_RSA_2048_M04.pem"))
            .arg(chain.join("0_leaf_star.iot.eu-central-1.amazonaws.com.pem"))
            .current_dir(p)
            .output()
            .expect("openssl verify")
    };
    let good = verify("ca.pem");
    assert!(
        good.status.success() && String::from_utf8_lossy(&good.stdout).contains(": OK"),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );
    // The control: a CA file without Amazon Root CA 1 does not verify the same chain.
    std::fs::write(
        p.join("ca3.pem"),
        std::fs::read(root("Amazon_Root_CA_3.pem")).expect("ca3"),
    )
    .expect("write");
    assert!(!verify("ca3.pem").status.success());
    // Mode 0644: C clients running as other users read it.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(p.join("ca.pem"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn apply_health_checks_the_endpoint_then_commits_and_openssl_uses_the_ca_file() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    test_pki(p);
    let server = Server::start(p);
    let addr = server.addr();
    let check = ["--health-check", &addr, "--server-name", "iot.test"];
    // v1 lacks the server's CA: unhealthy, nothing committed, no CA file written.
    bundle(p, "v1.json", 1, &[]);
    let mut args = apply_args("v1.json", &check);
    args.extend(["--pem-out", "ca.pem"]);
    let r = fails(
        p,
        &args,
        1,
        "unhealthy: health check of bundle version 1 failed",
    );
    assert!(r.stdout.starts_with("unhealthy: "), "{}", r.stdout);
    assert!(r.stdout.contains("UnknownIssuer"), "{}", r.stdout);
    assert!(!p.join("ca.pem").exists());
    assert_eq!(version_of(p), serde_json::Value::Null);
    // v2 carries it: the handshake trusting only v2's roots succeeds, and v2 is committed.
    bundle(p, "v2.json", 2, &["test-ca.pem"]);
    let mut args = apply_args("v2.json", &check);
    args.extend(["--pem-out", "ca.pem"]);
    assert_eq!(ok(p, &args), "applied: version 2, generation 1\n");
    assert_eq!(version_of(p), 2);
    // A real C client, OpenSSL's s_client, verifies the server with the written CA file.
    let s_client = StdCommand::new("openssl")
        .args(["s_client", "-connect", &addr, "-servername", "iot.test"])
        .args(["-verify_hostname", "iot.test", "-verify_return_error"])
        .args(["-CAfile", "ca.pem", "-no-CApath", "-no-CAstore"])
        .current_dir(p)
        .stdin(Stdio::null())
        .output()
        .expect("s_client");
    let text = String::from_utf8_lossy(&s_client.stdout);
    assert!(
        s_client.status.success() && text.contains("Verify return code: 0 (ok)"),
        "{text}{}",
        String::from_utf8_lossy(&s_client.stderr)
    );
    // v3 drops the CA again: unhealthy, and the CA file is byte-identical.
    let before = std::fs::read(p.join("ca.pem")).expect("ca");
    bundle(p, "v3.json", 3, &[]);
    let mut args = apply_args("v3.json", &check);
    args.extend(["--pem-out", "ca.pem"]);
    fails(p, &args, 1, "unhealthy: ");
    assert_eq!(std::fs::read(p.join("ca.pem")).expect("ca"), before);
    assert_eq!(version_of(p), 2);
    // An endpoint that is down says so: it is the device's failure, not the bundle's.
    drop(server);
    let r = fails(p, &args, 1, "could not run");
    assert!(
        r.stdout.contains("the attempt is not counted"),
        "{}",
        r.stdout
    );
    assert_eq!(std::fs::read(p.join("ca.pem")).expect("ca"), before);
}

#[test]
fn a_refused_bundle_changes_nothing_and_bad_input_is_exit_3() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    for v in 1..=3 {
        bundle(p, &format!("v{v}.json"), v, &[]);
    }
    for v in ["v1.json", "v2.json"] {
        ok(
            p,
            &apply_args(v, &["--skip-health-check", "--pem-out", "ca.pem"]),
        );
    }
    let before = std::fs::read(p.join("ca.pem")).expect("ca");
    let state_before = dir_snapshot(&p.join("state"));
    // Tampered: one certificate replaced by another root. The signed bytes are intact; the
    // binding by hash is not.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("v3.json")).expect("read")).expect("json");
    let first = v["certificates"][0].clone();
    v["certificates"][1] = first;
    std::fs::write(
        p.join("tampered.json"),
        serde_json::to_vec(&v).expect("json"),
    )
    .expect("write");
    let r = fails(
        p,
        &apply_args(
            "tampered.json",
            &["--skip-health-check", "--pem-out", "ca.pem"],
        ),
        1,
        "refused: bundle refused",
    );
    assert!(r.stdout.starts_with("refused: "), "{}", r.stdout);
    // A rollback, by a validly signed older bundle.
    fails(
        p,
        &apply_args("v1.json", &["--skip-health-check", "--pem-out", "ca.pem"]),
        1,
        "refused: bundle refused: rollback: offered 1, current 2",
    );
    // The active one again: success, nothing to do.
    assert_eq!(
        ok(p, &apply_args("v2.json", &["--skip-health-check"])),
        "already-active: version 2\n"
    );
    assert_eq!(std::fs::read(p.join("ca.pem")).expect("ca"), before);
    assert_eq!(dir_snapshot(&p.join("state")), state_before);
    // Bad input: exit 3 before the store is touched.
    fails(
        p,
        &apply_args("missing.json", &["--skip-health-check"]),
        3,
        "read missing.json",
    );
    fails(
        p,
        &apply_args("v2.json", &["--health-check", "no-port-here"]),
        3,
        "--health-check \"no-port-here\": expected HOST:PORT",
    );
    // One of --health-check and --skip-health-check is required.
    fails(p, &apply_args("v2.json", &[]), 2, "--skip-health-check");
    assert_eq!(dir_snapshot(&p.join("state")), state_before);
}

/// Every file of a directory and its bytes: the trusted state. LOCK's bytes are the pid of
/// its last holder (what `Busy` names), not state, so LOCK is listed by name only.
fn dir_snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = if name == "LOCK" {
                Vec::new()
            } else {
                std::fs::read(e.path()).expect("read")
            };
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Applies are killed at random instants; afterwards the CA file is always exactly one that a
/// completed apply writes (old or new, never torn), and the store opens at a version that
/// never goes down.
#[test]
fn sigkill_during_apply_leaves_the_old_or_the_new_ca_file() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    test_pki(p);
    const ROUNDS: u64 = 24;
    for v in 1..=ROUNDS {
        let extra: &[&str] = if v % 2 == 0 { &["test-ca.pem"] } else { &[] };
        bundle(p, &format!("v{v}.json"), v, extra);
    }
    // The two files a completed apply can leave: without and with the test CA.
    let expected: Vec<Vec<u8>> = [1u64, 2]
        .iter()
        .map(|v| {
            let e = tempfile::tempdir().expect("tmp");
            for f in ["set.json", &format!("v{v}.json")] {
                std::fs::copy(p.join(f), e.path().join(f)).expect("copy");
            }
            let name = format!("v{v}.json");
            ok(
                e.path(),
                &apply_args(&name, &["--skip-health-check", "--pem-out", "ca.pem"]),
            );
            std::fs::read(e.path().join("ca.pem")).expect("ca")
        })
        .collect();
    let bin = assert_cmd::cargo::cargo_bin("iot-roots");
    let mut last_version = 0u64;
    let mut killed = 0;
    for v in 1..=ROUNDS {
        let name = format!("v{v}.json");
        let mut child = StdCommand::new(&bin)
            .args(apply_args(
                &name,
                &["--skip-health-check", "--pem-out", "ca.pem"],
            ))
            .current_dir(p)
            .env("IOT_ROOTS_NOW", NOW)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Spread the kills over the command's run (a few milliseconds).
        std::thread::sleep(Duration::from_micros(v * 400 % 9_000));
        if child.kill().is_ok() {
            killed += 1;
        }
        let _ = child.wait();
        let mut out = String::new();
        let _ = child.stdout.take().map(|mut s| s.read_to_string(&mut out));
        if let Ok(ca) = std::fs::read(p.join("ca.pem")) {
            assert!(expected.contains(&ca), "round {v}: a torn CA file");
        }
        let version = version_of(p).as_u64().unwrap_or(0);
        assert!(version >= last_version, "round {v}: version went down");
        last_version = version;
    }
    assert!(killed > 0, "no apply was killed: the test proved nothing");
    // Completing the last apply leaves the last version and its file.
    let name = format!("v{ROUNDS}.json");
    let out = ok(
        p,
        &apply_args(&name, &["--skip-health-check", "--pem-out", "ca.pem"]),
    );
    assert!(
        out.starts_with("applied: version 24") || out.starts_with("already-active: version 24"),
        "{out}"
    );
    assert_eq!(std::fs::read(p.join("ca.pem")).expect("ca"), expected[1]);
    // No debris of the killed writers beside the CA file.
    let debris: Vec<String> = std::fs::read_dir(p)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(debris.is_empty(), "{debris:?}");
}

#[test]
fn status_export_pem_and_discard() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 1, 1);
    test_pki(p);
    let store = [
        "--state",
        "state",
        "--fleet",
        FLEET,
        "--signers",
        "set.json",
    ];
    let with = |cmd: &[&'static str], extra: &[&'static str]| {
        let mut a: Vec<&str> = cmd.to_vec();
        a.extend_from_slice(&store);
        a.extend_from_slice(extra);
        a
    };
    // A state directory that does not exist is an error, not the compiled-in set: a typo in
    // --state must not pass for a fresh device.
    fails(
        p,
        &with(&["device", "export-pem"], &["--out", "-"]),
        3,
        "open state: no such state directory",
    );
    // A fresh device (an empty directory) exports the compiled-in roots.
    std::fs::create_dir(p.join("state")).expect("mkdir");
    let r = run(p, &with(&["device", "export-pem"], &["--out", "-"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("-----BEGIN CERTIFICATE-----").count(),
        aws_iot_roots::ROOTS.len()
    );
    fails(
        p,
        &with(&["device", "discard"], &["--reason", "x"]),
        1,
        "nothing-staged: no bundle is staged",
    );
    // A bundle left staged by a health check that could not run, then discarded.
    bundle(p, "v1.json", 1, &["test-ca.pem"]);
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
        .to_string();
    let target = format!("127.0.0.1:{closed}");
    fails(
        p,
        &apply_args("v1.json", &["--health-check", &target]),
        1,
        "could not run",
    );
    assert_eq!(
        ok(
            p,
            &with(&["device", "discard"], &["--reason", "operator: wrong CA"])
        ),
        "discarded: version 1\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(p, &with(&["device", "status"], &["--json"]))).expect("json");
    assert_eq!(json["discarded"][0]["version"], 1);
    assert_eq!(json["discarded"][0]["cause"], "operator");
    assert_eq!(json["discarded"][0]["reason"], "operator: wrong CA");
    assert_eq!(json["fleet"], FLEET);
    assert_eq!(json["signers"]["threshold"], 1);
    assert_eq!(
        json["signers"]["keys"][0]["key_id"].as_str().map(str::len),
        Some(64)
    );
    // The text view fits 80 columns (the longest root name included).
    let text = ok(p, &with(&["device", "status"], &[]));
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    // The earliest deadline: Starfield Class 2 when it is compiled in (--all-features), else
    // Starfield Services G2, whose 50-character name is the widest.
    let first = if aws_iot_roots::ROOTS
        .iter()
        .any(|r| r.feature == "starfield-class-2")
    {
        "Starfield Class 2 Certification Authority"
    } else {
        "Starfield Services Root Certificate Authority - G2"
    };
    assert!(
        text.contains(&format!("next deadline: {first}\n")),
        "{text}"
    );
    // The old `status` is the same command.
    let old: serde_json::Value =
        serde_json::from_str(&ok(p, &with(&["status"], &["--json"]))).expect("json");
    assert_eq!(old, json);
    // Offered again, it is refused as discarded.
    fails(
        p,
        &apply_args("v1.json", &["--skip-health-check"]),
        1,
        "was discarded before",
    );
}
