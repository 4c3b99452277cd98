//! The Jobs state machine (src/jobs/) replayed against recorded message sequences: what the
//! AWS IoT Jobs service sends, in order and out of order, and what the device must publish
//! and tell its application at each step.
#![cfg(feature = "jobs")]

mod common;

use core::time::Duration;

use aws_iot_roots::bundle::Rule;
use aws_iot_roots::jobs::{
    ApplyOutcome, Event, FailureReason, JobStatus, JobsClient, JobsError, Request,
    MAX_JOB_DOCUMENT_BYTES, MAX_MESSAGE_BYTES, MAX_REQUEST_ATTEMPTS, RESPONSE_TIMEOUT,
};
use base64::Engine as _;
use serde_json::{json, Value};

const THING: &str = "sensor-17";
const P: &str = "$aws/things/sensor-17/jobs/";

fn t(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// A device's Jobs client and the last request it published.
struct Device {
    jobs: JobsClient,
    last: Option<(String, Value)>,
}

impl Device {
    fn connected() -> Self {
        let mut d = Self {
            jobs: JobsClient::new(THING).expect("thing"),
            last: None,
        };
        d.jobs.on_connect(t(0));
        d
    }

    /// The one message the device published since the last call: its topic (without the
    /// thing's prefix) and JSON.
    fn published(&mut self) -> (String, Value) {
        let p = self.jobs.poll_publish().expect("a publish");
        assert_eq!(self.jobs.poll_publish(), None, "exactly one publish");
        let topic = p.topic.strip_prefix(P).expect("own prefix").to_owned();
        let body: Value = serde_json::from_slice(&p.payload).expect("json");
        self.last = Some((topic.clone(), body.clone()));
        (topic, body)
    }

    fn nothing_published(&mut self) {
        assert_eq!(self.jobs.poll_publish(), None);
    }

    fn token(&self) -> Value {
        self.last.as_ref().expect("a request").1["clientToken"].clone()
    }

    fn deliver(&mut self, topic: &str, body: Value) {
        self.jobs
            .handle_message(&format!("{P}{topic}"), body.to_string().as_bytes(), t(1))
            .expect("handled");
    }

    /// A reply to the last request, its clientToken filled in.
    fn reply(&mut self, topic: &str, mut body: Value) {
        body["clientToken"] = self.token();
        self.deliver(topic, body);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.jobs.poll_event()).collect()
    }
}

fn document(bundle: &[u8]) -> Value {
    json!({
        "operation": "aws-iot-roots.update",
        "bundle": base64::engine::general_purpose::STANDARD.encode(bundle)
    })
}

fn execution(job: &str, version: u64, doc: Value) -> Value {
    json!({ "execution": {
        "jobId": job, "status": "IN_PROGRESS", "versionNumber": version,
        "executionNumber": 1, "queuedAt": 1, "lastUpdatedAt": 2, "jobDocument": doc
    }, "timestamp": 3 })
}

/// Connect → start-next → a job → ApplyBundle, with the job IN_PROGRESS before anything is
/// applied (start-next sets it).
fn started(job: &str, version: u64) -> Device {
    let mut d = Device::connected();
    let (topic, body) = d.published();
    assert_eq!(topic, "start-next");
    assert_eq!(body["statusDetails"], json!({ "step": "applying" }));
    d.reply(
        "start-next/accepted",
        execution(job, version, document(b"bundle bytes")),
    );
    assert_eq!(
        d.events(),
        vec![Event::ApplyBundle {
            job_id: job.into(),
            bundle: b"bundle bytes".to_vec()
        }]
    );
    d
}

/// [`started`], then reported as already active (SUCCEEDED), the update published.
fn reported(job: &str) -> Device {
    let mut d = started(job, 1);
    d.jobs
        .report(job, ApplyOutcome::AlreadyActive { version: 2 }, t(2))
        .expect("report");
    d.published();
    d
}

fn cancelled(job: &str) -> Vec<Event> {
    vec![Event::JobCancelled { job_id: job.into() }]
}

