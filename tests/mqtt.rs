//! Connecting the way users do, against a real mosquitto on loopback: rustls + rumqttc with a
//! client certificate, UnknownIssuer with its diagnostic, a committed bundle that fixes it,
//! ALPN `x-amzn-mqtt-ca`, and the AWS IoT Jobs flow of examples/fleet_agent.rs.
#![cfg(all(
    feature = "rumqttc",
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

#[allow(dead_code)]
#[path = "../examples/fleet_agent.rs"]
mod agent;
mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use aws_iot_roots::bundle::{BundleBuilder, Limits};
use aws_iot_roots::client::{
    anchors_from_pem, client_config, mqtt_options, ClientAuth, Diagnostics, Endpoint, Protocol,
    ALPN_MQTT_CLIENT_CERT,
};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use base64::Engine as _;
use common::bundles::*;
use common::jobs_service::JobsService;
use common::mosquitto::{Mosquitto, Pki};
use rumqttc::{Client, Connection, Event, Packet, QoS};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connect(
    port: u16,
    roots: RootCertStore,
    auth: ClientAuth,
    id: &str,
) -> (Client, Connection, Diagnostics) {
    let (config, diagnostics) =
        client_config(provider(), roots, Protocol::Mqtt, 8883, Some(auth)).expect("config");
    let endpoint = Endpoint::parse(&format!("localhost:{port}")).expect("endpoint");
    let mut options = mqtt_options(&endpoint, id, config);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, connection) = Client::new(options, 16);
    (client, connection, diagnostics)
}

/// Waits for the first publish on `topic`, failing on a connection error or after 10 s.
fn next_publish(conn: &mut Connection, topic: &str) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) if p.topic == topic => {
                return Ok(p.payload.to_vec())
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => return Err(e.to_string()),
        }
    }
    Err(format!("no message on {topic} within 10 s"))
}

/// The plain-MQTT (8883, no ALPN) configuration trusting the test server CA.
fn config_8883(pki: &Pki) -> rustls::ClientConfig {
    let (config, _) = client_config(
        provider(),
        server_ca_roots(pki),
        Protocol::Mqtt,
        8883,
        Some(pki.client_auth()),
    )
    .expect("config");
    config
}

fn server_ca_roots(pki: &Pki) -> RootCertStore {
    RootCertStore {
        roots: anchors_from_pem(pki.server_ca_pem().as_bytes()).expect("anchors"),
    }
}

fn round_trip(port: u16, roots: RootCertStore, pki: &Pki, id: &str) -> Result<(), String> {
    let (client, mut conn, diagnostics) = connect(port, roots, pki.client_auth(), id);
    let topic = format!("test/{id}");
    client
        .subscribe(&topic, QoS::AtLeastOnce)
        .map_err(|e| e.to_string())?;
    client
        .publish(
            &topic,
            QoS::AtLeastOnce,
            false,
            b"hello from aws-iot-roots".to_vec(),
        )
        .map_err(|e| e.to_string())?;
    let got = next_publish(&mut conn, &topic).map_err(|e| match diagnostics.unknown_issuer() {
        Some(d) => format!("{e}: {d}"),
        None => e,
    })?;
    assert_eq!(got, b"hello from aws-iot-roots");
    Ok(())
}

#[test]
fn with_a_client_certificate_a_client_connects_subscribes_publishes_and_receives() {
    let pki = Pki::new();
    let Some(broker) = Mosquitto::start(&pki) else {
        return;
    };
    round_trip(broker.tls_port, server_ca_roots(&pki), &pki, "c1").expect("round trip");
}

#[test]
fn without_a_client_certificate_the_broker_refuses() {
    let pki = Pki::new();
    let Some(broker) = Mosquitto::start(&pki) else {
        return;
    };
    // The control: the broker is up and takes a certificate from its client CA.
    round_trip(broker.tls_port, server_ca_roots(&pki), &pki, "control").expect("control");
    // A certificate from another CA than the broker's client CA.
    let other = Pki::new();
    let (client, mut conn, _) = connect(
        broker.tls_port,
        server_ca_roots(&pki),
        other.client_auth(),
        "stranger",
    );
    client.subscribe("x", QoS::AtMostOnce).expect("queue");
    let err = next_publish(&mut conn, "x").expect_err("refused");
    // Refused by the broker, not merely silent.
    assert!(!err.contains("within 10 s"), "{err}");
}

#[test]
fn compiled_in_roots_fail_with_unknown_issuer_and_the_diagnostic_names_the_issuer() {
    let pki = Pki::new();
    let Some(broker) = Mosquitto::start(&pki) else {
        return;
    };
    let (client, mut conn, diagnostics) = connect(
        broker.tls_port,
        aws_iot_roots::root_cert_store(),
        pki.client_auth(),
        "c2",
    );
    client.subscribe("x", QoS::AtMostOnce).expect("queue");
    let err = next_publish(&mut conn, "x").expect_err("must not connect");
    assert!(err.contains("UnknownIssuer"), "{err}");
    let d = diagnostics.unknown_issuer().expect("diagnosed");
    assert!(
        d.presented_issuer
            .contains("CN=aws-iot-roots test server CA"),
        "{}",
        d.presented_issuer
    );
    assert!(
        d.presented_issuer.contains("O=aws-iot-roots tests"),
        "{}",
        d.presented_issuer
    );
    assert!(!d.looks_legacy);
    assert!(d.to_string().contains("aws-iot-roots test server CA"));
}

