//! A simulated fleet rolling out root bundles: `FLEET_SIM_DEVICES` agents (200 unless set),
//! each the example agent as its own process with its own state directory, MQTT session and
//! store, against one real mosquitto and the Jobs service double (tests/common/jobs_service.rs)
//! releasing the job at `maximumPerMinute` with abort criteria. Three rollouts, in order:
//!
//! 1. a good bundle: every device SUCCEEDED, and runs it after a restart;
//! 2. a bundle whose health check fails on 15% of devices (they reach the broker through an
//!    endpoint whose CA the bundle lacks): the abort criterion cancels the rest, and every
//!    device still connects with the roots it has;
//! 3. a good bundle while 10% of devices are SIGKILLed mid-job and restarted, and the broker
//!    restarts once (every connection drops; persistent sessions are kept, as AWS IoT keeps
//!    them): every device ends old or new, and its job status says which.
//!
//! It prints the figures BENCHMARKS.md quotes (scripts/fleet-sim.sh runs it at 50, 200 and
//! 1,000 devices, with `FLEET_SIM_AGENT` naming a release build and `FLEET_SIM_REPORT` a
//! file for the figures); it asserts counts and outcomes, never times. Every wait is bounded.
#![cfg(all(
    feature = "rumqttc",
    feature = "store",
    feature = "signing",
    feature = "jobs",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_iot_roots::bundle::{BundleBuilder, Limits};
use aws_iot_roots::client::{client_config, mqtt_options, Endpoint, Protocol};
use aws_iot_roots::store::{HealthCheck as _, StoreConfig, TlsHandshakeCheck, TrustStore};
use base64::Engine as _;
use common::bundles::*;
use common::jobs_service::{AbortCriteria, JobsService, Rollout, RolloutSummary};
use common::mosquitto::{Mosquitto, Pki};
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};

/// AWS IoT's highest rollout rate: the floor for N devices is N × 60 ms.
const MAXIMUM_PER_MINUTE: u32 = 1000;
/// One device in this many reaches the broker through the second endpoint (15%: 3 of 20).
const SECOND_ENDPOINT: [usize; 3] = [3, 10, 17];
/// The longest any rollout may take here: far above its floor at any size this runs at.
const ROLLOUT_BOUND: Duration = Duration::from_secs(600);
/// The longest the fleet may take to come up (or back) with every shadow reported.
const START_BOUND: Duration = Duration::from_secs(300);

fn devices() -> usize {
    std::env::var("FLEET_SIM_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn on_second_endpoint(i: usize) -> bool {
    SECOND_ENDPOINT.contains(&(i % 20))
}

/// What every agent process shares: its binary, the device certificate and key, the
/// application anchors (both test server CAs) and the signer set.
struct Sim {
    bin: PathBuf,
    files: PathBuf,
}

struct Device {
    thing: String,
    port: u16,
    state: PathBuf,
    log: PathBuf,
}

struct Fleet {
    sim: Arc<Sim>,
    devices: Arc<Vec<Device>>,
    children: Arc<Mutex<Vec<Option<Child>>>>,
}

fn spawn(sim: &Sim, d: &Device) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&d.log)
        .expect("agent log");
    Command::new(&sim.bin)
        .env_clear()
        .env("IOT_ENDPOINT", format!("localhost:{}", d.port))
        .env("THING_NAME", &d.thing)
        .env("CERT", sim.files.join("device.pem"))
        .env("KEY", sim.files.join("device.key"))
        .env("EXTRA_CA", sim.files.join("ca.pem"))
        .env("SIGNERS", sim.files.join("set.json"))
        .env("STATE_DIR", &d.state)
        .env("FLEET", FLEET)
        .env("IOT_ROOTS_NOW", common::rfc3339(CLOCK))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start an agent")
}

fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// VmHWM (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Fleet {
    fn start_all(&self) {
        let mut children = self.children.lock().expect("lock");
        for (i, d) in self.devices.iter().enumerate() {
            children[i] = Some(spawn(&self.sim, d));
        }
    }

    /// SIGTERM to every agent; each must exit cleanly.
    fn stop_all(&self) {
        let mut children = self.children.lock().expect("lock");
        for c in children.iter().flatten() {
            sigterm(c);
        }
        for (i, c) in children.iter_mut().enumerate() {
            if let Some(mut child) = c.take() {
                let status = wait_exit(&mut child, Duration::from_secs(20));
                assert!(
                    status.is_some_and(|s| s.success()),
                    "{}: SIGTERM stops it cleanly ({status:?}); log:\n{}",
                    self.devices[i].thing,
                    tail(&self.devices[i].log)
                );
            }
        }
    }

    /// Each running agent's peak RSS, in KiB.
    fn peak_rss(&self) -> Vec<u64> {
        let children = self.children.lock().expect("lock");
        children
            .iter()
            .flatten()
            .filter_map(|c| peak_rss_kib(c.id()))
            .collect()
    }

    fn index(&self, thing: &str) -> usize {
        self.devices
            .iter()
            .position(|d| d.thing == thing)
            .expect("a device of the fleet")
    }

    fn store(&self, i: usize, keys: &Keys) -> TrustStore {
        TrustStore::open_read_only(&self.devices[i].state, StoreConfig::new(FLEET, keys.set(1)))
            .expect("the device's store opens")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Ok(mut children) = self.children.lock() {
            for c in children.iter_mut().flatten() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn signed(keys: &Keys, version: u64, ders: &[CertificateDer<'static>]) -> Value {
    let mut b = BundleBuilder::new(FLEET, version, at(ISSUED), at(EXPIRES), keys.set(1));
    for d in ders {
        b = b.root(d.clone(), None);
    }
    let mut bundle = b.build(&Limits::default()).expect("bundle");
    bundle.sign(&keys.keys[0]).expect("sign");
    json!({
        "operation": aws_iot_roots::jobs::OPERATION,
        "bundle": base64::engine::general_purpose::STANDARD.encode(bundle.to_bytes()),
    })
}

/// Waits until every device published a shadow for which `ok` holds.
fn wait_shadows(service: &JobsService, fleet: &Fleet, ok: impl Fn(&Value) -> bool) {
    let until = Instant::now() + START_BOUND;
    loop {
        let shadows = service.shadows();
        let missing: Vec<&str> = fleet
            .devices
            .iter()
            .filter(|d| !shadows.get(&d.thing).is_some_and(&ok))
            .map(|d| d.thing.as_str())
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "{} devices did not report (first: {}); its log:\n{}",
            missing.len(),
            missing[0],
            tail(&fleet.devices[fleet.index(missing[0])].log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts every device's execution ended `want`, naming those that did not, with logs.
fn assert_all(fleet: &Fleet, s: &RolloutSummary, want: &str) {
    let odd: Vec<String> = fleet
        .devices
        .iter()
        .filter(|d| s.statuses.get(&d.thing).map(String::as_str) != Some(want))
        .map(|d| {
            format!(
                "{}: {:?}\n{}",
                d.thing,
                s.statuses.get(&d.thing),
                tail(&d.log)
            )
        })
        .collect();
    assert!(odd.is_empty(), "not {want}:\n{}", odd.join("\n"));
}

/// One rollout's figures, as BENCHMARKS.md shows them.
struct Figures {
    name: &'static str,
    summary: RolloutSummary,
    /// (from devices, to devices), per device of the fleet.
    messages_per_device: (f64, f64),
    max_connected: u64,
}

/// Publishes from and to devices so far, summed over the fleet.
fn messages(service: &JobsService) -> (u64, u64) {
    service.counts().values().fold((0, 0), |(from, to), c| {
        (from + c.from_device, to + c.to_device)
    })
}

fn report(n: usize, figures: &[Figures], rss: &[u64], kills: (usize, usize)) {
    let mut rss = rss.to_vec();
    rss.sort_unstable();
    let median = rss.get(rss.len() / 2).copied().unwrap_or(0);
    let max = rss.last().copied().unwrap_or(0);
    let mut out = String::new();
    for f in figures {
        let s = &f.summary;
        out.push_str(&format!(
            "fleet-sim devices={n} rollout={} wall_s={:.2} floor_s={:.2} ratio={:.3} \
             notified={} succeeded={} failed={} canceled={} aborted={} \
             messages_per_device={:.2} (from={:.2} to={:.2}) max_connected={} \
             rss_median_kib={median} \
             rss_max_kib={max} killed_before_commit={} killed_after_commit={}\n",
            f.name,
            s.wall.as_secs_f64(),
            s.floor.as_secs_f64(),
            s.wall.as_secs_f64() / s.floor.as_secs_f64(),
            s.notified,
            s.count("SUCCEEDED"),
            s.count("FAILED"),
            s.count("CANCELED"),
            s.aborted,
            f.messages_per_device.0 + f.messages_per_device.1,
            f.messages_per_device.0,
            f.messages_per_device.1,
            f.max_connected,
            kills.0,
            kills.1,
        ));
    }
    eprint!("{out}");
    if let Some(path) = std::env::var_os("FLEET_SIM_REPORT") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file");
        f.write_all(out.as_bytes()).expect("report");
    }
}

/// Runs `r` and returns its summary with the messages and connections it cost.
fn run(
    service: &JobsService,
    name: &'static str,
    r: Rollout,
    n: usize,
    during: impl FnOnce(&common::jobs_service::RolloutHandle),
) -> Figures {
    let before = messages(service);
    let handle = service.rollout(r);
    during(&handle);
    let summary = handle.wait(ROLLOUT_BOUND);
    // Let the last shadow publishes land before counting.
    std::thread::sleep(Duration::from_millis(500));
    Figures {
        name,
        summary,
        messages_per_device: {
            let after = messages(service);
            (
                (after.0 - before.0) as f64 / n as f64,
                (after.1 - before.1) as f64 / n as f64,
            )
        },
        max_connected: service.max_connected(),
    }
}

#[test]
fn a_simulated_fleet_rolls_out_aborts_and_survives_kills_and_a_broker_restart() {
    let n = devices();
    let pki = Pki::new();
    // The second endpoint's server chain comes from another CA: the one rollout 2 lacks.
    let other = Pki::new();
    let Some(mut broker) = Mosquitto::start_with(&pki, Some(&other)) else {
        return;
    };
    let second_port = broker.second_tls_port.expect("second listener");
    let keys = Keys::new(1);
    let root = tempfile::tempdir().expect("tmp");
    let files = root.path().join("files");
    std::fs::create_dir(&files).expect("files");
    std::fs::write(files.join("device.pem"), pki.client_chain_pem()).expect("cert");
    std::fs::write(files.join("device.key"), pki.client_key_pem()).expect("key");
    std::fs::write(
        files.join("ca.pem"),
        pki.server_ca_pem() + &other.server_ca_pem(),
    )
    .expect("ca");
    std::fs::write(files.join("set.json"), keys.set(1).to_json()).expect("set");
    // FLEET_SIM_AGENT: another build of the agent (scripts/fleet-sim.sh measures release).
    let bin = match std::env::var_os("FLEET_SIM_AGENT") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .expect("test binary")
            .parent()
            .and_then(Path::parent)
            .expect("target dir")
            .join("examples/fleet_agent"),
    };
    assert!(bin.exists(), "{} (built by cargo test)", bin.display());

    let devices: Vec<Device> = (0..n)
        .map(|i| {
            let state = root.path().join(format!("state-{i:04}"));
            std::fs::create_dir(&state).expect("state dir");
            Device {
                thing: format!("sim-{i:04}"),
                port: if on_second_endpoint(i) {
                    second_port
                } else {
                    broker.tls_port
                },
                state,
                log: root.path().join(format!("agent-{i:04}.log")),
            }
        })
        .collect();
    let fleet = Fleet {
        sim: Arc::new(Sim { bin, files }),
        devices: Arc::new(devices),
        children: Arc::new(Mutex::new((0..n).map(|_| None).collect())),
    };

    // The service double, with a request queue larger than any burst of its replies.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.server_ca.der().clone()).expect("server CA");
    let (config, _) = client_config(
        provider.clone(),
        roots,
        Protocol::Mqtt,
        8883,
        Some(pki.client_auth()),
    )
    .expect("config");
    let endpoint = Endpoint::parse(&format!("localhost:{}", broker.tls_port)).expect("endpoint");
    let mut options = mqtt_options(&endpoint, "jobs-service", config);
    // As AWS IoT's own subscriptions, the double's outlive a broker restart.
    options.set_clean_session(false);
    let (client, connection) = rumqttc::Client::new(options, 64 * n);
    let service = JobsService::start_with(client, connection, Duration::from_secs(1800));

    let targets: Vec<String> = fleet.devices.iter().map(|d| d.thing.clone()).collect();
    let test_ca: CertificateDer<'static> = pki.server_ca.der().clone();
    let other_ca: CertificateDer<'static> = other.server_ca.der().clone();
    let ca3: CertificateDer<'static> = root_der("Amazon Root CA 3").into();
    let version = |v: u64| move |s: &Value| s["version"] == v && s["source"] == "bundle";

    fleet.start_all();
    wait_shadows(&service, &fleet, |s| s["source"] == "compiled-in");
    let mut figures = Vec::new();

    // 1. A good bundle: every device SUCCEEDED, and runs it after a restart.
    let good = signed(&keys, 2, &[test_ca.clone(), other_ca.clone(), ca3.clone()]);
    let rollout = Rollout {
        job_id: "roots-v2".into(),
        document: good,
        targets: targets.clone(),
        maximum_per_minute: MAXIMUM_PER_MINUTE,
        abort: None,
    };
    let f = run(&service, "good", rollout, n, |_| {});
    assert_all(&fleet, &f.summary, "SUCCEEDED");
    figures.push(f);
    let rss_first = fleet.peak_rss();
    service.forget_shadows();
    fleet.stop_all();
    fleet.start_all();
    wait_shadows(&service, &fleet, version(2));

    // 2. Missing the second endpoint's CA: its devices' health checks fail, and the abort
    //    criterion (FAILED at 10% or more, after 20 things) cancels the rest.
    let bad = signed(&keys, 3, &[test_ca.clone(), ca3.clone()]);
    let rollout = Rollout {
        job_id: "roots-v3".into(),
        document: bad,
        targets: targets.clone(),
        maximum_per_minute: MAXIMUM_PER_MINUTE,
        abort: Some(AbortCriteria {
            failure_type: "FAILED",
            threshold_percentage: 10.0,
            min_number_of_executed_things: 20,
        }),
    };
    let f = run(&service, "health-check-fails-on-15%", rollout, n, |_| {});
    let s = &f.summary;
    assert!(s.aborted, "the abort criterion trips: {:?}", s.statuses);
    assert!(
        s.notified < n,
        "the abort stops notifying ({} of {n})",
        s.notified
    );
    for (thing, status) in &s.statuses {
        let i = fleet.index(thing);
        let store = fleet.store(i, &keys);
        let active = store.active_bundle().map(|b| b.payload().version);
        match status.as_str() {
            "SUCCEEDED" => {
                assert!(!on_second_endpoint(i), "{thing}");
                assert_eq!(active, Some(3), "{thing}: SUCCEEDED runs the new bundle");
            }
            "FAILED" => {
                assert!(
                    on_second_endpoint(i),
                    "{thing}: only its endpoint's check fails"
                );
                assert_eq!(active, Some(2), "{thing}: FAILED keeps the old bundle");
            }
            "CANCELED" => assert_eq!(active, Some(2), "{thing}: CANCELED changes nothing"),
            other => panic!("{thing}: {other}"),
        }
    }
    // No device is left without working roots: each reaches its own endpoint trusting only
    // its store's signed roots (the application anchors left out), by the handshake the
    // store's own health check makes.
    for (i, d) in fleet.devices.iter().enumerate() {
        let store = fleet.store(i, &keys);
        let (chain, key) = pki.client_auth();
        let mut check = TlsHandshakeCheck::new("localhost", d.port, "localhost", provider.clone())
            .expect("server name")
            .with_client_auth(chain, key);
        check
            .check(&store.signed_anchors())
            .unwrap_or_else(|e| panic!("{}: its roots reach its endpoint: {e}", d.thing));
    }
    figures.push(f);

    // 3. A good bundle while every tenth device is SIGKILLed as its job goes IN_PROGRESS
    //    and started again, and the broker restarts once, halfway.
    let kill: Vec<usize> = (0..n).filter(|i| i % 10 == 5).collect();
    let in_progress = service.watch_in_progress();
    let killer = {
        let (children, devices, sim) = (
            fleet.children.clone(),
            fleet.devices.clone(),
            fleet.sim.clone(),
        );
        let kill = kill.clone();
        let signers = keys.set(1);
        std::thread::spawn(move || {
            let mut killed: Vec<(usize, bool)> = Vec::new();
            let until = Instant::now() + ROLLOUT_BOUND;
            while killed.len() < kill.len() && Instant::now() < until {
                let Ok((thing, job)) = in_progress.recv_timeout(Duration::from_millis(200)) else {
                    continue;
                };
                let Some(i) = devices.iter().position(|d| d.thing == thing) else {
                    continue;
                };
                if job != "roots-v4" || !kill.contains(&i) || killed.iter().any(|k| k.0 == i) {
                    continue;
                }
                let mut children = children.lock().expect("lock");
                if let Some(mut c) = children[i].take() {
                    let _ = c.kill(); // SIGKILL
                    let _ = c.wait();
                }
                // Where the kill landed: before or after the commit.
                let committed = TrustStore::open_read_only(
                    &devices[i].state,
                    StoreConfig::new(FLEET, signers.clone()),
                )
                .ok()
                .and_then(|s| s.active_bundle().map(|b| b.payload().version))
                    == Some(4);
                std::thread::sleep(Duration::from_millis(100));
                children[i] = Some(spawn(&sim, &devices[i]));
                killed.push((i, committed));
            }
            killed
        })
    };
    let good = signed(&keys, 4, &[test_ca, other_ca, ca3]);
    let rollout = Rollout {
        job_id: "roots-v4".into(),
        document: good,
        targets: targets.clone(),
        maximum_per_minute: MAXIMUM_PER_MINUTE,
        abort: None,
    };
    let mut restarted = false;
    let f = run(&service, "kills-and-a-broker-restart", rollout, n, |h| {
        let until = Instant::now() + ROLLOUT_BOUND;
        while h.notified() < n / 2 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        broker.restart_keeping_sessions();
        restarted = true;
    });
    assert!(restarted);
    let killed = killer.join().expect("killer");
    assert_eq!(
        killed.len(),
        kill.len(),
        "every chosen device was killed mid-job"
    );
    // Each killed device's last accepted update tells what happened: a kill before the
    // commit left the old bundle, so the restarted agent applied it.
    let mut last: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    while let Some(u) = service.next_update(Duration::ZERO) {
        if u.accepted && u.job_id == "roots-v4" {
            last.insert(u.thing.clone(), u.body);
        }
    }
    for &(i, committed) in &killed {
        let thing = &fleet.devices[i].thing;
        let body = &last[thing];
        assert_eq!(body["statusDetails"]["version"], "4", "{thing}: {body}");
        let reason = body["statusDetails"]["reason"].as_str().unwrap_or_default();
        if committed {
            assert!(
                reason == "already-active" || reason == "applied",
                "{thing}: {reason}"
            );
        } else {
            assert_eq!(reason, "applied", "{thing}: killed before the commit");
        }
    }
    let before_commit = killed.iter().filter(|k| !k.1).count();
    assert_all(&fleet, &f.summary, "SUCCEEDED");
    figures.push(f);
    wait_shadows(&service, &fleet, version(4));
    let rss = fleet.peak_rss();
    fleet.stop_all();
    for i in 0..n {
        let store = fleet.store(i, &keys);
        assert_eq!(
            store.active_bundle().map(|b| b.payload().version),
            Some(4),
            "{}: SUCCEEDED runs the new bundle",
            fleet.devices[i].thing
        );
    }
    let all: Vec<u64> = rss_first.into_iter().chain(rss).collect();
    report(
        n,
        &figures,
        &all,
        (before_commit, killed.len() - before_commit),
    );
}
