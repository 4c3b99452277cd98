//! A raw rustls handshake with AWS IoT Core using the compiled-in roots: the smallest
//! integration, for stacks that bring their own MQTT or HTTP client.
//!
//! ```sh
//! IOT_ENDPOINT=abc123-ats.iot.eu-central-1.amazonaws.com CERT=device.pem.crt KEY=private.pem.key \
//! cargo run --example rustls_raw --features client
//! ```

use std::error::Error;
use std::net::TcpStream;
use std::sync::Arc;

use aws_iot_roots::client::{client_config, Endpoint, Protocol};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn main() -> Result<(), Box<dyn Error>> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let endpoint = Endpoint::parse(&env("IOT_ENDPOINT")?)?;
    let chain = CertificateDer::pem_file_iter(env("CERT")?)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(env("KEY")?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (config, diagnostics) = client_config(
        provider,
        aws_iot_roots::root_cert_store(),
        Protocol::Mqtt,
        endpoint.port(),
        Some((chain, key)),
    )?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), endpoint.server_name())?;
    let mut sock = TcpStream::connect((endpoint.host(), endpoint.port()))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            if let Some(d) = diagnostics.unknown_issuer() {
                eprintln!("{d}");
            }
            return Err(e.into());
        }
    }
    println!(
        "connected to {endpoint} with {:?}",
        conn.negotiated_cipher_suite().map(|s| s.suite())
    );
    Ok(())
}