#[test]
fn after_a_committed_bundle_with_the_test_ca_the_same_client_connects() {
    let pki = Pki::new();
    let Some(broker) = Mosquitto::start(&pki) else {
        return;
    };
    let keys = Keys::new(1);
    let dir = tempfile::tempdir().expect("tmp");
    let mut store =
        TrustStore::open(dir.path(), StoreConfig::new(FLEET, keys.set(1))).expect("store");
    // The control: the broker is up and verifies with its own CA.
    round_trip(broker.tls_port, server_ca_roots(&pki), &pki, "c3-control").expect("control");
    let err = round_trip(broker.tls_port, store.root_cert_store(), &pki, "c3")
        .expect_err("compiled-in roots must fail");
    assert!(err.contains("UnknownIssuer"), "{err}");
    let mut bundle = BundleBuilder::new(FLEET, 1, at(ISSUED), at(EXPIRES), keys.set(1))
        .root(pki.server_ca.der().clone(), Some("test server CA".into()))
        .root(root_der("Amazon Root CA 1").into(), None)
        .build(&Limits::default())
        .expect("bundle");
    bundle.sign(&keys.keys[0]).expect("sign");
    let auth = pki.client_auth();
    let mut check = aws_iot_roots::store::TlsHandshakeCheck::new(
        "localhost",
        broker.tls_port,
        "localhost",
        provider(),
    )
    .expect("check")
    .with_client_auth(auth.0, auth.1);
    store.stage(&bundle.to_bytes(), at(CLOCK)).expect("stage");
    store
        .health_check(&mut check, at(CLOCK))
        .expect("health check against mosquitto");
    store.commit(at(CLOCK)).expect("commit");
    drop(store);
    let store = TrustStore::open(dir.path(), StoreConfig::new(FLEET, keys.set(1))).expect("reopen");
    round_trip(broker.tls_port, store.root_cert_store(), &pki, "c3")
        .expect("connects after the update");
}

/// mosquitto 2.0 has no listener-side ALPN (only `bridge_alpn`), so this front plays AWS IoT
/// Core's port 443: TLS with the test chain, client certificates required, ALPN
/// `x-amzn-mqtt-ca` required, then the MQTT bytes forwarded to mosquitto's plain listener.
fn alpn_front(pki: &Pki, mosquitto_plain: u16) -> (u16, mpsc::Receiver<Option<Vec<u8>>>) {
    let client_roots = RootCertStore {
        roots: anchors_from_pem(pki.client_ca_pem.as_bytes()).expect("client CA"),
    };
    let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots),
        provider(),
    )
    .build()
    .expect("client verifier");
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(
            pki.server_chain.clone(),
            PrivateKeyDer::Pkcs8(pki.server_key_der.clone().into()),
        )
        .expect("server config");
    config.alpn_protocols = vec![ALPN_MQTT_CLIENT_CERT.to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (seen_tx, seen_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut tcp) = stream else { continue };
            let config = config.clone();
            let seen_tx = seen_tx.clone();
            std::thread::spawn(move || {
                let Ok(mut conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        let _ = seen_tx.send(None); // refused: no ALPN overlap, or no client cert
                        return;
                    }
                }
                let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
                let _ = seen_tx.send(alpn.clone());
                // rustls completes a handshake in which the client offered no ALPN at all;
                // AWS IoT Core on 443 does not serve such a client, so neither does the front.
                if alpn.as_deref() != Some(ALPN_MQTT_CLIENT_CERT) {
                    conn.send_close_notify();
                    let _ = conn.complete_io(&mut tcp);
                    return;
                }
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", mosquitto_plain)) else {
                    return;
                };
                proxy(rustls::StreamOwned::new(conn, tcp), upstream);
            });
        }
    });
    (port, seen_rx)
}

