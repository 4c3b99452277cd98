//! A test double of the AWS IoT Jobs service's device side, over a real MQTT broker: queued
//! executions per thing, `start-next`, `{jobId}/update` with `expectedVersion`,
//! `{jobId}/get`, and the `notify-next` the service sends when the next job changes. It
//! answers on the `/accepted` and `/rejected` topics as the service does, and records every
//! update a device sends. Bounded: it stops when dropped, or after its lifetime.
//!
//! It also runs rollouts ([`JobsService::rollout`]): a job for many things, released at
//! `maximumPerMinute` (AWS's `jobExecutionsRolloutConfig`), and aborted by an abort
//! criterion (`abortConfig`: a failure type above a percentage after a minimum number of
//! things were notified; the action is CANCEL without force, so QUEUED executions become
//! CANCELED, IN_PROGRESS ones finish, and things not yet notified never get the job). It
//! counts the messages each thing sends and receives, and samples the broker's connection
//! count (`$SYS/broker/clients/connected`).
//!
//! Production uses AWS IoT Jobs. This double exists to test the device side, at scale too:
//! it models one execution per job and thing, versions, the replies' codes, a constant
//! rollout rate and abort criteria. It does not model exponential rollout rates, scheduled
//! or continuous jobs, retry configurations, `inProgressTimeoutInMinutes`/TIMED_OUT (the
//! device's step timeout is tested in tests/jobs.rs), forced cancellation, the service's
//! throttles and message-size limits, IoT policies, presigned URLs, or its response to
//! publishers that did not subscribe. Its percentage is of finished executions; AWS does not
//! document the denominator precisely.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, Packet, QoS};
use serde_json::{json, Value};

/// The longest a service double runs: no test needs more.
const LIFETIME: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct Execution {
    pub job_id: String,
    pub status: String,
    pub version: u64,
    pub document: Value,
}

/// What a device sent to `{jobId}/update`, and what the service answered.
#[derive(Clone, Debug)]
pub struct Update {
    pub thing: String,
    pub job_id: String,
    pub body: Value,
    pub accepted: bool,
}

/// The publishes one thing sent to the service and received from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub from_device: u64,
    pub to_device: u64,
}

/// AWS's `AbortCriteria` with action CANCEL.
#[derive(Clone, Debug)]
pub struct AbortCriteria {
    /// The execution status that counts as a failure (`FAILED`, `REJECTED`).
    pub failure_type: &'static str,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: usize,
}

/// One job for many things, as `CreateJob` with a rollout configuration.
#[derive(Clone, Debug)]
pub struct Rollout {
    pub job_id: String,
    pub document: Value,
    pub targets: Vec<String>,
    /// `jobExecutionsRolloutConfig.maximumPerMinute` (AWS allows 1 to 1,000).
    pub maximum_per_minute: u32,
    pub abort: Option<AbortCriteria>,
}

#[derive(Debug)]
struct JobProgress {
    abort: Option<AbortCriteria>,
    notified: usize,
    finished: usize,
    failed: usize,
    aborted: bool,
    released_all: bool,
    last_finished: Option<Instant>,
}

#[derive(Default)]
struct State {
    things: BTreeMap<String, Vec<Execution>>,
    /// Codes to answer the next updates with instead of applying them (e.g. VersionMismatch).
    reject_updates: Vec<String>,
    /// The last `reported` state each thing published to its `iot-roots` named shadow.
    shadows: BTreeMap<String, Value>,
    /// How many shadow updates each thing published.
    shadow_publishes: BTreeMap<String, u64>,
    /// Rollouts by job id.
    jobs: BTreeMap<String, JobProgress>,
    /// Told of every execution that goes IN_PROGRESS: (thing, job id).
    in_progress: Option<Sender<(String, String)>>,
    /// The highest `$SYS/broker/clients/connected` the broker published.
    max_connected: u64,
}

/// The service's side of the wire: every publish to a thing is counted.
#[derive(Clone)]
struct Tx {
    client: Client,
    counts: Arc<Mutex<BTreeMap<String, Counts>>>,
}

fn thing_of(topic: &str) -> Option<&str> {
    topic.strip_prefix("$aws/things/")?.split('/').next()
}

