//! A fleet agent: takes signed root bundles from AWS IoT Jobs and applies them safely.
//!
//! The Jobs protocol is `aws_iot_roots::jobs::JobsClient` (sans-IO); this example is its
//! transport (rumqttc) and its store:
//!
//! 1. On every connect: subscribes to the client's topics (QoS 1, persistent session) and
//!    asks for the next job (`start-next`, which marks it IN_PROGRESS).
//! 2. Applies the job's bundle through `TrustStore`: stage (full verification against the
//!    device's floors), a TLS handshake to the endpoint trusting only the staged roots,
//!    commit.
//!    A health check that could not run (the network, not the bundle) is tried again, up
//!    to [`HEALTH_CHECK_ATTEMPTS`] times, before the job is reported FAILED.
//! 3. Reports SUCCEEDED, FAILED or REJECTED with `statusDetails` and `expectedVersion`.
//! 4. A job whose document names a `bundleUrl` (a presigned S3 URL, for bundles too large
//!    for a job document) is downloaded over HTTPS trusting only the active roots, capped at
//!    the verifier's size limit.
//! 5. Survives the broker: a lost connection is retried with exponential backoff and jitter,
//!    and the job in hand resumes (the store decides what applying it again means).
//!
//! The rollout runs on AWS IoT Jobs; see docs/aws-iot-jobs.md. Run:
//!
//! ```sh
//! IOT_ENDPOINT=abc123-ats.iot.eu-central-1.amazonaws.com:8883 THING_NAME=device-1 \
//! CERT=device.pem.crt KEY=private.pem.key STATE_DIR=/var/lib/iot-roots \
//! FLEET=acme-prod SIGNERS=set.json \
//! cargo run --example fleet_agent --features rumqttc,store,jobs
//! ```
//!
//! `EXTRA_CA=ca.pem` adds the application's own anchors (a custom domain's private CA), kept
//! apart from the signed set. Every setting can also come from a TOML file named by
//! `AGENT_CONFIG` (keys `endpoint`, `thing_name`, `cert`, `key`, `state_dir`, `fleet`,
//! `signers`, `extra_ca`); the environment overrides the file, and every missing setting is
//! listed at once. SIGTERM stops the agent cleanly between jobs (docs/aws-iot-jobs.md has a
//! systemd unit).
//!
//! The application picks the crypto provider (ring here); the library never does.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::error::Error;
use std::hash::BuildHasher as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_iot_roots::client::{client_config, mqtt_options, ClientAuth, Endpoint, Protocol};
use aws_iot_roots::jobs::{
    self, shadow_update, ApplyOutcome, DeadlineWatch, FailureReason, JobStatus, JobsClient,
};
use aws_iot_roots::store::{StageOutcome, StoreConfig, StoreError, TlsHandshakeCheck, TrustStore};
use rumqttc::{Client, Event, Packet, QoS};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{TrustAnchor, UnixTime};

/// The first wait after a lost connection; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How often the agent checks whether its earliest deadline crossed a threshold.
pub(crate) const DEADLINE_CHECK: Duration = Duration::from_secs(60);
/// The longest wait between reconnects: a fleet reconnecting after a broker outage spreads
/// over this window (with jitter) instead of arriving at once.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How many times the agent tries a job whose health check could not run (the network or
/// the broker, not the bundle: the store keeps it staged and counts no attempt) before it
/// reports FAILED. The waits between tries double from one second, with jitter, so the
/// whole budget is about 15-22 s: longer than a broker restart, far shorter than any job
/// timeout an operator would set, and spread so a fleet does not retry in step.
pub(crate) const HEALTH_CHECK_ATTEMPTS: u32 = 5;

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
    /// Give up after this many consecutive failed connection attempts (`None`: never).
    pub(crate) max_reconnects: Option<u32>,
    /// How often to check the earliest deadline ([`DEADLINE_CHECK`]; shorter in tests).
    pub(crate) deadline_check: Duration,
    /// Set (by SIGTERM, or a test) to stop: the agent finishes the step in hand, disconnects
    /// and returns.
    pub(crate) stop: Arc<AtomicBool>,
}