fn proxy(mut tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>, mut up: TcpStream) {
    let _ = tls.sock.set_read_timeout(Some(Duration::from_millis(20)));
    let _ = up.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if up.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
        match up.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn the_helper_negotiates_x_amzn_mqtt_ca_for_port_443() {
    let pki = Pki::new();
    let Some(broker) = Mosquitto::start(&pki) else {
        return;
    };
    let (front, seen) = alpn_front(&pki, broker.plain_port);
    // The config for MQTT on 443 offers x-amzn-mqtt-ca; the transport goes to the front.
    let (config, _) = client_config(
        provider(),
        server_ca_roots(&pki),
        Protocol::Mqtt,
        443,
        Some(pki.client_auth()),
    )
    .expect("config");
    assert_eq!(config.alpn_protocols, vec![b"x-amzn-mqtt-ca".to_vec()]);
    let endpoint = Endpoint::parse(&format!("localhost:{front}")).expect("endpoint");
    let (client, mut conn) = Client::new(mqtt_options(&endpoint, "alpn-1", config), 16);
    client.subscribe("alpn/t", QoS::AtLeastOnce).expect("sub");
    client
        .publish("alpn/t", QoS::AtLeastOnce, false, b"via 443".to_vec())
        .expect("pub");
    assert_eq!(
        next_publish(&mut conn, "alpn/t").expect("round trip through the ALPN front"),
        b"via 443"
    );
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(5))
            .expect("front saw it"),
        Some(b"x-amzn-mqtt-ca".to_vec())
    );
    // The 8883 configuration offers no ALPN, and the 443 front refuses it, as AWS does.
    let plain = config_8883(&pki);
    assert!(plain.alpn_protocols.is_empty());
    let (client, mut conn) = Client::new(mqtt_options(&endpoint, "alpn-2", plain), 16);
    client.subscribe("alpn/t", QoS::AtMostOnce).expect("sub");
    // The ALPN client above is the control; this one is refused at the handshake.
    let err = next_publish(&mut conn, "alpn/t").expect_err("refused without ALPN");
    assert!(!err.contains("within 10 s"), "{err}");
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(5))
            .expect("front saw it"),
        None
    );
}

// The AWS IoT Jobs flow: this test plays the Jobs service on mosquitto.

struct Device {
    keys: Keys,
    dir: tempfile::TempDir,
}

fn job_document(bundle: &[u8]) -> serde_json::Value {
    serde_json::json!({ "operation": aws_iot_roots::jobs::OPERATION, "bundle": base64::engine::general_purpose::STANDARD.encode(bundle) })
}

const THING: &str = "device-1";

fn agent_for(pki: &Pki, broker: &Mosquitto, device: &Device) -> agent::Agent {
    agent::Agent {
        thing: THING.into(),
        endpoint: Endpoint::parse(&format!("localhost:{}", broker.tls_port)).expect("endpoint"),
        provider: provider(),
        client_auth: pki.client_auth(),
        store_dir: device.dir.path().to_path_buf(),
        store_config: StoreConfig::new(FLEET, device.keys.set(1)),
        // The device reaches the test broker through its application anchor (a private CA).
        extra_anchors: anchors_from_pem(pki.server_ca_pem().as_bytes()).expect("anchors"),
        health_target: Endpoint::parse(&format!("localhost:{}", broker.tls_port))
            .expect("endpoint"),
        clock: || at(CLOCK),
        max_reconnects: Some(3),
        deadline_check: agent::DEADLINE_CHECK,
        stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    }
}

/// The Jobs service double on the test broker.
fn jobs_service(pki: &Pki, broker: &Mosquitto) -> JobsService {
    let (client, conn, _) = connect(
        broker.tls_port,
        server_ca_roots(pki),
        pki.client_auth(),
        "jobs-service",
    );
    JobsService::start(client, conn)
}

/// Runs the agent until it finished `jobs` jobs (bounded: it gives up after 3 reconnects).
fn spawn_agent(
    a: agent::Agent,
    jobs: usize,
) -> std::thread::JoinHandle<Result<Vec<agent::Report>, String>> {
    std::thread::spawn(move || a.run(Some(jobs)).map_err(|e| e.to_string()))
}

/// Offers one job to the agent and returns the update it sent (the service accepted it).
fn run_job(
    pki: &Pki,
    broker: &Mosquitto,
    device: &Device,
    job_id: &str,
    document: serde_json::Value,
) -> serde_json::Value {
    let service = jobs_service(pki, broker);
    service.queue(THING, job_id, document);
    let handle = spawn_agent(agent_for(pki, broker, device), 1);
    let update = service
        .next_update(Duration::from_secs(30))
        .expect("the agent reports");
    assert!(update.accepted, "{update:?}");
    assert_eq!(update.job_id, job_id);
    let reports = handle.join().expect("agent thread").expect("agent run");
    assert_eq!(reports.len(), 1);
    assert_eq!(
        service.status(THING, job_id).as_deref(),
        update.body["status"].as_str()
    );
    update.body
}

