//! `data-plane-publish`: DescribeEndpoint (`iot:Data-ATS`), then Publish, trusting exactly
//! aws-iot-roots' roots. Credentials and region come from the SDK's usual chain (environment,
//! profile, instance role).
//!
//! ```text
//! data-plane-publish [--extra-ca FILE] [--state-dir DIR --fleet NAME --signers FILE]
//!                    [--control-plane-url URL] TOPIC MESSAGE
//! ```
//!
//! - `--state-dir`: trust the roots of the bundle committed in a device's store instead of
//!   the compiled-in ones (`--fleet` and `--signers` as the device agent has them).
//! - `--extra-ca`: also trust the anchors in FILE (a private or test CA).
//! - `--control-plane-url`: send DescribeEndpoint there (a VPC endpoint, a local stand-in).

use std::path::PathBuf;
use std::process::ExitCode;

use aws_iot_roots::bundle::SignerSet;
use aws_iot_roots::store::StoreConfig;
use aws_iot_roots_data_plane_example::{publish, Endpoints, Trust};

const USAGE: &str = "usage: data-plane-publish [--extra-ca FILE] \
[--state-dir DIR --fleet NAME --signers FILE] [--control-plane-url URL] TOPIC MESSAGE";

struct Args {
    extra_ca: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    fleet: Option<String>,
    signers: Option<PathBuf>,
    endpoints: Endpoints,
    topic: String,
    message: String,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        extra_ca: None,
        state_dir: None,
        fleet: None,
        signers: None,
        endpoints: Endpoints::default(),
        topic: String::new(),
        message: String::new(),
    };
    let mut rest = Vec::new();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--extra-ca" => a.extra_ca = Some(value()?.into()),
            "--state-dir" => a.state_dir = Some(value()?.into()),
            "--fleet" => a.fleet = Some(value()?),
            "--signers" => a.signers = Some(value()?.into()),
            "--control-plane-url" => a.endpoints.control_plane = Some(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => rest.push(arg),
        }
    }
    let [topic, message] = <[String; 2]>::try_from(rest).map_err(|_| USAGE.to_owned())?;
    a.topic = topic;
    a.message = message;
    Ok(a)
}

fn trust(a: &Args) -> Result<Trust, String> {
    let mut trust = match (&a.state_dir, &a.fleet, &a.signers) {
        (None, None, None) => Trust::compiled_in(),
        (Some(dir), Some(fleet), Some(signers)) => {
            let json = std::fs::read(signers).map_err(|e| format!("{}: {e}", signers.display()))?;
            let set =
                SignerSet::from_json(&json).map_err(|e| format!("{}: {e}", signers.display()))?;
            Trust::committed(dir, StoreConfig::new(fleet.clone(), set))
                .map_err(|e| e.to_string())?
        }
        _ => {
            return Err(format!(
                "--state-dir, --fleet and --signers go together\n{USAGE}"
            ))
        }
    };
    if let Some(file) = &a.extra_ca {
        trust = trust.with_extra_anchors(file).map_err(|e| e.to_string())?;
    }
    Ok(trust)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let run = async {
        let a = args()?;
        let trust = trust(&a)?;
        eprintln!("trusting {} certificates, and no others", trust.len());
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(trust.https_client())
            .load()
            .await;
        let done = publish(&config, &a.endpoints, &a.topic, a.message.into_bytes())
            .await
            .map_err(|e| e.to_string())?;
        println!("published to {} via {}", a.topic, done.endpoint);
        Ok::<_, String>(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