#[test]
fn a_job_runs_from_start_next_to_succeeded_with_its_status_details() {
    let mut d = started("roots-v2", 1);
    d.jobs
        .report(
            "roots-v2",
            ApplyOutcome::Applied {
                version: 2,
                generation: Some(3),
            },
            t(2),
        )
        .expect("report");
    let (topic, body) = d.published();
    assert_eq!(topic, "roots-v2/update");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["expectedVersion"], 1);
    assert_eq!(
        body["statusDetails"],
        json!({ "version": "2", "generation": "3", "reason": "applied" })
    );
    d.reply(
        "roots-v2/update/accepted",
        json!({ "executionState": { "status": "SUCCEEDED", "versionNumber": 2 } }),
    );
    assert_eq!(
        d.events(),
        vec![Event::JobFinished {
            job_id: "roots-v2".into(),
            status: JobStatus::Succeeded
        }]
    );
    // Then it asks for the next job.
    assert_eq!(d.published().0, "start-next");
    d.reply("start-next/accepted", json!({ "timestamp": 9 }));
    assert_eq!(d.events(), vec![Event::Idle]);
}

#[test]
fn a_refused_bundle_fails_the_job_naming_the_rule() {
    let mut d = started("roots-v2", 1);
    d.jobs
        .report(
            "roots-v2",
            ApplyOutcome::Failed {
                reason: FailureReason::Refused(Rule::CurrentSignatures),
                detail: "x".repeat(1000),
            },
            t(2),
        )
        .expect("report");
    let (_, body) = d.published();
    assert_eq!(body["status"], "FAILED");
    assert_eq!(
        body["statusDetails"]["reason"],
        "refused:current_signatures"
    );
    assert_eq!(
        body["statusDetails"]["detail"].as_str().map(str::len),
        Some(256)
    );
}

#[test]
fn a_job_delivered_again_after_its_commit_reports_succeeded_as_already_active() {
    let mut d = started("roots-v2", 4);
    d.jobs
        .report("roots-v2", ApplyOutcome::AlreadyActive { version: 2 }, t(2))
        .expect("report");
    let (_, body) = d.published();
    assert_eq!(
        (body["status"].clone(), body["statusDetails"].clone()),
        (
            json!("SUCCEEDED"),
            json!({ "version": "2", "reason": "already-active" })
        )
    );
    assert_eq!(body["expectedVersion"], 4);
}

#[test]
fn a_duplicate_notify_next_or_start_next_reply_does_not_apply_twice() {
    let mut d = started("roots-v2", 1);
    // notify-next for the job in hand, twice: nothing to do.
    for _ in 0..2 {
        d.deliver(
            "notify-next",
            execution("roots-v2", 1, document(b"bundle bytes")),
        );
    }
    d.nothing_published();
    assert_eq!(d.events(), vec![]);
    // The start-next reply again (QoS 1 redelivery): its token is spent.
    let mut again = execution("roots-v2", 1, document(b"bundle bytes"));
    again["clientToken"] = json!("sensor-17-1");
    d.deliver("start-next/accepted", again);
    assert_eq!(d.events(), vec![]);
}

#[test]
fn a_reply_with_another_token_is_ignored() {
    let mut d = Device::connected();
    d.published();
    let mut stale = execution("old-job", 1, document(b"b"));
    stale["clientToken"] = json!("not-ours");
    d.deliver("start-next/accepted", stale);
    assert_eq!(d.events(), vec![]);
    // The real reply still works.
    d.reply("start-next/accepted", json!({}));
    assert_eq!(d.events(), vec![Event::Idle]);
}

#[test]
fn a_job_cancelled_while_applying_is_dropped_and_its_report_refused() {
    let mut d = started("roots-v2", 1);
    // notify-next without an execution: the job in hand is no longer pending.
    d.deliver("notify-next", json!({ "timestamp": 5 }));
    assert_eq!(d.events(), cancelled("roots-v2"));
    assert_eq!(
        d.jobs
            .report("roots-v2", ApplyOutcome::AlreadyActive { version: 2 }, t(3)),
        Err(JobsError::NotWorkingOn {
            job_id: "roots-v2".into()
        })
    );
    d.nothing_published();
}

#[test]
fn another_job_next_while_applying_means_the_first_was_cancelled() {
    let mut d = started("roots-v2", 1);
    d.deliver("notify-next", execution("roots-v3", 1, document(b"v3")));
    assert_eq!(d.events(), cancelled("roots-v2"));
    assert_eq!(d.published().0, "start-next");
}