/// Each setting: its key in the TOML file, its environment variable, whether it is required.
pub(crate) const SETTINGS: [(&str, &str, bool); 8] = [
    ("endpoint", "IOT_ENDPOINT", true),
    ("thing_name", "THING_NAME", true),
    ("cert", "CERT", true),
    ("key", "KEY", true),
    ("state_dir", "STATE_DIR", true),
    ("fleet", "FLEET", true),
    ("signers", "SIGNERS", true),
    ("extra_ca", "EXTRA_CA", false),
];

/// The agent's settings: `file`'s TOML (string values, only the keys of [`SETTINGS`]), each
/// overridden by its environment variable through `env`. Every missing required setting is
/// named at once, with both its key and its variable.
pub(crate) fn settings(
    file: Option<&std::path::Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<&'static str, String>, String> {
    let mut from_file: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = file {
        let at = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| format!("{at}: {e}"))?;
        for (k, v) in table {
            if !SETTINGS.iter().any(|(key, _, _)| *key == k) {
                return Err(format!("{at}: unknown setting {k:?}"));
            }
            let toml::Value::String(v) = v else {
                return Err(format!("{at}: {k} must be a string"));
            };
            from_file.insert(k, v);
        }
    }
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (key, var, required) in SETTINGS {
        match env(var).or_else(|| from_file.get(key).cloned()) {
            Some(v) => {
                out.insert(key, v);
            }
            None if required => missing.push(format!("{key} ({var})")),
            None => {}
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!("missing settings: {}", missing.join(", ")))
    }
}

/// One job the agent finished.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub(crate) job_id: String,
    pub(crate) status: JobStatus,
}

/// `IOT_ROOTS_NOW` (RFC 3339, as the CLI reads it), parsed once in `main`: a fixed clock
/// for rehearsals and tests.
static FIXED_NOW: std::sync::OnceLock<UnixTime> = std::sync::OnceLock::new();

fn fixed_clock() -> UnixTime {
    FIXED_NOW.get().copied().unwrap_or_else(wall_clock)
}

pub(crate) fn wall_clock() -> UnixTime {
    UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Fault injection for the crash tests (tests/mqtt.rs): with `IOT_ROOTS_AGENT_CRASH_AT` set
/// to a step's name, the process aborts there, with no cleanup, as a power cut would. The
/// steps: `started` (IN_PROGRESS, nothing applied), `staged`, `checked`, `committed`,
/// `reported` (the final update handed to the MQTT client).
fn crash_point(step: &str) {
    if std::env::var("IOT_ROOTS_AGENT_CRASH_AT").is_ok_and(|s| s == step) {
        tracing::warn!(step, "crashing (IOT_ROOTS_AGENT_CRASH_AT)");
        std::process::abort();
    }
}

/// Exponential backoff with full jitter: a random wait in [0, min(max, first * 2^n)].
struct Backoff {
    failures: u32,
}

/// A random fraction in [0, 1). RandomState is seeded from the OS per instance: jitter
/// without a dependency.
fn unit_random(salt: u32) -> f64 {
    (RandomState::new().hash_one(salt) % 1_000) as f64 / 1_000.0
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let cap = FIRST_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        self.failures += 1;
        cap.mul_f64(unit_random(self.failures))
            .max(Duration::from_millis(100))
    }
}

/// Where a job's bundle comes from.
enum Source {
    Inline(Vec<u8>),
    Url { url: String, max_bytes: usize },
}

/// The job in hand: applied when due, and again (up to [`HEALTH_CHECK_ATTEMPTS`]) while its
/// health check cannot run.
struct Pending {
    job_id: String,
    source: Source,
    attempts: u32,
    due: Duration,
}

impl Pending {
    /// The wait before try `attempts + 1`: 2^(attempts - 1) s, plus up to half again.
    fn retry_wait(&self) -> Duration {
        let base = Duration::from_secs(1 << self.attempts.saturating_sub(1).min(5));
        base + base.mul_f64(unit_random(self.attempts) / 2.0)
    }
}