fn signed_bundle(device: &Device, version: u64, ders: &[CertificateDer<'static>]) -> Vec<u8> {
    let mut b = BundleBuilder::new(FLEET, version, at(ISSUED), at(EXPIRES), device.keys.set(1));
    for d in ders {
        b = b.root(d.clone(), None);
    }
    let mut bundle = b.build(&Limits::default()).expect("bundle");
    bundle.sign(&device.keys.keys[0]).expect("sign");
    bundle.to_bytes()
}

fn active_version(dir: &Path, device: &Device) -> Option<u64> {
    let store = TrustStore::open(dir, StoreConfig::new(FLEET, device.keys.set(1))).expect("open");
    store.active_bundle().map(|b| b.payload().version)
}

/// Version 2 with the broker's CA (so the health check passes) and Amazon Root CA 3.
fn good_bundle(pki: &Pki, device: &Device) -> Vec<u8> {
    let test_ca: CertificateDer<'static> = pki.server_ca.der().clone();
    signed_bundle(device, 2, &[test_ca, root_der("Amazon Root CA 3").into()])
}

/// A PKI, a broker (or `None`, skipped with a reason, when mosquitto is missing outside CI)
/// and a fresh device.
fn jobs_setup() -> Option<(Pki, Mosquitto, Device)> {
    let pki = Pki::new();
    let broker = Mosquitto::start(&pki)?;
    let device = Device {
        keys: Keys::new(1),
        dir: tempfile::tempdir().expect("tmp"),
    };
    Some((pki, broker, device))
}

#[test]
fn aws_iot_jobs_flow_end_to_end() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let test_ca: CertificateDer<'static> = pki.server_ca.der().clone();

    // A good bundle: SUCCEEDED, and active after a restart.
    let good = signed_bundle(
        &device,
        2,
        &[test_ca.clone(), root_der("Amazon Root CA 3").into()],
    );
    let update = run_job(&pki, &broker, &device, "roots-v2", job_document(&good));
    assert_eq!(update["status"], "SUCCEEDED", "{update}");
    assert_eq!(update["statusDetails"]["version"], "2");
    assert_eq!(update["statusDetails"]["generation"], "1");
    assert_eq!(
        update["expectedVersion"], 2,
        "start-next made it IN_PROGRESS (version 2)"
    );
    assert_eq!(active_version(device.dir.path(), &device), Some(2));

    // A tampered bundle: FAILED with the reason, active set unchanged.
    let mut v: serde_json::Value =
        serde_json::from_slice(&signed_bundle(&device, 3, std::slice::from_ref(&test_ca)))
            .expect("json");
    v["certificates"][0] = serde_json::json!(
        base64::engine::general_purpose::STANDARD.encode(root_der("Amazon Root CA 1"))
    );
    let update = run_job(
        &pki,
        &broker,
        &device,
        "roots-v3-tampered",
        job_document(&serde_json::to_vec(&v).expect("json")),
    );
    assert_eq!(update["status"], "FAILED", "{update}");
    assert_eq!(
        update["statusDetails"]["reason"], "refused:roots",
        "{update}"
    );
    let detail = update["statusDetails"]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("not listed in the signed payload"),
        "{detail}"
    );
    assert_eq!(active_version(device.dir.path(), &device), Some(2));

    // Signed and valid, but without the broker's CA: the health check fails; FAILED.
    let no_ca = signed_bundle(
        &device,
        4,
        &[
            root_der("Amazon Root CA 1").into(),
            root_der("Amazon Root CA 3").into(),
        ],
    );
    let update = run_job(
        &pki,
        &broker,
        &device,
        "roots-v4-unhealthy",
        job_document(&no_ca),
    );
    assert_eq!(update["status"], "FAILED", "{update}");
    assert_eq!(
        update["statusDetails"]["reason"], "health-check-failed",
        "{update}"
    );
    let detail = update["statusDetails"]["detail"].as_str().expect("detail");
    assert!(detail.contains("UnknownIssuer"), "{detail}");
    assert_eq!(active_version(device.dir.path(), &device), Some(2));
    let store = TrustStore::open(
        device.dir.path(),
        StoreConfig::new(FLEET, device.keys.set(1)),
    )
    .expect("open");
    assert_eq!(store.staged(), None, "not left staged");
    let anchors: Vec<TrustAnchor<'static>> = store.signed_anchors();
    assert_eq!(anchors.len(), 2);
}

#[test]
fn duplicate_notifications_apply_a_job_once_and_the_next_job_follows() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let v2 = good_bundle(&pki, &device);
    let service = jobs_service(&pki, &broker);
    service.queue(THING, "roots-v2", job_document(&v2));
    let handle = spawn_agent(agent_for(&pki, &broker, &device), 2);
    // The service repeats itself (as QoS 1 redelivery and reconnects make it).
    for _ in 0..3 {
        service.notify_again(THING);
    }
    let first = service
        .next_update(Duration::from_secs(30))
        .expect("update");
    assert_eq!((first.job_id.as_str(), first.accepted), ("roots-v2", true));
    // The same bundle again, as a second job: already active, SUCCEEDED.
    service.queue(THING, "roots-v2-again", job_document(&v2));
    let second = service
        .next_update(Duration::from_secs(30))
        .expect("update");
    assert_eq!(second.job_id, "roots-v2-again");
    assert_eq!(
        second.body["statusDetails"]["reason"], "already-active",
        "{:?}",
        second.body
    );
    let reports = handle.join().expect("agent").expect("run");
    assert_eq!(
        reports
            .iter()
            .map(|r| r.job_id.as_str())
            .collect::<Vec<_>>(),
        ["roots-v2", "roots-v2-again"]
    );
    assert_eq!(
        service
            .next_update(Duration::from_millis(500))
            .map(|u| u.job_id),
        None,
        "one update per job"
    );
    assert_eq!(active_version(device.dir.path(), &device), Some(2));
}