#[test]
fn an_update_refused_as_terminal_is_settled_by_asking_for_the_real_status() {
    // Timed out (inProgressTimeoutInMinutes) while the health check ran.
    let mut d = reported("roots-v2");
    d.reply(
        "roots-v2/update/rejected",
        json!({ "code": "TerminalStateReached", "message": "timed out" }),
    );
    let (topic, _) = d.published();
    assert_eq!(topic, "roots-v2/get");
    d.reply(
        "roots-v2/get/accepted",
        json!({ "execution": { "jobId": "roots-v2", "status": "TIMED_OUT", "versionNumber": 3 } }),
    );
    assert_eq!(d.events(), cancelled("roots-v2"));
    assert_eq!(d.published().0, "start-next");
}

#[test]
fn a_lost_update_reply_is_recognised_when_the_status_is_already_ours() {
    let mut d = reported("roots-v2");
    // The connection drops before the reply; the update is sent again on reconnect.
    d.jobs.on_connect(t(3));
    let (topic, body) = d.published();
    assert_eq!(
        (topic.as_str(), body["status"].clone()),
        ("roots-v2/update", json!("SUCCEEDED"))
    );
    d.reply(
        "roots-v2/update/rejected",
        json!({ "code": "VersionMismatch", "message": "" }),
    );
    d.published(); // describe
    d.reply(
        "roots-v2/get/accepted",
        json!({ "execution": { "jobId": "roots-v2", "status": "SUCCEEDED", "versionNumber": 2 } }),
    );
    assert_eq!(
        d.events(),
        vec![Event::JobFinished {
            job_id: "roots-v2".into(),
            status: JobStatus::Succeeded
        }]
    );
}

#[test]
fn a_stale_expected_version_is_retried_against_the_current_one() {
    let mut d = reported("roots-v2");
    d.reply(
        "roots-v2/update/rejected",
        json!({ "code": "VersionMismatch", "message": "" }),
    );
    d.published();
    d.reply("roots-v2/get/accepted", json!({ "execution": { "jobId": "roots-v2", "status": "IN_PROGRESS", "versionNumber": 7 } }));
    let (topic, body) = d.published();
    assert_eq!(
        (topic.as_str(), body["expectedVersion"].clone()),
        ("roots-v2/update", json!(7))
    );
}

#[test]
fn a_removed_job_is_cancelled_on_resource_not_found() {
    let mut d = reported("roots-v2");
    d.reply(
        "roots-v2/update/rejected",
        json!({ "code": "ResourceNotFound", "message": "gone" }),
    );
    assert_eq!(d.events(), cancelled("roots-v2"));
}

#[test]
fn a_start_next_rejection_is_reported_with_the_service_code() {
    let mut d = Device::connected();
    d.published();
    d.reply(
        "start-next/rejected",
        json!({ "code": "RequestThrottled", "message": "slow down" }),
    );
    assert_eq!(
        d.events(),
        vec![Event::ServiceRejected {
            request: Request::StartNext,
            code: "RequestThrottled".into(),
            message: "slow down".into()
        }]
    );
    // A later notify-next starts again.
    d.deliver("notify-next", execution("roots-v2", 1, document(b"b")));
    assert_eq!(d.published().0, "start-next");
}

/// Every document this crate does not understand ends REJECTED with its reason, and nothing
/// reaches the application.
#[test]
fn documents_it_does_not_understand_are_rejected_with_a_reason() {
    let big = json!({ "operation": "aws-iot-roots.update", "bundle": "A".repeat(MAX_JOB_DOCUMENT_BYTES) });
    let cases = [
        (Value::Null, "no-document"),
        (big, "document-too-large"),
        (json!(["not", "an", "object"]), "malformed-document"),
        (
            json!({ "operation": "aws-iot-roots.update", "bundle": "AA==", "extra": 1 }),
            "malformed-document",
        ),
        (
            json!({ "operation": "firmware.update", "bundle": "AA==" }),
            "unknown-operation",
        ),
        (json!({ "operation": "aws-iot-roots.update" }), "no-bundle"),
        (
            json!({ "operation": "aws-iot-roots.update", "bundle": "AA==", "bundleUrl": "https://x" }),
            "no-bundle",
        ),
        (
            json!({ "operation": "aws-iot-roots.update", "bundle": "not base64!" }),
            "bundle-not-base64",
        ),
        (
            json!({ "operation": "aws-iot-roots.update", "bundleUrl": "http://bucket/b.json" }),
            "url-not-https",
        ),
    ];
    for (doc, reason) in cases {
        let mut d = Device::connected();
        d.published();
        let mut e = execution("odd-job", 2, doc.clone());
        if doc.is_null() {
            e["execution"]
                .as_object_mut()
                .expect("obj")
                .remove("jobDocument");
        }
        d.reply("start-next/accepted", e);
        assert_eq!(d.events(), vec![], "{reason}");
        let (topic, body) = d.published();
        assert_eq!(topic, "odd-job/update", "{reason}");
        assert_eq!(body["status"], "REJECTED", "{reason}");
        assert_eq!(body["statusDetails"], json!({ "reason": reason }));
        assert_eq!(body["expectedVersion"], 2);
        d.reply("odd-job/update/accepted", json!({}));
        assert_eq!(
            d.events(),
            vec![Event::JobFinished {
                job_id: "odd-job".into(),
                status: JobStatus::Rejected
            }],
            "{reason}"
        );
    }
}

