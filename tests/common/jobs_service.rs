//! A test double of the AWS IoT Jobs service's device side, over a real MQTT broker: queued
//! executions per thing, `start-next`, `{jobId}/update` with `expectedVersion`,
//! `{jobId}/get`, and the `notify-next` the service sends when the next job changes. It
//! answers on the `/accepted` and `/rejected` topics as the service does, and records every
//! update a device sends. Bounded: it stops when dropped, or after its lifetime.
//!
//! Production uses AWS IoT Jobs. This double exists to test the device side: it models one
//! execution per job and thing, versions, and the replies' codes. It does not model rollout
//! rates, abort criteria, job timeouts or the service's response to publishers that did not
//! subscribe.
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

#[derive(Default)]
struct State {
    things: BTreeMap<String, Vec<Execution>>,
    /// Codes to answer the next updates with instead of applying them (e.g. VersionMismatch).
    reject_updates: Vec<String>,
    /// The last `reported` state each thing published to its `iot-roots` named shadow.
    shadows: BTreeMap<String, Value>,
}

pub struct JobsService {
    client: Client,
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
    pub fn start(client: Client, mut connection: Connection) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let (updates_tx, updates) = channel();
        let (stop, stop_rx) = channel::<()>();
        let (c, s) = (client.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + LIFETIME;
            while Instant::now() < until && stop_rx.try_recv().is_err() {
                match connection.recv_timeout(Duration::from_millis(100)) {
                    // Every (re)connect: a broker restart loses the subscriptions.
                    Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => subscribe(&c),
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        let body: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        serve(&c, &s, &updates_tx, &p.topic, body);
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
            state,
            updates,
            stop,
            thread: Some(thread),
        }
    }

    /// Queues a job for `thing` and sends `notify-next` if it became the next one.
    pub fn queue(&self, thing: &str, job_id: &str, document: Value) {
        let next = {
            let mut st = self.state.lock().expect("lock");
            let list = st.things.entry(thing.into()).or_default();
            list.push(Execution {
                job_id: job_id.into(),
                status: "QUEUED".into(),
                version: 1,
                document,
            });
            next_of(list)
        };
        notify(&self.client, thing, next.as_ref());
    }

    /// Sends `notify-next` for `thing` as it stands (a duplicate, as the service may send).
    pub fn notify_again(&self, thing: &str) {
        let next = {
            let st = self.state.lock().expect("lock");
            st.things.get(thing).and_then(|l| next_of(l))
        };
        notify(&self.client, thing, next.as_ref());
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
        notify(&self.client, thing, next.as_ref());
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

fn subscribe(client: &Client) {
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

fn notify(client: &Client, thing: &str, next: Option<&Execution>) {
    let body = match next {
        Some(e) => json!({ "timestamp": 1, "execution": execution_json(e) }),
        None => json!({ "timestamp": 1 }),
    };
    let _ = client.publish(
        format!("$aws/things/{thing}/jobs/notify-next"),
        QoS::AtLeastOnce,
        false,
        body.to_string(),
    );
}

fn reply(client: &Client, topic: String, body: Value) {
    let _ = client.publish(topic, QoS::AtLeastOnce, false, body.to_string());
}

fn serve(
    client: &Client,
    state: &Mutex<State>,
    updates: &Sender<Update>,
    topic: &str,
    body: Value,
) {
    let Some(rest) = topic.strip_prefix("$aws/things/") else {
        return;
    };
    if let Some((thing, "iot-roots/update")) = rest.split_once("/shadow/name/") {
        let reported = body["state"]["reported"].clone();
        state
            .lock()
            .expect("lock")
            .shadows
            .insert(thing.into(), reported);
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
        let body = match i.map(|i| &mut list[i]) {
            Some(e) => {
                if e.status == "QUEUED" {
                    e.status = "IN_PROGRESS".into();
                    e.version += 1;
                }
                json!({ "clientToken": token, "timestamp": 1, "execution": execution_json(e) })
            }
            None => json!({ "clientToken": token, "timestamp": 1 }),
        };
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
            let next = next_of(list);
            drop(st);
            reply(
                client,
                format!("{base}{job_id}/update/accepted"),
                json!({ "clientToken": token, "timestamp": 1, "executionState": state }),
            );
            notify(client, thing, next.as_ref());
        }
        _ => {}
    }
}
