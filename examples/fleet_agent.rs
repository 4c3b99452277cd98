//! A fleet agent: takes signed root bundles from AWS IoT Jobs and applies them safely.
//!
//! 1. Subscribes to `$aws/things/<thing>/jobs/notify-next`.
//! 2. Takes a job document `{"operation": "aws-iot-roots.update", "bundle": "<base64>"}`.
//! 3. Stages the bundle, health-checks it with a TLS handshake to the endpoint trusting only
//!    the staged roots, and commits it.
//! 4. Reports `SUCCEEDED` or `FAILED`, with `statusDetails`, on
//!    `$aws/things/<thing>/jobs/<jobId>/update`.
//!
//! The rollout runs on AWS IoT Jobs; see docs/aws-iot-jobs.md for creating the job. Run:
//!
//! ```sh
//! IOT_ENDPOINT=abc123-ats.iot.eu-central-1.amazonaws.com THING_NAME=device-1 \
//! CERT=device.pem.crt KEY=private.pem.key STATE_DIR=/var/lib/iot-roots \
//! FLEET=acme-prod SIGNERS=set.json \
//! cargo run --example fleet_agent --features rumqttc,store
//! ```
//!
//! `EXTRA_CA=ca.pem` adds the application's own anchors (a custom domain's private CA), kept
//! apart from the signed set.
//!
//! The application picks the crypto provider (ring here); the library never does.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_iot_roots::client::{client_config, mqtt_options, ClientAuth, Endpoint, Protocol};
use aws_iot_roots::store::{StageOutcome, StoreConfig, StoreError, TlsHandshakeCheck, TrustStore};
use base64::Engine as _;
use rumqttc::{Client, Event, Packet, QoS};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{TrustAnchor, UnixTime};
use serde_json::{json, Value};

/// The job document's `operation` for a root update.
pub(crate) const OPERATION: &str = "aws-iot-roots.update";

/// What the agent needs.
pub(crate) struct Agent {
    pub(crate) thing: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) store_dir: PathBuf,
    pub(crate) store_config: StoreConfig,
    /// The application's own anchors (e.g. a private CA), kept apart from signed ones.
    pub(crate) extra_anchors: Vec<TrustAnchor<'static>>,
    /// Where the health check handshakes (by default the endpoint itself).
    pub(crate) health_target: Endpoint,
    pub(crate) clock: fn() -> UnixTime,
}

/// What the agent reported for one job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub(crate) job_id: String,
    pub(crate) status: &'static str,
    pub(crate) details: Value,
}

pub(crate) fn notify_next_topic(thing: &str) -> String {
    format!("$aws/things/{thing}/jobs/notify-next")
}

pub(crate) fn update_topic(thing: &str, job_id: &str) -> String {
    format!("$aws/things/{thing}/jobs/{job_id}/update")
}