impl Agent {
    /// Stage → health check → commit. A bundle that failed its check is discarded rather
    /// than left staged (the job's status is final); one whose check could not run stays
    /// staged, and the caller tries again.
    fn apply(&self, store: &mut TrustStore, bytes: &[u8]) -> Result<StageOutcome, StoreError> {
        let now = (self.clock)();
        crash_point("started");
        let outcome = store.stage(bytes, now)?;
        let StageOutcome::Staged { version } = outcome else {
            return Ok(outcome);
        };
        crash_point("staged");
        let host = self.health_target.host();
        let mut check =
            TlsHandshakeCheck::new(host, self.health_target.port(), host, self.provider.clone())
                .map_err(|e| StoreError::HealthCheckUnavailable {
                    version,
                    reason: format!("health check server name: {e}"),
                })?
                .with_client_auth(self.client_auth.0.clone(), self.client_auth.1.clone_key());
        if let Err(e) = store.health_check(&mut check, now) {
            if let StoreError::HealthCheckFailed {
                discarded: false, ..
            } = &e
            {
                let _ = store.discard(&e.to_string());
            }
            return Err(e);
        }
        crash_point("checked");
        store.commit(now)?;
        crash_point("committed");
        Ok(outcome)
    }

    /// A `bundleUrl` bundle over HTTPS, trusting only the device's *active* roots (what it
    /// trusts now, never the bundle it is about to verify), with the application's crypto
    /// provider. At most `max_bytes`: a declared length above it is refused before reading,
    /// and the read stops one byte past it.
    fn download(&self, store: &TrustStore, url: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
        let roots: Vec<Certificate<'static>> = match store.active_bundle() {
            Some(b) => b
                .roots()
                .iter()
                .map(|r| Certificate::from_der(r.der().as_ref()).to_owned())
                .collect(),
            None => aws_iot_roots::ROOTS
                .iter()
                .map(|r| Certificate::from_der(r.der.as_ref()).to_owned())
                .collect(),
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(self.provider.clone())
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut response = agent.get(url).call().map_err(|e| format!("GET: {e}"))?;
        let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
        if let Some(n) = response.body().content_length().filter(|&n| n > limit) {
            return Err(format!("the bundle is {n} bytes; the limit is {limit}"));
        }
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| format!("reading the bundle: {e}"))
    }

    /// One try at the job in hand: download (for a `bundleUrl`), then apply.
    fn attempt(&self, store: &mut TrustStore, job: &Pending) -> ApplyOutcome {
        match &job.source {
            Source::Inline(bundle) => {
                tracing::info!(job = %job.job_id, bytes = bundle.len(), "applying");
                ApplyOutcome::from_store(&self.apply(store, bundle), store)
            }
            Source::Url { url, max_bytes } => {
                tracing::info!(job = %job.job_id, "downloading the bundle");
                match self.download(store, url, *max_bytes) {
                    Ok(bundle) => ApplyOutcome::from_store(&self.apply(store, &bundle), store),
                    Err(detail) => ApplyOutcome::Failed {
                        reason: FailureReason::Download,
                        detail,
                    },
                }
            }
        }
    }

    /// Runs until `max_jobs` jobs finished (forever with `None`).
    pub(crate) fn run(&self, max_jobs: Option<usize>) -> Result<Vec<Report>, Box<dyn Error>> {
        let mut store = match TrustStore::open(&self.store_dir, self.store_config.clone()) {
            Err(StoreError::Busy { pid, .. }) => {
                let who = pid.map_or("another agent".to_owned(), |p| {
                    format!("another agent (pid {p})")
                });
                return Err(format!("{}: in use by {who}", self.store_dir.display()).into());
            }
            other => other?,
        };
        for a in &self.extra_anchors {
            store.add_extra_anchor(a.clone());
        }
        let (config, diagnostics) = client_config(
            self.provider.clone(),
            store.root_cert_store(),
            Protocol::Mqtt,
            8883,
            Some((self.client_auth.0.clone(), self.client_auth.1.clone_key())),
        )?;
        let mut options = mqtt_options(&self.endpoint, &self.thing, config);
        options.set_keep_alive(Duration::from_secs(30));
        // A persistent session: QoS 1 messages for this device wait at the broker while it
        // is away (AWS IoT keeps them for an hour by default).
        options.set_clean_session(false);
        let (client, mut connection) = Client::new(options, 64);
        let mut jobs = JobsClient::new(&self.thing)?;
        let start = Instant::now();
        let mono = || start.elapsed();
        let mut backoff = Backoff { failures: 0 };
        let mut reports = Vec::new();
        let mut done = false;
        let mut pending: Option<Pending> = None;
        // The named shadow (iot-roots): on every connect, after each job, and when the
        // earliest deadline crosses a threshold.
        let mut watch = DeadlineWatch::new();
        // The baseline: every connect publishes anyway, so a check before the first one
        // must not publish for the watch's first call.
        watch.crossed(store.status((self.clock)()).days_to_earliest_deadline);
        let mut last_deadline_check = Duration::ZERO;
        let publish_shadow = |store: &TrustStore| {
            let p = shadow_update(&self.thing, store, (self.clock)());
            client.publish(p.topic, QoS::AtLeastOnce, false, p.payload)
        };
        tracing::info!(endpoint = self.endpoint.host(), thing = %self.thing, "connecting");
        loop {
            if self.stop.load(Ordering::Relaxed) {
                // Between steps: nothing is half-applied (the store is crash-safe anyway).
                // Let the DISCONNECT go out if the broker is there; never wait for one that
                // is not.
                tracing::info!("stopping");
                let _ = client.disconnect();
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until {
                    match connection.recv_timeout(Duration::from_millis(100)) {
                        Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) => {
                            break
                        }
                        _ => {}
                    }
                }
                break;
            }
            let wait = jobs
                .poll_timeout()
                .into_iter()
                .chain(pending.as_ref().map(|p| p.due))
                .min()
                .map_or(Duration::from_secs(1), |t| t.saturating_sub(mono()))
                .clamp(Duration::from_millis(10), Duration::from_secs(1));
            match connection.recv_timeout(wait) {
                Err(_) => jobs.handle_timeout(mono()),
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    backoff.failures = 0;
                    tracing::info!("connected; subscribing and asking for the next job");
                    for topic in jobs.subscriptions() {
                        client.subscribe(topic, QoS::AtLeastOnce)?;
                    }
                    jobs.on_connect(mono());
                    watch.crossed(store.status((self.clock)()).days_to_earliest_deadline);
                    publish_shadow(&store)?;
                }
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    if let Err(e) = jobs.handle_message(&p.topic, &p.payload, mono()) {
                        tracing::warn!(error = %e, "ignored a message");
                    }
                }
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    if let Some(d) = diagnostics.unknown_issuer() {
                        return Err(format!("{e}: {d}").into());
                    }
                    if self.max_reconnects.is_some_and(|m| backoff.failures >= m) {
                        return Err(
                            format!("gave up after {} reconnects: {e}", backoff.failures).into(),
                        );
                    }
                    let wait = backoff.next();
                    tracing::warn!(error = %e, wait = ?wait, "connection lost; reconnecting");
                    // In slices, so that a stop is honoured within 100 ms, not a minute.
                    let until = Instant::now() + wait;
                    while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            while let Some(event) = jobs.poll_event() {
                match event {
                    jobs::Event::ApplyBundle { job_id, bundle } => {
                        pending = Some(Pending {
                            job_id,
                            source: Source::Inline(bundle),
                            attempts: 0,
                            due: mono(),
                        });
                    }
                    jobs::Event::DownloadBundle {
                        job_id,
                        url,
                        max_bytes,
                    } => {
                        pending = Some(Pending {
                            job_id,
                            source: Source::Url { url, max_bytes },
                            attempts: 0,
                            due: mono(),
                        });
                    }
                    jobs::Event::JobFinished { job_id, status } => {
                        tracing::info!(job = %job_id, status = ?status, "job finished");
                        reports.push(Report { job_id, status });
                        publish_shadow(&store)?;
                        done = max_jobs.is_some_and(|m| reports.len() >= m);
                    }
                    jobs::Event::JobCancelled { job_id } => {
                        tracing::info!(job = %job_id, "cancelled by the service");
                        pending = pending.filter(|p| p.job_id != job_id);
                    }
                    jobs::Event::Idle => tracing::info!("waiting for a job"),
                    other => tracing::info!(event = ?other, "jobs"),
                }
            }
            if let Some(mut job) = pending.take_if(|p| mono() >= p.due) {
                job.attempts += 1;
                let outcome = self.attempt(&mut store, &job);
                // The shadow published when the job finishes carries the new deadline: the
                // watch starts from it, or its next check would publish the same state again.
                watch.crossed(store.status((self.clock)()).days_to_earliest_deadline);
                match outcome {
                    ApplyOutcome::Failed {
                        reason: FailureReason::HealthCheckUnavailable,
                        detail,
                    } if job.attempts < HEALTH_CHECK_ATTEMPTS => {
                        let wait = job.retry_wait();
                        tracing::warn!(
                            job = %job.job_id,
                            detail = %detail,
                            wait = ?wait,
                            attempt = job.attempts,
                            of = HEALTH_CHECK_ATTEMPTS,
                            "health check could not run; trying again"
                        );
                        job.due = mono() + wait;
                        pending = Some(job);
                    }
                    outcome => {
                        let outcome = match outcome {
                            // Out of tries: the status says how many there were.
                            ApplyOutcome::Failed {
                                reason: reason @ FailureReason::HealthCheckUnavailable,
                                detail,
                            } => ApplyOutcome::Failed {
                                reason,
                                detail: format!("{detail} (tried {} times)", job.attempts),
                            },
                            other => other,
                        };
                        tracing::info!(job = %job.job_id, outcome = ?outcome, "outcome");
                        // Not the job in hand any more (cancelled or timed out meanwhile):
                        // the service has its status; the store has the truth.
                        if let Err(e) = jobs.report(&job.job_id, outcome, mono()) {
                            tracing::warn!(job = %job.job_id, error = %e, "not reported");
                        }
                    }
                }
            }
            if mono().saturating_sub(last_deadline_check) >= self.deadline_check {
                last_deadline_check = mono();
                if watch.crossed(store.status((self.clock)()).days_to_earliest_deadline) {
                    tracing::info!("the earliest deadline crossed a threshold; reporting");
                    publish_shadow(&store)?;
                }
            }
            while let Some(p) = jobs.poll_publish() {
                let is_update = p.topic.ends_with("/update");
                client.publish(p.topic, QoS::AtLeastOnce, false, p.payload)?;
                if is_update {
                    crash_point("reported");
                }
            }
            if done {
                client.disconnect()?;
                done = false;
            }
        }
        Ok(reports)
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error>> {
    use rustls_pki_types::pem::PemObject as _;
    // Structured logs on stderr (journald keeps them under systemd): one line per step, its
    // fields as key=value. RUST_LOG-style filtering is left to the fleet's own builds.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .init();
    let file = std::env::var_os("AGENT_CONFIG").map(PathBuf::from);
    let set = settings(file.as_deref(), |k| std::env::var(k).ok())?;
    let get = |k: &str| set.get(k).cloned().unwrap_or_default();
    let endpoint = Endpoint::parse(&get("endpoint"))?;
    for w in endpoint.warnings() {
        tracing::warn!("{w}");
    }
    let chain = rustls_pki_types::CertificateDer::pem_file_iter(get("cert"))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(get("key"))?;
    let signers = aws_iot_roots::bundle::SignerSet::from_json(&std::fs::read(get("signers"))?)
        .map_err(|e| format!("{}: {e}", get("signers")))?;
    let extra_anchors = match set.get("extra_ca") {
        Some(path) => aws_iot_roots::client::anchors_from_pem(&std::fs::read(path)?)?,
        None => Vec::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let agent = Agent {
        thing: get("thing_name"),
        health_target: endpoint.clone(),
        endpoint,
        provider: Arc::new(rustls::crypto::ring::default_provider()),
        client_auth: (chain, key),
        store_dir: PathBuf::from(get("state_dir")),
        store_config: StoreConfig::new(get("fleet"), signers),
        extra_anchors,
        clock: match std::env::var("IOT_ROOTS_NOW") {
            Ok(v) => {
                let t =
                    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("IOT_ROOTS_NOW={v:?}: {e}"))?;
                let secs =
                    u64::try_from(t.unix_timestamp()).map_err(|_| "IOT_ROOTS_NOW: before 1970")?;
                let _ = FIXED_NOW.set(UnixTime::since_unix_epoch(Duration::from_secs(secs)));
                fixed_clock
            }
            Err(_) => wall_clock,
        },
        max_reconnects: None,
        deadline_check: DEADLINE_CHECK,
        stop,
    };
    agent.run(None)?;
    Ok(())
}
