//! The example against a local HTTPS server standing in for AWS IoT's control plane
//! (DescribeEndpoint) and data plane (Publish), reached through endpoint URL overrides. Its
//! certificates come from a test CA: with compiled-in roots only the client must refuse with
//! UnknownIssuer; with the test CA as an extra anchor, or in a committed bundle, it succeeds.
//! Loopback only; every server is bounded in connections and time.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_iot_roots::bundle::{BundleBuilder, Limits, SignerSet, SigningKey};
use aws_iot_roots::store::{HealthCheckError, StoreConfig, TrustStore};
use aws_iot_roots_data_plane_example::{
    pem_certificate, publish, Endpoints, Error, Operation, Published, Trust,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// One request the stand-in served.
#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    authorized: bool,
    body: Vec<u8>,
}

struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(cn: &str) -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        Self {
            issuer: rcgen::CertifiedIssuer::self_signed(p, key).expect("ca"),
        }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server config for `localhost` under this CA.
    fn server(&self) -> rustls::ServerConfig {
        let key = rcgen::KeyPair::generate().expect("key");
        let p = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let leaf = p.signed_by(&key, &self.issuer).expect("leaf");
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config")
    }
}

/// An HTTPS stand-in on loopback: `GET /endpoint` answers `endpoint_address`, `POST
/// /topics/...` answers 200. Each request is sent on the channel. At most 16 connections,
/// for at most 60 s.
fn stand_in(
    config: rustls::ServerConfig,
    endpoint_address: Option<String>,
) -> (u16, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let config = Arc::new(config);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let address = endpoint_address.unwrap_or_else(|| format!("localhost:{port}"));
        let until = Instant::now() + Duration::from_secs(60);
        let mut served = 0;
        while served < 16 && Instant::now() < until {
            let Ok((tcp, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = tcp.set_nonblocking(false);
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let conn = rustls::ServerConnection::new(config.clone()).expect("conn");
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A client that refuses the certificate closes during the handshake: no request.
            let Some(req) = read_request(&mut tls) else {
                continue;
            };
            let body = if req.method == "GET" && req.target.starts_with("/endpoint") {
                format!("{{\"endpointAddress\":\"{address}\"}}")
            } else {
                "{}".to_owned()
            };
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tx.send(req);
        }
    });
    (port, rx)
}

fn read_request(
    tls: &mut rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
) -> Option<Request> {
    let mut reader = BufReader::new(tls);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut authorized) = (0usize, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            // The SDK signs every request (SigV4), whoever the endpoint is.
            "authorization" => authorized = value.trim().starts_with("AWS4-HMAC-SHA256 "),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        authorized,
        body,
    })
}

/// The SDK's configuration as the example's main builds it, with fixed credentials and
/// region (a test must not read the machine's) and `trust`'s HTTPS client.
async fn sdk_config(trust: &Trust) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_iot::config::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "tests",
        ))
        .http_client(trust.https_client())
        .load()
        .await
}

fn endpoints(port: u16) -> Endpoints {
    Endpoints {
        control_plane: Some(format!("https://localhost:{port}")),
    }
}

async fn publish_hello(trust: &Trust, port: u16) -> Result<Published, Error> {
    publish(
        &sdk_config(trust).await,
        &endpoints(port),
        "devices/sensor-1/hello",
        b"hi from rust".to_vec(),
    )
    .await
}

