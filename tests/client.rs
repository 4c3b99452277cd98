//! The rustls client helpers: ALPN rules, endpoints, anchors from PEM, config errors and the
//! UnknownIssuer diagnostic on real chains.
#![cfg(feature = "client")]

mod common;

use std::sync::Arc;

use aws_iot_roots::client::{
    alpn_for, anchors_from_pem, client_config, describe_unknown_issuer, ClientError, Endpoint,
    EndpointWarning, Protocol,
};
use common::{data, load_pem};

#[test]
fn alpn_follows_the_aws_iot_port_rules() {
    assert_eq!(alpn_for(Protocol::Mqtt, 8883).expect("8883"), None);
    assert_eq!(
        alpn_for(Protocol::Mqtt, 443).expect("443"),
        Some(&b"x-amzn-mqtt-ca"[..])
    );
    assert_eq!(
        alpn_for(Protocol::Https, 443).expect("443"),
        Some(&b"x-amzn-http-ca"[..])
    );
    assert_eq!(alpn_for(Protocol::Https, 8443).expect("8443"), None);
    assert_eq!(
        alpn_for(Protocol::MqttCustomAuthorizer, 443).expect("443"),
        Some(&b"mqtt"[..])
    );
    for (p, port) in [
        (Protocol::Mqtt, 1883),
        (Protocol::Https, 8883),
        (Protocol::MqttCustomAuthorizer, 8883),
    ] {
        assert!(
            matches!(alpn_for(p, port), Err(ClientError::UnsupportedPort { .. })),
            "{p:?} {port}"
        );
    }
}

#[test]
fn endpoints_parse_and_default_to_8883() {
    let e = Endpoint::parse("a1b2c3-ats.iot.eu-central-1.amazonaws.com").expect("host");
    assert_eq!(
        (e.host(), e.port()),
        ("a1b2c3-ats.iot.eu-central-1.amazonaws.com", 8883)
    );
    assert_eq!(
        Endpoint::parse("A1B2C3-ATS.iot.us-east-1.amazonaws.com:443")
            .expect("port")
            .port(),
        443
    );
    assert_eq!(Endpoint::parse("[::1]:8883").expect("v6").host(), "::1");
    assert_eq!(
        Endpoint::parse("localhost:1").expect("ok").to_string(),
        "localhost:1"
    );
    for bad in [
        "",
        ":8883",
        "host:0",
        "host:99999",
        "host:x",
        "[::1",
        "[::1]x",
        "bad host name:8883",
    ] {
        assert!(
            matches!(Endpoint::parse(bad), Err(ClientError::BadEndpoint { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn legacy_looking_names_warn_and_ats_fips_china_and_custom_names_do_not() {
    let warns = |h: &str| Endpoint::parse(h).expect(h).warnings();
    assert!(matches!(
        warns("a1b2c3.iot.ap-southeast-2.amazonaws.com").as_slice(),
        [EndpointWarning::LooksLegacy { .. }]
    ));
    assert!(warns("a1b2c3.iot.cn-north-1.amazonaws.com.cn").len() == 1);
    for ok in [
        "a1b2c3-ats.iot.eu-central-1.amazonaws.com",
        "data-ats.iot.us-east-1.amazonaws.com",
        "data.iot-fips.us-east-1.amazonaws.com",
        "a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn",
        "c1a2b3.credentials.iot.us-east-1.amazonaws.com",
        "iot.example.com",
        "localhost",
    ] {
        assert!(warns(ok).is_empty(), "{ok}");
    }
    assert!(warns("a1b2c3.iot.us-east-1.amazonaws.com")[0]
        .to_string()
        .contains("-ats"));
}

#[test]
fn anchors_from_pem_accept_cas_and_refuse_the_rest() {
    let pem = std::fs::read(data(
        "aws-chains/crosssign/Amazon_Root_CA_3__by__SFS_G2.pem",
    ))
    .expect("pem");
    let anchors = anchors_from_pem(&pem).expect("a CA");
    let der = load_pem(&data(
        "aws-chains/crosssign/Amazon_Root_CA_3__by__SFS_G2.pem",
    ))
    .remove(0);
    assert_eq!(
        anchors,
        vec![webpki::anchor_from_trusted_cert(&der)
            .expect("webpki")
            .to_owned()]
    );
    let leaf = std::fs::read(data(
        "aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem",
    ))
    .expect("pem");
    assert!(matches!(
        anchors_from_pem(&leaf),
        Err(ClientError::BadAnchor { index: Some(0), .. })
    ));
    assert!(matches!(
        anchors_from_pem(b"no pem here"),
        Err(ClientError::BadAnchor { index: None, .. })
    ));
}

#[cfg(feature = "amazon-root-ca-1")]
#[test]
fn client_config_checks_client_auth_roots_and_ports() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    assert!(matches!(
        client_config(
            provider.clone(),
            aws_iot_roots::root_cert_store(),
            Protocol::Mqtt,
            8883,
            None
        ),
        Err(ClientError::ClientCertificateRequired {
            protocol: Protocol::Mqtt
        })
    ));
    assert!(matches!(
        client_config(
            provider.clone(),
            rustls::RootCertStore::empty(),
            Protocol::MqttCustomAuthorizer,
            443,
            None
        ),
        Err(ClientError::NoRoots)
    ));
    let (config, _) = client_config(
        provider.clone(),
        aws_iot_roots::root_cert_store(),
        Protocol::MqttCustomAuthorizer,
        443,
        None,
    )
    .expect("custom auth");
    assert_eq!(config.alpn_protocols, vec![b"mqtt".to_vec()]);
    assert!(matches!(
        client_config(
            provider,
            aws_iot_roots::root_cert_store(),
            Protocol::Mqtt,
            1883,
            None
        ),
        Err(ClientError::UnsupportedPort { port: 1883, .. })
    ));
}

#[test]
fn the_diagnostic_recognises_the_legacy_symantec_chain() {
    let leaf = load_pem(&data(
        "aws-chains/legacy/leaf_star.iot.ap-southeast-2.amazonaws.com_symantec_2017.pem",
    ))
    .remove(0);
    let d = describe_unknown_issuer(&leaf, &[]).expect("readable");
    assert!(
        d.presented_issuer.contains("Symantec"),
        "{}",
        d.presented_issuer
    );
    assert!(d.looks_legacy);
    assert!(d.to_string().contains("-ats endpoint"));
    // A current ATS chain names Amazon and is not legacy.
    let chain = load_pem(&data(
        "aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem",
    ));
    let d = describe_unknown_issuer(&chain[0], &chain[1..]).expect("readable");
    assert_eq!(d.presented_issuer, "CN=Amazon Root CA 1, O=Amazon, C=US");
    assert_eq!(d.top_subject, "CN=Amazon RSA 2048 M04, O=Amazon, C=US");
    assert!(!d.looks_legacy);
}