pub(crate) fn wall_clock() -> UnixTime {
    UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The pending job in a notify-next message, if any: (job id, job document).
fn pending_job(payload: &[u8]) -> Result<Option<(String, Value)>, String> {
    let msg: Value =
        serde_json::from_slice(payload).map_err(|e| format!("notify-next is not JSON: {e}"))?;
    let Some(execution) = msg.get("execution") else {
        return Ok(None); // no job pending
    };
    let id = execution["jobId"]
        .as_str()
        .ok_or("execution without jobId")?
        .to_owned();
    Ok(Some((id, execution["jobDocument"].clone())))
}

impl Agent {
    fn handle(&self, store: &mut TrustStore, document: &Value) -> (&'static str, Value) {
        let failed = |reason: String| ("FAILED", json!({ "reason": reason }));
        if document["operation"] != OPERATION {
            return failed(format!("unknown operation {}", document["operation"]));
        }
        let Some(b64) = document["bundle"].as_str() else {
            return failed("job document has no bundle".into());
        };
        let bytes = match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(b) => b,
            Err(e) => return failed(format!("bundle is not base64: {e}")),
        };
        let now = (self.clock)();
        match store.stage(&bytes, now) {
            Ok(StageOutcome::Staged { .. }) => {}
            Ok(StageOutcome::AlreadyActive { version }) => {
                return (
                    "SUCCEEDED",
                    json!({ "version": version.to_string(), "note": "already active" }),
                )
            }
            Ok(_) => return failed("unexpected stage outcome".into()),
            Err(e) => return failed(e.to_string()),
        };
        let check = TlsHandshakeCheck::new(
            self.health_target.host(),
            self.health_target.port(),
            self.health_target.host(),
            self.provider.clone(),
        )
        .map(|c| c.with_client_auth(self.client_auth.0.clone(), self.client_auth.1.clone_key()));
        let mut check = match check {
            Ok(c) => c,
            Err(e) => return failed(format!("health check server name: {e}")),
        };
        if let Err(e) = store.health_check(&mut check, now) {
            // One attempt per job: the job is terminal, so the bundle is not left staged.
            if let StoreError::HealthCheckFailed {
                discarded: false, ..
            } = &e
            {
                let _ = store.discard(&e.to_string());
            }
            return failed(e.to_string());
        }
        match store.commit(now) {
            Ok(c) => (
                "SUCCEEDED",
                json!({ "version": c.version.to_string(), "generation": c.generation.to_string() }),
            ),
            Err(e) => failed(e.to_string()),
        }
    }

    /// Runs until `max_jobs` jobs were handled and reported (forever with `None`).
    pub(crate) fn run(&self, max_jobs: Option<usize>) -> Result<Vec<Report>, Box<dyn Error>> {
        let mut store = TrustStore::open(&self.store_dir, self.store_config.clone())?;
        for a in &self.extra_anchors {
            store.add_extra_anchor(a.clone());
        }
        let (config, diagnostics) = client_config(
            self.provider.clone(),
            store.root_cert_store(),
            Protocol::Mqtt,
            8883,
            Some(self.client_auth_clone()),
        )?;
        let mut options = mqtt_options(&self.endpoint, &self.thing, config);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(options, 16);
        let notify = notify_next_topic(&self.thing);
        client.subscribe(&notify, QoS::AtLeastOnce)?;
        let mut reports = Vec::new();
        let mut unacked = 0usize;
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == notify => {
                    let Some((job_id, document)) = pending_job(&p.payload)? else {
                        continue;
                    };
                    if reports.iter().any(|r: &Report| r.job_id == job_id) {
                        continue; // the same notification again
                    }
                    let (status, details) = self.handle(&mut store, &document);
                    let body = json!({ "status": status, "statusDetails": details });
                    client.publish(
                        update_topic(&self.thing, &job_id),
                        QoS::AtLeastOnce,
                        false,
                        serde_json::to_vec(&body)?,
                    )?;
                    unacked += 1;
                    reports.push(Report {
                        job_id,
                        status,
                        details,
                    });
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    unacked = unacked.saturating_sub(1);
                    if unacked == 0 && max_jobs.is_some_and(|m| reports.len() >= m) {
                        client.disconnect()?;
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => {
                    return Err(match diagnostics.unknown_issuer() {
                        Some(d) => format!("{e}: {d}").into(),
                        None => e.into(),
                    })
                }
            }
        }
        Ok(reports)
    }

    fn client_auth_clone(&self) -> ClientAuth {
        (self.client_auth.0.clone(), self.client_auth.1.clone_key())
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error>> {
    use rustls_pki_types::pem::PemObject as _;
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let endpoint = Endpoint::parse(&env("IOT_ENDPOINT")?)?;
    for w in endpoint.warnings() {
        eprintln!("warning: {w}");
    }
    let chain = rustls_pki_types::CertificateDer::pem_file_iter(env("CERT")?)?
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(env("KEY")?)?;
    let signers: Value = serde_json::from_str(&std::fs::read_to_string(env("SIGNERS")?)?)?;
    let keys = signers["keys"]
        .as_array()
        .ok_or("signer set without keys")?
        .iter()
        .map(|k| {
            let raw =
                base64::engine::general_purpose::STANDARD.decode(k.as_str().unwrap_or_default())?;
            Ok(aws_iot_roots::bundle::PublicKey::from_bytes(&raw)?)
        })
        .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
    let threshold = signers["threshold"]
        .as_u64()
        .ok_or("signer set without threshold")? as u32;
    let extra_anchors = match std::env::var("EXTRA_CA") {
        Ok(path) => aws_iot_roots::client::anchors_from_pem(&std::fs::read(path)?)?,
        Err(_) => Vec::new(),
    };
    let agent = Agent {
        thing: env("THING_NAME")?,
        health_target: endpoint.clone(),
        endpoint,
        provider: Arc::new(rustls::crypto::ring::default_provider()),
        client_auth: (chain, key),
        store_dir: PathBuf::from(env("STATE_DIR")?),
        store_config: StoreConfig::new(
            env("FLEET")?,
            aws_iot_roots::bundle::SignerSet::new(keys, threshold)?,
        ),
        extra_anchors,
        clock: wall_clock,
    };
    for r in agent.run(None)? {
        println!("{} {} {}", r.job_id, r.status, r.details);
    }
    Ok(())
}