fn pem_file(dir: &std::path::Path, ders: &[CertificateDer<'static>]) -> std::path::PathBuf {
    let pem: String = ders.iter().map(|d| pem_certificate(d)).collect();
    let path = dir.join("test-ca.pem");
    std::fs::write(&path, pem).expect("write");
    path
}

/// Both requests arrived, signed: DescribeEndpoint for iot:Data-ATS, then the publish.
fn assert_served(requests: &mpsc::Receiver<Request>) {
    let describe = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("DescribeEndpoint");
    assert_eq!(describe.method, "GET");
    assert_eq!(describe.target, "/endpoint?endpointType=iot%3AData-ATS");
    assert!(describe.authorized, "{describe:?}");
    let publish = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("Publish");
    assert_eq!(publish.method, "POST");
    assert_eq!(publish.target, "/topics/devices%2Fsensor-1%2Fhello?qos=1");
    assert!(publish.authorized, "{publish:?}");
    assert_eq!(publish.body, b"hi from rust");
}

#[tokio::test]
async fn with_compiled_in_roots_only_the_client_refuses_the_test_ca_with_unknown_issuer() {
    let ca = Ca::new("data-plane stand-in CA");
    let (port, requests) = stand_in(ca.server(), None);
    let trust = Trust::compiled_in();
    assert_eq!(trust.len(), aws_iot_roots::ROOTS.len());
    match publish_hello(&trust, port).await {
        Err(Error::UnknownIssuer { operation }) => {
            assert_eq!(operation, Operation::DescribeEndpoint)
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
    assert!(
        requests.try_recv().is_err(),
        "no request crosses an untrusted connection"
    );
}

#[tokio::test]
async fn with_the_test_ca_as_an_extra_anchor_describe_endpoint_and_publish_succeed() {
    let ca = Ca::new("data-plane stand-in CA");
    let (port, requests) = stand_in(ca.server(), None);
    let dir = tempfile::tempdir().expect("tmp");
    let trust = Trust::compiled_in()
        .with_extra_anchors(&pem_file(dir.path(), &[ca.der()]))
        .expect("anchors");
    assert_eq!(trust.len(), aws_iot_roots::ROOTS.len() + 1);
    let done = publish_hello(&trust, port).await.expect("publish");
    assert_eq!(done.endpoint, format!("localhost:{port}"));
    assert_served(&requests);
}

#[tokio::test]
async fn with_the_test_ca_in_a_committed_bundle_describe_endpoint_and_publish_succeed() {
    let ca = Ca::new("data-plane stand-in CA");
    let (port, requests) = stand_in(ca.server(), None);
    let dir = tempfile::tempdir().expect("tmp");
    let key = SigningKey::generate();
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    // Fixed times (the stand-in's certificates are valid from now on; the bundle's window is
    // what the store checks).
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_798_848_000));
    let mut bundle = BundleBuilder::new(
        "acme-prod",
        2,
        UnixTime::since_unix_epoch(Duration::from_secs(1_798_761_600)),
        UnixTime::since_unix_epoch(Duration::from_secs(1_830_297_600)),
        set.clone(),
    )
    .root(ca.der(), Some("data-plane stand-in CA".into()))
    .build(&Limits::default())
    .expect("bundle");
    bundle.sign(&key).expect("sign");
    {
        let mut store =
            TrustStore::open(dir.path(), StoreConfig::new("acme-prod", set.clone())).expect("open");
        store.stage(&bundle.to_bytes(), now).expect("stage");
        let mut pass =
            |_: &[rustls_pki_types::TrustAnchor<'static>]| Ok::<(), HealthCheckError>(());
        store.health_check(&mut pass, now).expect("check");
        store.commit(now).expect("commit");
    }
    let trust = Trust::committed(dir.path(), StoreConfig::new("acme-prod", set)).expect("trust");
    assert_eq!(
        trust.len(),
        1,
        "the bundle's roots, not the compiled-in ones"
    );
    publish_hello(&trust, port).await.expect("publish");
    assert_served(&requests);
}

#[tokio::test]
async fn a_data_endpoint_whose_chain_is_not_trusted_fails_the_publish_with_unknown_issuer() {
    // The control plane's CA is trusted; the data endpoint it names is under another CA.
    let (control, data) = (Ca::new("control plane CA"), Ca::new("data plane CA"));
    let (data_port, data_requests) = stand_in(data.server(), None);
    let (port, requests) = stand_in(control.server(), Some(format!("localhost:{data_port}")));
    let dir = tempfile::tempdir().expect("tmp");
    let trust = Trust::compiled_in()
        .with_extra_anchors(&pem_file(dir.path(), &[control.der()]))
        .expect("anchors");
    match publish_hello(&trust, port).await {
        Err(Error::UnknownIssuer { operation }) => assert_eq!(operation, Operation::Publish),
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
    assert!(
        requests.recv_timeout(Duration::from_secs(5)).is_ok(),
        "DescribeEndpoint ran"
    );
    assert!(data_requests.try_recv().is_err(), "nothing was published");
}

#[test]
fn an_extra_anchor_file_that_is_missing_or_holds_no_certificate_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("missing.pem");
    match Trust::compiled_in().with_extra_anchors(&missing) {
        Err(Error::Anchors { file, .. }) => assert_eq!(file, missing.display().to_string()),
        other => panic!("{other:?}"),
    }
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    match Trust::compiled_in().with_extra_anchors(&empty) {
        Err(Error::Anchors { file, reason }) => {
            assert_eq!(file, empty.display().to_string());
            let library = aws_iot_roots::client::anchors_from_pem(b"not a certificate\n")
                .expect_err("no certificate");
            assert_eq!(reason, library.to_string());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_store_without_a_committed_bundle_is_named_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = SigningKey::generate();
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    drop(TrustStore::open(dir.path(), StoreConfig::new("acme-prod", set.clone())).expect("open"));
    match Trust::committed(dir.path(), StoreConfig::new("acme-prod", set)) {
        Err(Error::Store { dir: d, reason }) => {
            assert_eq!(d, dir.path().display().to_string());
            assert!(reason.starts_with("no committed bundle"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_binary_names_a_missing_extra_anchor_file_and_fails() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_data-plane-publish"))
        .args(["--extra-ca", "/nonexistent/ca.pem", "t", "m"])
        .env_clear()
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: /nonexistent/ca.pem: "), "{err}");
}

#[tokio::test]
async fn an_empty_endpoint_address_is_refused_before_any_publish() {
    let ca = Ca::new("data-plane stand-in CA");
    let (port, requests) = stand_in(ca.server(), Some(String::new()));
    let dir = tempfile::tempdir().expect("tmp");
    let trust = Trust::compiled_in()
        .with_extra_anchors(&pem_file(dir.path(), &[ca.der()]))
        .expect("anchors");
    match publish_hello(&trust, port).await {
        Err(Error::NoEndpointAddress) => {}
        other => panic!("expected NoEndpointAddress, got {other:?}"),
    }
    let describe = requests
        .recv_timeout(Duration::from_secs(5))
        .expect("describe");
    assert_eq!(describe.method, "GET");
    assert!(requests.try_recv().is_err(), "nothing was published");
}