#[test]
fn a_bundle_url_becomes_a_download_capped_at_the_bundle_limit() {
    let mut d = Device::connected();
    d.published();
    let doc = json!({ "operation": "aws-iot-roots.update", "bundleUrl": "https://bucket.s3.amazonaws.com/b.json?X-Amz-Signature=1" });
    d.reply("start-next/accepted", execution("big", 1, doc));
    assert_eq!(
        d.events(),
        vec![Event::DownloadBundle {
            job_id: "big".into(),
            url: "https://bucket.s3.amazonaws.com/b.json?X-Amz-Signature=1".into(),
            max_bytes: aws_iot_roots::bundle::MAX_BUNDLE_BYTES
        }]
    );
    d.jobs
        .report(
            "big",
            ApplyOutcome::Failed {
                reason: FailureReason::Download,
                detail: "connection refused".into(),
            },
            t(2),
        )
        .expect("report");
    assert_eq!(
        d.published().1["statusDetails"]["reason"],
        "download-failed"
    );
}

#[test]
fn after_a_power_cut_the_in_progress_job_is_handed_back_and_applied_again() {
    // The first run started the job and lost power while applying.
    let _first = started("roots-v2", 1);
    // A new process: start-next returns the IN_PROGRESS execution; the store decides what
    // applying it again means (AlreadyActive if it committed).
    let mut d = Device::connected();
    d.published();
    let mut e = execution("roots-v2", 2, document(b"bundle bytes"));
    e["execution"]["statusDetails"] = json!({ "step": "applying" });
    d.reply("start-next/accepted", e);
    assert_eq!(
        d.events(),
        vec![Event::ApplyBundle {
            job_id: "roots-v2".into(),
            bundle: b"bundle bytes".to_vec()
        }]
    );
}

#[test]
fn unanswered_requests_are_resent_then_given_up() {
    let mut d = Device::connected();
    let first = d.published().1["clientToken"].clone();
    assert_eq!(d.jobs.poll_timeout(), Some(t(0) + RESPONSE_TIMEOUT));
    d.jobs.handle_timeout(t(1));
    d.nothing_published();
    let mut now = t(0);
    let mut tokens = vec![first];
    for _ in 1..MAX_REQUEST_ATTEMPTS {
        now += RESPONSE_TIMEOUT;
        d.jobs.handle_timeout(now);
        tokens.push(d.published().1["clientToken"].clone());
    }
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        MAX_REQUEST_ATTEMPTS as usize,
        "each attempt has its own token"
    );
    now += RESPONSE_TIMEOUT;
    d.jobs.handle_timeout(now);
    d.nothing_published();
    assert_eq!(
        d.events(),
        vec![Event::NoResponse {
            request: Request::StartNext
        }]
    );
    assert_eq!(d.jobs.poll_timeout(), None);
    // A reconnect starts over.
    d.jobs.on_connect(now);
    assert_eq!(d.published().0, "start-next");
}

#[test]
fn messages_that_are_not_this_things_or_not_the_services_are_refused_without_effect() {
    let mut d = Device::connected();
    d.published();
    let cases: Vec<(String, Vec<u8>, JobsError)> = vec![
        (
            "$aws/things/other-thing/jobs/notify-next".into(),
            b"{}".to_vec(),
            JobsError::ForeignTopic {
                topic: "$aws/things/other-thing/jobs/notify-next".into(),
            },
        ),
        (
            format!("{P}start-next/accepted"),
            vec![b' '; MAX_MESSAGE_BYTES + 1],
            JobsError::TooLarge {
                topic: format!("{P}start-next/accepted"),
                bytes: MAX_MESSAGE_BYTES + 1,
            },
        ),
        (
            format!("{P}job/describe"),
            b"{}".to_vec(),
            JobsError::UnknownTopic {
                topic: format!("{P}job/describe"),
            },
        ),
    ];
    for (topic, payload, err) in cases {
        assert_eq!(d.jobs.handle_message(&topic, &payload, t(1)), Err(err));
    }
    let e = d
        .jobs
        .handle_message(&format!("{P}start-next/accepted"), b"[1]", t(1))
        .expect_err("an array");
    assert!(
        matches!(&e, JobsError::Malformed { topic, .. } if topic.ends_with("start-next/accepted")),
        "{e:?}"
    );
    // Nothing changed: the real reply still lands.
    d.reply("start-next/accepted", json!({}));
    assert_eq!(d.events(), vec![Event::Idle]);
}