impl Tx {
    fn publish(&self, topic: String, body: &Value) {
        if let Some(thing) = thing_of(&topic) {
            let mut c = self.counts.lock().expect("lock");
            c.entry(thing.into()).or_default().to_device += 1;
        }
        let _ = self
            .client
            .publish(topic, QoS::AtLeastOnce, false, body.to_string());
    }
}

pub struct JobsService {
    client: Client,
    tx: Tx,
    state: Arc<Mutex<State>>,
    updates: Receiver<Update>,
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

fn terminal(status: &str) -> bool {
    !matches!(status, "QUEUED" | "IN_PROGRESS")
}

fn execution_json(e: &Execution) -> Value {
    json!({ "jobId": e.job_id, "status": e.status, "versionNumber": e.version,
            "executionNumber": 1, "queuedAt": 1, "lastUpdatedAt": 2, "jobDocument": e.document })
}

impl JobsService {
    /// Runs the double on `client`/`connection` (already configured for the broker).
    pub fn start(client: Client, connection: Connection) -> Self {
        Self::start_with(client, connection, LIFETIME)
    }

    /// As [`JobsService::start`], running for at most `lifetime`. A fleet's client needs a
    /// request queue larger than any burst of replies (rumqttc's `publish` blocks when it is
    /// full, and this thread is the one that drains it).
    pub fn start_with(client: Client, mut connection: Connection, lifetime: Duration) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let tx = Tx {
            client: client.clone(),
            counts: Arc::default(),
        };
        let (updates_tx, updates) = channel();
        let (stop, stop_rx) = channel::<()>();
        let (t, s) = (tx.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + lifetime;
            while Instant::now() < until && stop_rx.try_recv().is_err() {
                match connection.recv_timeout(Duration::from_millis(100)) {
                    // Every (re)connect: a broker restart loses the subscriptions.
                    Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => subscribe(&t.client),
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        if p.topic == SYS_CONNECTED {
                            let n = std::str::from_utf8(&p.payload)
                                .ok()
                                .and_then(|v| v.trim().parse::<u64>().ok())
                                .unwrap_or(0);
                            let mut st = s.lock().expect("lock");
                            st.max_connected = st.max_connected.max(n);
                            continue;
                        }
                        if let Some(thing) = thing_of(&p.topic) {
                            let mut c = t.counts.lock().expect("lock");
                            c.entry(thing.into()).or_default().from_device += 1;
                        }
                        let body: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        serve(&t, &s, &updates_tx, &p.topic, body);
                    }
                    Ok(Err(_)) => std::thread::sleep(Duration::from_millis(100)),
                    _ => {}
                }
            }
        });
        // Let the subscriptions land before anything is queued.
        std::thread::sleep(Duration::from_millis(300));
        Self {
            client,
            tx,
            state,
            updates,
            stop,
            thread: Some(thread),
        }
    }

    /// Queues a job for `thing` and sends `notify-next` if it became the next one.
    pub fn queue(&self, thing: &str, job_id: &str, document: Value) {
        let next = enqueue(
            &mut self.state.lock().expect("lock"),
            thing,
            job_id,
            document,
        );
        notify(&self.tx, thing, next.as_ref());
    }

    /// Sends `notify-next` for `thing` as it stands (a duplicate, as the service may send).
    pub fn notify_again(&self, thing: &str) {
        let next = {
            let st = self.state.lock().expect("lock");
            st.things.get(thing).and_then(|l| next_of(l))
        };
        notify(&self.tx, thing, next.as_ref());
    }

    /// Cancels a job: its execution becomes CANCELED and the next job is announced.
    pub fn cancel(&self, thing: &str, job_id: &str) {
        let next = {
            let mut st = self.state.lock().expect("lock");
            let list = st.things.entry(thing.into()).or_default();
            for e in list.iter_mut().filter(|e| e.job_id == job_id) {
                e.status = "CANCELED".into();
                e.version += 1;
            }
            next_of(list)
        };
        notify(&self.tx, thing, next.as_ref());
    }

    /// Answers the next update with this error code instead of applying it.
    pub fn reject_next_update(&self, code: &str) {
        self.state
            .lock()
            .expect("lock")
            .reject_updates
            .push(code.into());
    }

    /// The status of an execution.
    pub fn status(&self, thing: &str, job_id: &str) -> Option<String> {
        let st = self.state.lock().expect("lock");
        st.things
            .get(thing)?
            .iter()
            .find(|e| e.job_id == job_id)
            .map(|e| e.status.clone())
    }

    /// The last `reported` state `thing` published to its `iot-roots` shadow, once `ok` holds
    /// for it (waiting up to 5 s: the publish may still be on its way).
    pub fn shadow_where(&self, thing: &str, ok: impl Fn(&Value) -> bool) -> Option<Value> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let last = self.state.lock().expect("lock").shadows.get(thing).cloned();
            match last {
                Some(v) if ok(&v) => return Some(v),
                other if Instant::now() >= until => return other,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The next update a device sent, within `timeout`.
    pub fn next_update(&self, timeout: Duration) -> Option<Update> {
        self.updates.recv_timeout(timeout).ok()
    }

    /// Starts a rollout: its targets are notified in order at its rate until all are, or its
    /// abort criterion trips.
    pub fn rollout(&self, r: Rollout) -> RolloutHandle {
        assert!(
            (1..=1000).contains(&r.maximum_per_minute),
            "AWS allows 1 to 1,000"
        );
        let interval = Duration::from_secs(60) / r.maximum_per_minute;
        self.state.lock().expect("lock").jobs.insert(
            r.job_id.clone(),
            JobProgress {
                abort: r.abort.clone(),
                notified: 0,
                finished: 0,
                failed: 0,
                aborted: false,
                released_all: false,
                last_finished: None,
            },
        );
        let started = Instant::now();
        let (state, tx, job_id) = (self.state.clone(), self.tx.clone(), r.job_id.clone());
        let targets = r.targets.len();
        let thread = std::thread::spawn(move || {
            for (i, thing) in r.targets.iter().enumerate() {
                let at = started + interval * u32::try_from(i).expect("targets");
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                let next = {
                    let mut st = state.lock().expect("lock");
                    if st.jobs[&r.job_id].aborted {
                        break;
                    }
                    st.jobs.get_mut(&r.job_id).expect("job").notified += 1;
                    enqueue(&mut st, thing, &r.job_id, r.document.clone())
                };
                notify(&tx, thing, next.as_ref());
            }
            let mut st = state.lock().expect("lock");
            st.jobs.get_mut(&r.job_id).expect("job").released_all = true;
        });
        RolloutHandle {
            state: self.state.clone(),
            job_id,
            started,
            targets,
            interval,
            thread: Some(thread),
        }
    }

    /// Tells of every execution that goes IN_PROGRESS, as (thing, job id), from now on.
    pub fn watch_in_progress(&self) -> Receiver<(String, String)> {
        let (tell, rx) = channel();
        self.state.lock().expect("lock").in_progress = Some(tell);
        rx
    }

    /// The publishes each thing sent and received so far.
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        self.tx.counts.lock().expect("lock").clone()
    }

    /// The highest connected-clients count the broker published (every `sys_interval`, one
    /// second in tests/common/mosquitto.rs).
    pub fn max_connected(&self) -> u64 {
        self.state.lock().expect("lock").max_connected
    }

    /// The last shadow state of every thing that published one.
    pub fn shadows(&self) -> BTreeMap<String, Value> {
        self.state.lock().expect("lock").shadows.clone()
    }

    /// How many shadow updates `thing` published.
    pub fn shadow_publishes(&self, thing: &str) -> u64 {
        let st = self.state.lock().expect("lock");
        st.shadow_publishes.get(thing).copied().unwrap_or(0)
    }

    /// Forgets every shadow state (to see each thing publish again).
    pub fn forget_shadows(&self) {
        self.state.lock().expect("lock").shadows.clear();
    }
}

