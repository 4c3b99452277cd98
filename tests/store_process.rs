//! The trust store across real processes: a writer killed mid-commit, and the end-to-end
//! update of a TLS client on loopback, reopened in a fresh process.
//!
//! Child processes are this test binary run again with `CHILD_ENV` set, selecting the child
//! half of the test by its exact name.
#![cfg(all(
    feature = "store",
    feature = "signing",
    feature = "rustls",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_iot_roots::bundle::{BundleBuilder, Limits, PublicKey, SignerSet};
use aws_iot_roots::store::{
    HealthCheck, HealthCheckError, StoreConfig, StoreError, TlsHandshakeCheck, TrustStore,
};
use common::bundles::*;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

const CHILD_ENV: &str = "AWS_IOT_ROOTS_TEST_CHILD";

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

fn run_child(test: &str, dir: &Path, extra_env: &[(&str, String)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child")
}

fn pass(_: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
    Ok(())
}

/// A config whose initial signers are stored beside the state, for children to read.
fn config_in(dir: &Path) -> StoreConfig {
    let pem = std::fs::read_to_string(dir.join("signer.pub")).expect("signer.pub");
    StoreConfig::new(
        FLEET,
        SignerSet::new(vec![PublicKey::from_spki_pem(&pem).expect("key")], 1).expect("set"),
    )
}

const ODD: &[&str] = &["Amazon Root CA 1", "Amazon Root CA 3"];
const EVEN: &[&str] = &["Amazon Root CA 3"];

fn roots_for(v: u64) -> &'static [&'static str] {
    if v.is_multiple_of(2) {
        EVEN
    } else {
        ODD
    }
}

#[test]
fn a_writer_killed_mid_commit_leaves_the_old_or_the_new_state() {
    if let Some(dir) = child_dir() {
        // Child: apply bundles 2, 3, ... as fast as fsync allows, until killed.
        let mut store = TrustStore::open(dir.join("state"), config_in(&dir)).expect("child open");
        for v in 2.. {
            let Ok(bytes) = std::fs::read(dir.join(format!("bundle-{v}.json"))) else {
                break;
            };
            store
                .apply(&bytes, at(CLOCK), &mut pass)
                .expect("child apply");
        }
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let keys = Keys::new(1);
    let set = keys.set(1);
    let base = tempfile::tempdir().expect("tmp");
    std::fs::write(
        base.path().join("signer.pub"),
        keys.keys[0].public_key().to_spki_pem().expect("pem"),
    )
    .expect("write");
    const LAST: u64 = 400;
    for v in 1..=LAST {
        let mut b = BundleBuilder::new(FLEET, v, at(ISSUED), at(EXPIRES), set.clone());
        for r in roots_for(v) {
            b = b.root(root_der(r).into(), None);
        }
        let mut bundle = b.build(&Limits::default()).expect("bundle");
        bundle.sign(&keys.keys[0]).expect("sign");
        std::fs::write(
            base.path().join(format!("bundle-{v}.json")),
            bundle.to_bytes(),
        )
        .expect("write");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, delay_ms) in [15u64, 40, 90, 160, 250, 330].into_iter().enumerate() {
        let state = base.path().join("state");
        let _ = std::fs::remove_dir_all(&state);
        let mut store = TrustStore::open(&state, config_in(base.path())).expect("open");
        store
            .apply(
                &std::fs::read(base.path().join("bundle-1.json")).expect("v1"),
                at(CLOCK),
                &mut pass,
            )
            .expect("v1");
        drop(store);
        let mut child = run_child(
            "a_writer_killed_mid_commit_leaves_the_old_or_the_new_state",
            base.path(),
            &[],
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let store = TrustStore::open(&state, config_in(base.path())).expect("reopen after kill");
        let v = store
            .active_bundle()
            .map(|b| b.payload().version)
            .expect("a committed bundle");
        assert!((1..=LAST).contains(&v), "run {i}: version {v}");
        assert_eq!(
            store.floors().version,
            v,
            "run {i}: floors and active set disagree"
        );
        let mut want: Vec<_> = roots_for(v).iter().map(|r| root_der(r)).collect();
        want.sort_by_key(|d| sha(d));
        let got: Vec<Vec<u8>> = store
            .active_bundle()
            .expect("bundle")
            .roots()
            .iter()
            .map(|r| r.der().to_vec())
            .collect();
        assert_eq!(got, want, "run {i}: roots of version {v}");
        seen.insert(v);
    }
    assert!(seen.len() > 1, "kills all landed at one version: {seen:?}");
}

/// A rustls server on loopback presenting a chain from a test CA, for `connections` clients.
fn tls_server(ca: &ScratchCa, connections: usize) -> u16 {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["iot.test".to_owned()]).expect("params");
    let leaf = params.signed_by(&key, ca).expect("leaf");
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            while conn.is_handshaking() {
                if conn.complete_io(&mut stream).is_err() {
                    break;
                }
            }
            let _ = conn.complete_io(&mut stream);
        }
    });
    port
}