#[test]
fn thing_names_are_checked() {
    for bad in ["", "has space", "a/b", "+", "#", &"x".repeat(129)] {
        assert_eq!(
            JobsClient::new(bad).err(),
            Some(JobsError::BadThingName),
            "{bad:?}"
        );
    }
    let jobs = JobsClient::new("Thing_1:a-b").expect("valid");
    assert_eq!(
        jobs.subscriptions(),
        [
            "notify-next",
            "start-next/accepted",
            "start-next/rejected",
            "+/update/accepted",
            "+/update/rejected",
            "+/get/accepted",
            "+/get/rejected"
        ]
        .map(|s| format!("$aws/things/Thing_1:a-b/jobs/{s}"))
    );
}

#[test]
fn a_step_timeout_is_asked_for_on_start_next() {
    let mut jobs = JobsClient::new(THING).expect("thing").with_step_timeout(15);
    jobs.on_connect(t(0));
    let p = jobs.poll_publish().expect("start-next");
    let body: Value = serde_json::from_slice(&p.payload).expect("json");
    assert_eq!(body["stepTimeoutInMinutes"], 15);
}

/// The job's report follows from what the trust store did, end to end: applied (with its
/// generation), delivered again (already active), refused (by rule), and a failed check.
#[cfg(all(
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]
mod with_the_store {
    use super::*;
    use aws_iot_roots::store::{HealthCheckError, TrustStore};
    use rustls_pki_types::TrustAnchor;

    use crate::common::release::{now, pass, Release, V1, V2};

    fn fail(_: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
        Err(HealthCheckError::Failed {
            reason: "the broker's chain ends elsewhere".into(),
        })
    }

    #[test]
    fn the_report_follows_from_what_the_store_did() {
        let rel = Release::new();
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");

        let v1 = rel.bundle(1, V1);
        let r = store.apply(&v1, now(), &mut pass);
        assert_eq!(
            ApplyOutcome::from_store(&r, &store),
            ApplyOutcome::Applied {
                version: 1,
                generation: Some(1)
            }
        );
        let r = store.apply(&v1, now(), &mut pass);
        assert_eq!(
            ApplyOutcome::from_store(&r, &store),
            ApplyOutcome::AlreadyActive { version: 1 }
        );
        let r = store.apply(&rel.bundle(2, V2), now(), &mut fail);
        match ApplyOutcome::from_store(&r, &store) {
            ApplyOutcome::Failed { reason, detail } => {
                assert_eq!(reason, FailureReason::HealthCheckFailed);
                assert!(
                    detail.contains("the broker's chain ends elsewhere"),
                    "{detail}"
                );
            }
            other => panic!("{other:?}"),
        }
        let mut wrong_fleet = rel.config();
        wrong_fleet.fleet = "another-fleet".into();
        let other = tempfile::tempdir().expect("tmp");
        let mut store = TrustStore::open(other.path(), wrong_fleet).expect("open");
        let r = store.apply(&v1, now(), &mut pass);
        assert!(matches!(
            ApplyOutcome::from_store(&r, &store),
            ApplyOutcome::Failed {
                reason: FailureReason::Refused(Rule::Fleet),
                ..
            }
        ));
    }
    #[test]
    fn the_named_shadow_reports_what_fleet_indexing_queries() {
        use aws_iot_roots::jobs::{shadow_update, MAX_SHADOW_STATE_BYTES};
        let rel = Release::new();
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
        store
            .apply(&rel.bundle(1, V1), now(), &mut pass)
            .expect("apply");
        let p = shadow_update("sensor-17", &store, now());
        assert_eq!(
            p.topic,
            "$aws/things/sensor-17/shadow/name/iot-roots/update"
        );
        assert!(
            p.payload.len() <= MAX_SHADOW_STATE_BYTES,
            "{} bytes",
            p.payload.len()
        );
        let doc: Value = serde_json::from_slice(&p.payload).expect("json");
        let r = &doc["state"]["reported"];
        assert_eq!(
            (
                r["source"].clone(),
                r["generation"].clone(),
                r["version"].clone()
            ),
            (json!("bundle"), json!(1), json!(1))
        );
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let ca = |name: &str| {
            aws_iot_roots::ROOTS
                .iter()
                .find(|r| r.name == name)
                .map(|r| hex(&r.sha256))
                .expect("root")
        };
        let mut reported: Vec<String> =
            serde_json::from_value(r["root_sha256s"].clone()).expect("list");
        reported.sort();
        let mut expected = vec![ca("Amazon Root CA 1"), ca("Amazon Root CA 3")];
        expected.sort();
        assert_eq!(reported, expected);
        let ids: Vec<String> = rel.set().keys().map(|k| k.key_id()).collect();
        assert_eq!(r["signer_key_ids"], json!(ids));
        let status = store.status(now());
        let d = status.earliest_deadline.as_ref().expect("deadline");
        assert_eq!(r["earliest_deadline_epoch"], json!(d.at.as_secs()));
        assert_eq!(r["earliest_deadline"]["kind"], "loses-root-program-trust");
        assert_eq!(
            r["days_to_earliest_deadline"],
            json!(status.days_to_earliest_deadline)
        );
        assert_eq!(r["clock_behind_floor"], false);
    }
}

