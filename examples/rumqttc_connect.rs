//! MQTT to AWS IoT Core with rumqttc, on port 8883 (no ALPN) or 443 (ALPN `x-amzn-mqtt-ca`).
//!
//! ```sh
//! IOT_ENDPOINT=abc123-ats.iot.eu-central-1.amazonaws.com:443 CERT=device.pem.crt \
//! KEY=private.pem.key cargo run --example rumqttc_connect --features rumqttc
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use aws_iot_roots::client::{client_config, mqtt_options, Endpoint, Protocol};
use rumqttc::{Client, Event, Packet, QoS};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn main() -> Result<(), Box<dyn Error>> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let endpoint = Endpoint::parse(&env("IOT_ENDPOINT")?)?;
    for w in endpoint.warnings() {
        eprintln!("warning: {w}");
    }
    let chain = CertificateDer::pem_file_iter(env("CERT")?)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(env("KEY")?)?;
    // The application picks the provider; the port picks the ALPN (443: x-amzn-mqtt-ca).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (config, diagnostics) = client_config(
        provider,
        aws_iot_roots::root_cert_store(),
        Protocol::Mqtt,
        endpoint.port(),
        Some((chain, key)),
    )?;
    let mut options = mqtt_options(&endpoint, "aws-iot-roots-example", config);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = Client::new(options, 10);
    client.subscribe("aws-iot-roots/example", QoS::AtLeastOnce)?;
    client.publish(
        "aws-iot-roots/example",
        QoS::AtLeastOnce,
        false,
        b"hello".to_vec(),
    )?;
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                println!("received {:?} on {}", p.payload, p.topic);
                break;
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(d) = diagnostics.unknown_issuer() {
                    eprintln!("{d}");
                }
                return Err(e.into());
            }
        }
    }
    Ok(())
}
