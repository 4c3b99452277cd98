//! The compiled-in roots as files for C stacks: a PEM bundle for paho-mqtt, the AWS IoT Device
//! SDK for Embedded C and the AWS SDK's `TrustStore`, and a NUL-terminated copy for esp-idf
//! (`esp_tls_cfg_t.cacert_buf`, with `cacert_bytes` including the NUL).
//!
//! ```sh
//! cargo run --example pem_export -- out/
//! ```
//!
//! paho.mqtt.c: `MQTTClient_SSLOptions.trustStore = "out/AmazonRootCAs.pem"`.
//! The `iot-roots export` command does the same from the CLI.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("AmazonRootCAs.pem"), aws_iot_roots::PEM_BUNDLE)?;
    std::fs::write(
        dir.join("AmazonRootCAs.pem.nul"),
        aws_iot_roots::PEM_BUNDLE_NUL.to_bytes_with_nul(),
    )?;
    for root in aws_iot_roots::ROOTS {
        println!(
            "{:<52} SPKI pin {}",
            root.name,
            root.spki_sha256
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
    println!(
        "wrote {} roots to {}",
        aws_iot_roots::ROOTS.len(),
        dir.display()
    );
    Ok(())
}