#[test]
fn the_shadow_is_republished_when_the_deadline_crosses_a_threshold() {
    use aws_iot_roots::jobs::DeadlineWatch;
    let mut w = DeadlineWatch::new();
    let seen: Vec<bool> = [
        Some(800),
        Some(700),
        Some(365),
        Some(200),
        Some(180),
        Some(179),
        Some(31),
        Some(30),
        Some(0),
        Some(-5),
        None,
    ]
    .into_iter()
    .map(|d| w.crossed(d))
    .collect();
    assert_eq!(
        seen,
        // 31 days crosses 90; 0 crosses 14, 7, 1 and 0 at once; no deadline is a change too.
        [true, false, true, false, true, false, true, true, true, false, true]
    );
}

/// A request the service refuses (throttled, internal error) is asked again after the
/// response timeout, and the refusals count against the attempt budget: a service that
/// refuses every time is asked MAX_REQUEST_ATTEMPTS times, not forever. For start-next this
/// is also what keeps a throttled device from missing a queued job until it reconnects
/// (notify-next comes only when the next job changes).
#[test]
fn refused_requests_are_asked_again_within_the_attempt_budget() {
    // start-next.
    // Replies are delivered at t(1), so each retry is due a response timeout later.
    let later = t(1) + RESPONSE_TIMEOUT;
    let mut d = Device::connected();
    let mut sent = 1;
    loop {
        assert_eq!(d.published().0, "start-next");
        d.reply(
            "start-next/rejected",
            json!({ "code": "RequestThrottled", "message": "slow down" }),
        );
        assert!(matches!(
            d.events().as_slice(),
            [Event::ServiceRejected {
                request: Request::StartNext,
                ..
            }]
        ));
        d.jobs.handle_timeout(later);
        if sent == MAX_REQUEST_ATTEMPTS {
            break;
        }
        sent += 1;
    }
    d.nothing_published();
    assert_eq!(
        d.events(),
        vec![Event::NoResponse {
            request: Request::StartNext
        }]
    );

    // The final update.
    let mut d = reported("roots-v2");
    for attempt in 1..=MAX_REQUEST_ATTEMPTS {
        d.reply(
            "roots-v2/update/rejected",
            json!({ "code": "InternalError", "message": "try later" }),
        );
        d.events();
        d.jobs.handle_timeout(later);
        if attempt < MAX_REQUEST_ATTEMPTS {
            let (topic, body) = d.published();
            assert_eq!(
                (topic.as_str(), body["status"].clone()),
                ("roots-v2/update", json!("SUCCEEDED"))
            );
        }
    }
    d.nothing_published();
    assert_eq!(
        d.events(),
        vec![Event::NoResponse {
            request: Request::Update
        }]
    );
    // A reconnect sends it again.
    d.jobs.on_connect(later);
    assert_eq!(d.published().0, "roots-v2/update");
}