/// A rollout in progress.
pub struct RolloutHandle {
    state: Arc<Mutex<State>>,
    job_id: String,
    started: Instant,
    targets: usize,
    interval: Duration,
    thread: Option<JoinHandle<()>>,
}

/// How a rollout ended.
#[derive(Clone, Debug)]
pub struct RolloutSummary {
    /// From the first notification to the last finished execution.
    pub wall: Duration,
    /// The rate limit's floor for the whole target list: targets / maximumPerMinute.
    pub floor: Duration,
    pub notified: usize,
    pub aborted: bool,
    /// Each thing's execution status (things never notified are absent).
    pub statuses: BTreeMap<String, String>,
}

impl RolloutSummary {
    pub fn count(&self, status: &str) -> usize {
        self.statuses.values().filter(|s| *s == status).count()
    }
}

impl RolloutHandle {
    /// How many things were notified so far.
    pub fn notified(&self) -> usize {
        self.state.lock().expect("lock").jobs[&self.job_id].notified
    }

    /// Waits until every target was notified (or the job aborted) and every execution is
    /// terminal, for at most `within`; the summary says where it stands either way.
    pub fn wait(mut self, within: Duration) -> RolloutSummary {
        let until = Instant::now() + within;
        loop {
            let (done, summary) = self.summary();
            if done || Instant::now() >= until {
                if done {
                    if let Some(t) = self.thread.take() {
                        let _ = t.join();
                    }
                }
                return summary;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn summary(&self) -> (bool, RolloutSummary) {
        let st = self.state.lock().expect("lock");
        let job = &st.jobs[&self.job_id];
        let statuses: BTreeMap<String, String> = st
            .things
            .iter()
            .filter_map(|(thing, list)| {
                let e = list.iter().find(|e| e.job_id == self.job_id)?;
                Some((thing.clone(), e.status.clone()))
            })
            .collect();
        let done = (job.released_all || job.aborted) && statuses.values().all(|s| terminal(s));
        let end = match job.last_finished {
            Some(t) if done => t,
            _ => Instant::now(),
        };
        let summary = RolloutSummary {
            wall: end.saturating_duration_since(self.started),
            floor: self.interval * u32::try_from(self.targets).expect("targets"),
            notified: job.notified,
            aborted: job.aborted,
            statuses,
        };
        (done, summary)
    }
}

impl Drop for JobsService {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// mosquitto's connected-clients count, published every `sys_interval`.
const SYS_CONNECTED: &str = "$SYS/broker/clients/connected";

fn enqueue(st: &mut State, thing: &str, job_id: &str, document: Value) -> Option<Execution> {
    let list = st.things.entry(thing.into()).or_default();
    list.push(Execution {
        job_id: job_id.into(),
        status: "QUEUED".into(),
        version: 1,
        document,
    });
    next_of(list)
}

fn subscribe(client: &Client) {
    let _ = client.try_subscribe(SYS_CONNECTED, QoS::AtMostOnce);
    for t in ["start-next", "+/update", "+/get"] {
        let _ = client.try_subscribe(format!("$aws/things/+/jobs/{t}"), QoS::AtLeastOnce);
    }
    let _ = client.try_subscribe(
        "$aws/things/+/shadow/name/iot-roots/update",
        QoS::AtLeastOnce,
    );
}

fn next_of(list: &[Execution]) -> Option<Execution> {
    list.iter()
        .find(|e| e.status == "IN_PROGRESS")
        .or_else(|| list.iter().find(|e| e.status == "QUEUED"))
        .cloned()
}

fn notify(tx: &Tx, thing: &str, next: Option<&Execution>) {
    let body = match next {
        Some(e) => json!({ "timestamp": 1, "execution": execution_json(e) }),
        None => json!({ "timestamp": 1 }),
    };
    tx.publish(format!("$aws/things/{thing}/jobs/notify-next"), &body);
}

fn reply(tx: &Tx, topic: String, body: Value) {
    tx.publish(topic, &body);
}

fn serve(client: &Tx, state: &Mutex<State>, updates: &Sender<Update>, topic: &str, body: Value) {
    let Some(rest) = topic.strip_prefix("$aws/things/") else {
        return;
    };
    if let Some((thing, "iot-roots/update")) = rest.split_once("/shadow/name/") {
        let reported = body["state"]["reported"].clone();
        let mut st = state.lock().expect("lock");
        st.shadows.insert(thing.into(), reported);
        *st.shadow_publishes.entry(thing.into()).or_default() += 1;
        return;
    }
    let Some((thing, op)) = rest.split_once("/jobs/") else {
        return;
    };
    let base = format!("$aws/things/{thing}/jobs/");
    let token = body["clientToken"].clone();
    let mut st = state.lock().expect("lock");
    let reject_code = if op.ends_with("/update") && !st.reject_updates.is_empty() {
        Some(st.reject_updates.remove(0))
    } else {
        None
    };
    let list = st.things.entry(thing.into()).or_default();
    if op == "start-next" {
        let i = list
            .iter()
            .position(|e| e.status == "IN_PROGRESS")
            .or_else(|| list.iter().position(|e| e.status == "QUEUED"));
        let mut started = None;
        let body = match i.map(|i| &mut list[i]) {
            Some(e) => {
                if e.status == "QUEUED" {
                    e.status = "IN_PROGRESS".into();
                    e.version += 1;
                    started = Some(e.job_id.clone());
                }
                json!({ "clientToken": token, "timestamp": 1, "execution": execution_json(e) })
            }
            None => json!({ "clientToken": token, "timestamp": 1 }),
        };
        if let (Some(job_id), Some(tell)) = (started, &st.in_progress) {
            let _ = tell.send((thing.to_owned(), job_id));
        }
        drop(st);
        return reply(client, format!("{base}start-next/accepted"), body);
    }
    let Some((job_id, verb)) = op.rsplit_once('/') else {
        return;
    };
    let rejected =
        |code: &str| json!({ "clientToken": token, "code": code, "message": code, "timestamp": 1 });
    let Some(e) = list.iter_mut().find(|e| e.job_id == job_id) else {
        drop(st);
        return reply(
            client,
            format!("{base}{job_id}/{verb}/rejected"),
            rejected("ResourceNotFound"),
        );
    };
    match verb {
        "get" => {
            let b = json!({ "clientToken": token, "timestamp": 1, "execution": execution_json(e) });
            drop(st);
            reply(client, format!("{base}{job_id}/get/accepted"), b);
        }
        "update" => {
            let code = if let Some(c) = reject_code {
                Some(c)
            } else if terminal(&e.status) {
                Some("TerminalStateReached".to_owned())
            } else if body["expectedVersion"].as_u64() != Some(e.version) {
                Some("VersionMismatch".to_owned())
            } else {
                None
            };
            let accepted = code.is_none();
            let _ = updates.send(Update {
                thing: thing.into(),
                job_id: job_id.into(),
                body: body.clone(),
                accepted,
            });
            if let Some(code) = code {
                drop(st);
                return reply(
                    client,
                    format!("{base}{job_id}/update/rejected"),
                    rejected(&code),
                );
            }
            e.status = body["status"].as_str().unwrap_or("FAILED").into();
            e.version += 1;
            let state = json!({ "status": e.status, "versionNumber": e.version });
            let finished = terminal(&e.status).then(|| e.status.clone());
            let next = next_of(list);
            let cancelled = match finished {
                Some(status) => finish(&mut st, job_id, &status),
                None => Vec::new(),
            };
            drop(st);
            reply(
                client,
                format!("{base}{job_id}/update/accepted"),
                json!({ "clientToken": token, "timestamp": 1, "executionState": state }),
            );
            notify(client, thing, next.as_ref());
            for (other, next) in cancelled {
                notify(client, &other, next.as_ref());
            }
        }
        _ => {}
    }
}

/// Counts a finished execution of a rollout and applies its abort criterion: once it trips,
/// every QUEUED execution of the job is CANCELED (returned with each thing's next job, to
/// announce) and no further thing is notified.
fn finish(st: &mut State, job_id: &str, status: &str) -> Vec<(String, Option<Execution>)> {
    let Some(job) = st.jobs.get_mut(job_id) else {
        return Vec::new();
    };
    job.finished += 1;
    job.last_finished = Some(Instant::now());
    let Some(a) = job.abort.clone() else {
        return Vec::new();
    };
    if status == a.failure_type {
        job.failed += 1;
    }
    let trips = !job.aborted
        && job.notified >= a.min_number_of_executed_things
        && job.failed as f64 * 100.0 >= a.threshold_percentage * job.finished as f64;
    if !trips {
        return Vec::new();
    }
    job.aborted = true;
    let mut cancelled = Vec::new();
    for (thing, list) in &mut st.things {
        let mut any = false;
        for e in list
            .iter_mut()
            .filter(|e| e.job_id == job_id && e.status == "QUEUED")
        {
            e.status = "CANCELED".into();
            e.version += 1;
            any = true;
        }
        if any {
            cancelled.push((thing.clone(), next_of(list)));
        }
    }
    cancelled
}