#[test]
fn a_rejected_update_is_settled_with_the_service_and_sent_again() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let v2 = good_bundle(&pki, &device);
    let service = jobs_service(&pki, &broker);
    service.reject_next_update("VersionMismatch");
    service.queue(THING, "roots-v2", job_document(&v2));
    let handle = spawn_agent(agent_for(&pki, &broker, &device), 1);
    let refused = service
        .next_update(Duration::from_secs(30))
        .expect("update");
    assert!(!refused.accepted);
    let again = service
        .next_update(Duration::from_secs(30))
        .expect("sent again");
    assert!(again.accepted, "{again:?}");
    assert_eq!(again.body["status"], "SUCCEEDED");
    handle.join().expect("agent").expect("run");
    assert_eq!(
        service.status(THING, "roots-v2").as_deref(),
        Some("SUCCEEDED")
    );
}

/// mqtt_options takes AWS IoT's message limit, not rumqttc's 10 KB default: the "huge" case
/// below (a 40 KB job document) dropped every connection before.
#[test]
fn mqtt_options_carry_aws_iot_s_message_limit() {
    let pki = Pki::new();
    let config = config_8883(&pki);
    let endpoint = Endpoint::parse("localhost:8883").expect("endpoint");
    let options = mqtt_options(&endpoint, "id", config);
    let max = aws_iot_roots::client::AWS_IOT_MAX_PAYLOAD_BYTES + 1024;
    assert_eq!(options.max_packet_size(), max);
}

#[test]
fn a_job_document_it_does_not_understand_is_rejected_and_changes_nothing() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    for (job, doc, reason) in [
        (
            "firmware",
            serde_json::json!({ "operation": "firmware.update", "bundle": "AA==" }),
            "unknown-operation",
        ),
        (
            "garbled",
            serde_json::json!({ "operation": aws_iot_roots::jobs::OPERATION, "bundle": "%%%" }),
            "bundle-not-base64",
        ),
        (
            "huge",
            serde_json::json!({ "operation": aws_iot_roots::jobs::OPERATION, "bundle": "A".repeat(40_000) }),
            "document-too-large",
        ),
    ] {
        let update = run_job(&pki, &broker, &device, job, doc);
        assert_eq!(update["status"], "REJECTED", "{job}: {update}");
        assert_eq!(update["statusDetails"]["reason"], reason, "{job}");
    }
    assert_eq!(active_version(device.dir.path(), &device), None);
}

/// An HTTPS server on loopback (the chain and key of `pki`'s server) answering `connections`
/// GETs with `body`, then exiting: where a `bundleUrl` points. Bounded: each connection has a
/// 10 s read timeout.
fn https_server(pki: &Pki, body: Vec<u8>, connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                pki.server_chain.clone(),
                PrivateKeyDer::try_from(pki.server_key_der.clone()).expect("key"),
            )
            .expect("server config"),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let conn = rustls::ServerConnection::new(config.clone()).expect("conn");
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if request.is_empty() {
                continue; // the client refused the handshake
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(head.as_bytes());
            let _ = tls.write_all(&body);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

fn url_document(url: &str) -> serde_json::Value {
    serde_json::json!({ "operation": aws_iot_roots::jobs::OPERATION, "bundleUrl": url })
}

/// A bundle too large for a job document, by URL: downloaded over HTTPS trusting only the
/// device's active roots, capped at the verifier's limit before and while reading.
#[test]
fn a_bundle_url_is_downloaded_trusting_only_the_active_roots() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    // v2 (inline) brings the test CA, which the download server's certificate chains to.
    let update = run_job(
        &pki,
        &broker,
        &device,
        "roots-v2",
        job_document(&good_bundle(&pki, &device)),
    );
    assert_eq!(update["status"], "SUCCEEDED", "{update}");

    let test_ca: CertificateDer<'static> = pki.server_ca.der().clone();
    let v3 = signed_bundle(&device, 3, &[test_ca, root_der("Amazon Root CA 1").into()]);
    let port = https_server(&pki, v3, 1);
    let url = format!("https://localhost:{port}/roots/v3.json?X-Amz-Signature=abc");
    let update = run_job(&pki, &broker, &device, "roots-v3-url", url_document(&url));
    assert_eq!(update["status"], "SUCCEEDED", "{update}");
    assert_eq!(update["statusDetails"]["version"], "3");
    assert_eq!(active_version(device.dir.path(), &device), Some(3));

    // Larger than the verifier accepts: refused from the declared length, nothing applied.
    let huge = vec![b' '; aws_iot_roots::bundle::MAX_BUNDLE_BYTES + 1];
    let port = https_server(&pki, huge, 1);
    let update = run_job(
        &pki,
        &broker,
        &device,
        "roots-huge",
        url_document(&format!("https://localhost:{port}/huge.json")),
    );
    assert_eq!(update["status"], "FAILED", "{update}");
    assert_eq!(update["statusDetails"]["reason"], "download-failed");
    let detail = update["statusDetails"]["detail"].as_str().expect("detail");
    let limit = format!("the limit is {}", aws_iot_roots::bundle::MAX_BUNDLE_BYTES);
    assert!(detail.contains(&limit), "{detail}");

    // A server whose certificate the active roots do not vouch for: no download.
    let stranger = Pki::new();
    let port = https_server(&stranger, b"{}".to_vec(), 1);
    let update = run_job(
        &pki,
        &broker,
        &device,
        "roots-stranger",
        url_document(&format!("https://localhost:{port}/v4.json")),
    );
    assert_eq!(update["status"], "FAILED", "{update}");
    assert_eq!(update["statusDetails"]["reason"], "download-failed");
    let detail = update["statusDetails"]["detail"].as_str().expect("detail");
    assert!(
        detail.to_lowercase().contains("unknownissuer")
            || detail.contains("UnknownIssuer")
            || detail.contains("certificate"),
        "{detail}"
    );
    assert_eq!(active_version(device.dir.path(), &device), Some(3));
}