fn client_check(port: u16) -> TlsHandshakeCheck {
    TlsHandshakeCheck::new(
        "127.0.0.1",
        port,
        "iot.test",
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .expect("check")
    .with_timeout(Duration::from_secs(10))
}

#[test]
fn end_to_end_a_committed_bundle_lets_a_fresh_process_connect() {
    if let Some(dir) = child_dir() {
        // Child: a fresh process opens the store and connects with its anchors.
        let port: u16 = std::env::var("PORT").expect("PORT").parse().expect("port");
        let store = TrustStore::open(dir.join("state"), config_in(&dir)).expect("child open");
        client_check(port)
            .check(&store.anchors())
            .expect("fresh process connects");
        println!(
            "connected with bundle version {:?}",
            store.active_bundle().map(|b| b.payload().version)
        );
        return;
    }
    let ca = scratch_ca("aws-iot-roots test CA");
    let port = tls_server(&ca, 3);

    let keys = Keys::new(1);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("signer.pub"),
        keys.keys[0].public_key().to_spki_pem().expect("pem"),
    )
    .expect("write");
    let mut store =
        TrustStore::open(dir.path().join("state"), config_in(dir.path())).expect("open");

    // 1. Before the update, only the compiled-in Amazon roots: UnknownIssuer.
    let err = client_check(port)
        .check(&store.anchors())
        .expect_err("must fail before the update");
    // A chain that does not verify under the anchors is the bundle's fault, not the device's.
    assert!(
        matches!(&err, HealthCheckError::Failed { reason } if reason.contains("UnknownIssuer")),
        "{err:?}"
    );

    // 2. A signed bundle with the test CA: stage, the health check passes, commit.
    let mut bundle = BundleBuilder::new(FLEET, 1, at(ISSUED), at(EXPIRES), keys.set(1))
        .root(
            CertificateDer::from(ca.der().to_vec()),
            Some("test CA".into()),
        )
        .build(&Limits::default())
        .expect("bundle");
    bundle.sign(&keys.keys[0]).expect("sign");
    store.stage(&bundle.to_bytes(), at(CLOCK)).expect("stage");
    store
        .health_check(&mut client_check(port), at(CLOCK))
        .expect("health check over TLS");
    store.commit(at(CLOCK)).expect("commit");
    drop(store);

    // 3. A fresh process reopens the store and connects.
    let child = run_child(
        "end_to_end_a_committed_bundle_lets_a_fresh_process_connect",
        dir.path(),
        &[("PORT", port.to_string())],
    );
    let out = child.wait_with_output().expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("connected with bundle version Some(1)"),
        "{stdout}"
    );
}

#[test]
fn health_check_against_a_server_the_staged_roots_do_not_trust_fails() {
    if child_dir().is_some() {
        return;
    }
    let ca = scratch_ca("a CA the bundle does not carry");
    let port = tls_server(&ca, 1);
    let keys = Keys::new(1);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("signer.pub"),
        keys.keys[0].public_key().to_spki_pem().expect("pem"),
    )
    .expect("write");
    let mut store =
        TrustStore::open(dir.path().join("state"), config_in(dir.path())).expect("open");
    // Signed and valid, but only Amazon roots: the server's test CA is not among them.
    let mut bundle = BundleBuilder::new(FLEET, 1, at(ISSUED), at(EXPIRES), keys.set(1))
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect("bundle");
    bundle.sign(&keys.keys[0]).expect("sign");
    store.stage(&bundle.to_bytes(), at(CLOCK)).expect("stage");
    match store.health_check(&mut client_check(port), at(CLOCK)) {
        Err(StoreError::HealthCheckFailed { reason, .. }) => {
            assert!(reason.contains("UnknownIssuer"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.commit(at(CLOCK)),
        Err(StoreError::NotHealthChecked { .. })
    ));
    let _ = std::io::stdout().flush();
}

/// Issue 11, item 10: the ready-made TLS check tells the device's failures from the bundle's.
/// A port nobody listens on says nothing about the anchors (`Unavailable`: no attempt spent);
/// a server whose chain does not verify under them does (`Failed`). The positive control, a
/// server that is up and verifies, passes with its CA as the anchor.
#[test]
fn tls_handshake_check_tells_the_device_from_the_bundle() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = client_check(closed)
        .with_timeout(Duration::from_secs(2))
        .check(aws_iot_roots::TLS_SERVER_ROOTS)
        .expect_err("nothing listens");
    assert!(
        matches!(&err, HealthCheckError::Unavailable { reason } if reason.contains("connect")),
        "{err:?}"
    );

    let ca = scratch_ca("classification CA");
    let port = tls_server(&ca, 2);
    let err = client_check(port)
        .check(aws_iot_roots::TLS_SERVER_ROOTS)
        .expect_err("untrusted chain");
    assert!(
        matches!(&err, HealthCheckError::Failed { reason } if reason.contains("UnknownIssuer")),
        "{err:?}"
    );
    let anchor = CertificateDer::from(ca.der().to_vec());
    let anchor = webpki::anchor_from_trusted_cert(&anchor)
        .expect("anchor")
        .to_owned();
    client_check(port)
        .check(&[anchor])
        .expect("the server is up and its CA verifies it");
}