/// Broker restarts, idle and mid-job: the agent reconnects with backoff, asks again, and every
/// job ends with its true status (the second is the same bundle again: already active).
#[test]
fn the_agent_rides_out_broker_restarts_while_idle_and_mid_job() {
    let Some((pki, mut broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    let mut a = agent_for(&pki, &broker, &device);
    a.max_reconnects = Some(30);
    let handle = spawn_agent(a, 2);
    // Connected and idle: it reported its shadow.
    service
        .shadow_where(THING, |s| s["source"] == "compiled-in")
        .expect("the agent connected");
    broker.restart();
    service.queue(THING, "roots-v2", job_document(&good_bundle(&pki, &device)));
    let first = accepted_update(&service, "roots-v2");
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    // Mid-job: the broker goes away right after the job is queued.
    service.queue(
        THING,
        "roots-v2-again",
        job_document(&good_bundle(&pki, &device)),
    );
    broker.restart();
    let second = accepted_update(&service, "roots-v2-again");
    assert_eq!(second["status"], "SUCCEEDED", "{second}");
    assert_eq!(
        second["statusDetails"]["reason"], "already-active",
        "{second}"
    );
    let reports = handle.join().expect("agent").expect("run");
    assert_eq!(reports.len(), 2);
    assert_eq!(active_version(device.dir.path(), &device), Some(2));
    assert_eq!(
        service.status(THING, "roots-v2").as_deref(),
        Some("SUCCEEDED")
    );
    assert_eq!(
        service.status(THING, "roots-v2-again").as_deref(),
        Some("SUCCEEDED")
    );
}

/// A committed bundle moves the earliest deadline; the shadow published after the job says
/// so, and the deadline check that follows publishes nothing more (it once published the same
/// state again, one message per device per rollout).
#[test]
fn after_a_job_the_deadline_check_does_not_publish_the_same_shadow_again() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    service.queue(THING, "roots-v2", job_document(&good_bundle(&pki, &device)));
    let mut a = agent_for(&pki, &broker, &device);
    a.deadline_check = Duration::from_millis(100);
    let stop = a.stop.clone();
    let handle = std::thread::spawn(move || a.run(None).map_err(|e| e.to_string()));
    let update = accepted_update(&service, "roots-v2");
    assert_eq!(update["status"], "SUCCEEDED", "{update}");
    let after_job = service
        .shadow_where(THING, |s| s["version"] == 2)
        .expect("the shadow after the job");
    // Many deadline checks later:
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reports = handle.join().expect("agent").expect("run");
    assert_eq!(reports.len(), 1);
    assert_eq!(
        service.shadow_publishes(THING),
        2,
        "on connect, after the job"
    );
    assert_eq!(after_job["version"], 2);
}

/// Forwards every connection to `port_from` on to `port_to` (both loopback), from `after` on,
/// for 60 s at most.
fn forward_later(port_from: u16, port_to: u16, after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let listener = TcpListener::bind(("127.0.0.1", port_from)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            let Ok((down, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = down.set_nonblocking(false);
            let Ok(up) = TcpStream::connect(("127.0.0.1", port_to)) else {
                continue;
            };
            for (mut from, mut to) in [
                (
                    down.try_clone().expect("clone"),
                    up.try_clone().expect("clone"),
                ),
                (up, down),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

/// The agent's health check target, on a port where nothing listens until `forward_after`
/// (never with `None`), then forwarded to the broker.
fn agent_checking_a_late_endpoint(
    pki: &Pki,
    broker: &Mosquitto,
    device: &Device,
    forward_after: Option<Duration>,
) -> agent::Agent {
    let port = common::mosquitto::free_port();
    if let Some(after) = forward_after {
        forward_later(port, broker.tls_port, after);
    }
    let mut a = agent_for(pki, broker, device);
    a.health_target = Endpoint::parse(&format!("localhost:{port}")).expect("endpoint");
    a
}

/// A health check that cannot run (nothing answers yet: the network, not the bundle) is
/// tried again, and the job succeeds once the endpoint answers. Without the retry, the first
/// try's failure would be the job's status.
#[test]
fn a_health_check_that_cannot_run_is_tried_again_and_the_job_succeeds_once_it_can() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    service.queue(THING, "roots-v2", job_document(&good_bundle(&pki, &device)));
    let a = agent_checking_a_late_endpoint(&pki, &broker, &device, Some(Duration::from_secs(2)));
    let handle = spawn_agent(a, 1);
    let update = accepted_update(&service, "roots-v2");
    assert_eq!(update["status"], "SUCCEEDED", "{update}");
    assert_eq!(update["statusDetails"]["reason"], "applied", "{update}");
    handle.join().expect("agent").expect("run");
    assert_eq!(active_version(device.dir.path(), &device), Some(2));
}

/// A health check that never runs is reported FAILED after the agent's budget of tries,
/// saying how many; the bundle stays staged and the device keeps its roots.
#[test]
fn a_health_check_that_never_runs_fails_the_job_after_its_budget_of_tries() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    service.queue(THING, "roots-v2", job_document(&good_bundle(&pki, &device)));
    let a = agent_checking_a_late_endpoint(&pki, &broker, &device, None);
    let handle = spawn_agent(a, 1);
    let update = accepted_update(&service, "roots-v2");
    assert_eq!(update["status"], "FAILED", "{update}");
    let details = &update["statusDetails"];
    assert_eq!(details["reason"], "health-check-unavailable", "{update}");
    let detail = details["detail"].as_str().expect("detail");
    let tries = format!("(tried {} times)", agent::HEALTH_CHECK_ATTEMPTS);
    assert!(detail.ends_with(&tries), "{detail}");
    handle.join().expect("agent").expect("run");
    let store = TrustStore::open(
        device.dir.path(),
        StoreConfig::new(FLEET, device.keys.set(1)),
    )
    .expect("open");
    assert_eq!(store.active_bundle().map(|b| b.payload().version), None);
    assert_eq!(store.staged().map(|s| s.version), Some(2));
}

/// The first update for `job_id` the service accepted, within 60 s (refused or lost ones,
/// around a restart, are skipped).
fn accepted_update(service: &JobsService, job_id: &str) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if let Some(u) = service.next_update(Duration::from_secs(1)) {
            if u.job_id == job_id && u.accepted {
                return u.body;
            }
        }
    }
    panic!("no accepted update for {job_id} within 60 s")
}

#[test]
fn settings_come_from_the_file_and_the_environment_and_every_missing_one_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("agent.toml");
    std::fs::write(
        &file,
        "endpoint = \"abc-ats.iot.eu-central-1.amazonaws.com:8883\"\nthing_name = \"d1\"\n",
    )
    .expect("write");
    let env = |k: &str| (k == "THING_NAME").then(|| "from-env".to_owned());
    assert_eq!(
        agent::settings(Some(&file), env),
        Err(
            "missing settings: cert (CERT), key (KEY), state_dir (STATE_DIR), fleet (FLEET), \
             signers (SIGNERS)"
                .into()
        )
    );
    let all = |k: &str| match k {
        "THING_NAME" => Some("from-env".to_owned()),
        "CERT" | "KEY" | "STATE_DIR" | "FLEET" | "SIGNERS" => Some(k.to_lowercase()),
        _ => None,
    };
    let s = agent::settings(Some(&file), all).expect("complete");
    assert_eq!(
        s["thing_name"], "from-env",
        "the environment overrides the file"
    );
    assert_eq!(s["endpoint"], "abc-ats.iot.eu-central-1.amazonaws.com:8883");
    assert!(!s.contains_key("extra_ca"));
    std::fs::write(&file, "endpont = \"x\"\n").expect("write");
    assert_eq!(
        agent::settings(Some(&file), all),
        Err(format!("{}: unknown setting \"endpont\"", file.display()))
    );
    std::fs::write(&file, "fleet = 7\n").expect("write");
    assert_eq!(
        agent::settings(Some(&file), all),
        Err(format!("{}: fleet must be a string", file.display()))
    );
}

#[test]
fn the_stop_flag_ends_the_agent_cleanly() {
    let Some((pki, broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    let a = agent_for(&pki, &broker, &device);
    let stop = a.stop.clone();
    let handle = std::thread::spawn(move || a.run(None).map_err(|e| e.to_string()));
    service
        .shadow_where(THING, |s| s["schema"] == 1)
        .expect("the agent connected");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(10);
    while !handle.is_finished() {
        assert!(Instant::now() < until, "the agent did not stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(handle.join().expect("agent"), Ok(vec![]));
}

/// A stop while the broker is gone (the agent backing off between reconnects) still ends
/// the agent promptly: it neither waits for a DISCONNECT that cannot be sent nor sleeps out
/// its backoff. Found by running docs/aws-iot-jobs.md's "try it locally", where SIGTERM after
/// the broker stopped left the agent retrying forever.
#[test]
fn a_stop_while_the_broker_is_down_ends_the_agent_promptly() {
    let Some((pki, mut broker, device)) = jobs_setup() else {
        return;
    };
    let service = jobs_service(&pki, &broker);
    let mut a = agent_for(&pki, &broker, &device);
    a.max_reconnects = None;
    let stop = a.stop.clone();
    let handle = std::thread::spawn(move || a.run(None).map_err(|e| e.to_string()));
    service
        .shadow_where(THING, |s| s["schema"] == 1)
        .expect("the agent connected");
    drop(service);
    broker.stop();
    std::thread::sleep(Duration::from_secs(3)); // into its backoff
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(5);
    while !handle.is_finished() {
        assert!(Instant::now() < until, "the agent did not stop within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(handle.join().expect("agent"), Ok(vec![]));
}

/// The example agent as a process, configured by environment for `device` on `broker`, at
/// the tests' fixed clock, aborting at `crash_at` when given.
fn agent_process(
    pki: &Pki,
    broker: &Mosquitto,
    device: &Device,
    files: &Path,
    crash_at: Option<&str>,
) -> std::process::Child {
    let deps = std::env::current_exe().expect("test binary");
    let bin = deps
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples/fleet_agent");
    assert!(
        bin.exists(),
        "{} (built by cargo test with the example's features)",
        bin.display()
    );
    std::fs::write(files.join("device.pem"), pki.client_chain_pem()).expect("cert");
    std::fs::write(files.join("device.key"), pki.client_key_pem()).expect("key");
    std::fs::write(files.join("ca.pem"), pki.server_ca_pem()).expect("ca");
    std::fs::write(files.join("set.json"), device.keys.set(1).to_json()).expect("set");
    let mut cmd = std::process::Command::new(bin);
    cmd.env_clear()
        .env("IOT_ENDPOINT", format!("localhost:{}", broker.tls_port))
        .env("THING_NAME", THING)
        .env("CERT", files.join("device.pem"))
        .env("KEY", files.join("device.key"))
        .env("EXTRA_CA", files.join("ca.pem"))
        .env("SIGNERS", files.join("set.json"))
        .env("STATE_DIR", device.dir.path())
        .env("FLEET", FLEET)
        .env("IOT_ROOTS_NOW", common::rfc3339(CLOCK))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(step) = crash_at {
        cmd.env("IOT_ROOTS_AGENT_CRASH_AT", step);
    }
    cmd.spawn().expect("start the agent")
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the agent did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The agent process aborted (no cleanup, as a power cut) at each step of a job, then
/// started again: the store is in the old or the new state at the crash, and the job ends
/// SUCCEEDED with a reason that tells what happened (applied on the second run, or already
/// active because the first run committed).
#[test]
fn an_agent_crash_at_each_job_step_ends_in_the_old_or_new_state_with_a_true_status() {
    let Some((pki, broker, _)) = jobs_setup() else {
        return;
    };
    for (step, committed) in [
        ("started", false),
        ("staged", false),
        ("checked", false),
        ("committed", true),
        ("reported", true),
    ] {
        let device = Device {
            keys: Keys::new(1),
            dir: tempfile::tempdir().expect("tmp"),
        };
        let files = tempfile::tempdir().expect("tmp");
        let service = jobs_service(&pki, &broker);
        let job = format!("roots-v2-{step}");
        service.queue(THING, &job, job_document(&good_bundle(&pki, &device)));

        let mut first = agent_process(&pki, &broker, &device, files.path(), Some(step));
        let status = wait_exit(&mut first, Duration::from_secs(30));
        assert!(!status.success(), "{step}: the agent aborted ({status})");
        let at_crash = active_version(device.dir.path(), &device);
        assert_eq!(
            at_crash,
            committed.then_some(2),
            "{step}: old or new, never between"
        );

        let mut second = agent_process(&pki, &broker, &device, files.path(), None);
        let update = accepted_update(&service, &job);
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &second.id().to_string()])
            .status();
        let status = wait_exit(&mut second, Duration::from_secs(15));
        assert!(
            status.success(),
            "{step}: SIGTERM stops it cleanly ({status})"
        );

        assert_eq!(update["status"], "SUCCEEDED", "{step}: {update}");
        let reason = update["statusDetails"]["reason"].as_str().expect("reason");
        match step {
            "committed" => assert_eq!(reason, "already-active", "{step}"),
            // The crashed run's update may or may not have left the process.
            "reported" => assert!(
                reason == "already-active" || reason == "applied",
                "{step}: {reason}"
            ),
            _ => assert_eq!(reason, "applied", "{step}"),
        }
        assert_eq!(
            active_version(device.dir.path(), &device),
            Some(2),
            "{step}"
        );
        assert_eq!(
            service.status(THING, &job).as_deref(),
            Some("SUCCEEDED"),
            "{step}"
        );
        drop(service);
    }
}
