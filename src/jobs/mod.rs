//! AWS IoT Jobs for root updates, sans-IO: topics and payloads in, publishes and events out,
//! no transport inside (the design of rustls' and quinn-proto's state machines). Any MQTT
//! client can drive it: rumqttc, or the connection an application already has.
//!
//! The device side of the documented job-execution MQTT API, for one thing:
//! `notify-next`, `start-next` (with `statusDetails`), `{jobId}/get`, `{jobId}/update` with
//! `expectedVersion`, and every `/accepted` and `/rejected` reply.
//!
//! - `start-next` marks the job IN_PROGRESS before the application applies anything, so the
//!   fleet sees which devices are mid-update.
//! - The application applies the bundle through its `store::TrustStore` and reports the
//!   outcome; the job ends SUCCEEDED or FAILED with string `statusDetails` (version,
//!   generation, reason code), or REJECTED for a document this crate does not understand.
//! - It is idempotent with the store: a job delivered again after its bundle committed is
//!   `AlreadyActive` there, and reported SUCCEEDED here. After a power cut the service hands
//!   the IN_PROGRESS job back on `start-next`, and applying it again resumes from the store's
//!   state; nothing is applied twice, because the store decides, not this module.
//! - Cancellation and timeouts: a job that leaves the queue while the device works on it
//!   (cancelled, or timed out by `inProgressTimeoutInMinutes` or a step timeout) is reported
//!   as [`Event::JobCancelled`]; an update refused as `TerminalStateReached` is resolved by
//!   asking the service for the execution's real status.
//! - Replies carry the `clientToken` of their request: a reply to an older request (a
//!   redelivery, or one that crossed a reconnect) is recognised and ignored.
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use aws_iot_roots::jobs::{ApplyOutcome, Event, JobsClient};
//!
//! let mut jobs = JobsClient::new("sensor-17").unwrap();
//! let now = Duration::from_secs(0);
//! // Subscribe to these (QoS 1), then tell the client it is connected.
//! assert!(jobs.subscriptions().iter().any(|t| t.ends_with("/notify-next")));
//! jobs.on_connect(now);
//! let start = jobs.poll_publish().unwrap();
//! assert_eq!(start.topic, "$aws/things/sensor-17/jobs/start-next");
//! // The service has nothing queued: the reply carries no execution.
//! let token = serde_json::from_slice::<serde_json::Value>(&start.payload).unwrap()["clientToken"].clone();
//! let reply = serde_json::json!({ "clientToken": token, "timestamp": 1 });
//! jobs.handle_message("$aws/things/sensor-17/jobs/start-next/accepted", reply.to_string().as_bytes(), now).unwrap();
//! assert_eq!(jobs.poll_event(), Some(Event::Idle));
//! ```

#[cfg(feature = "store")]
mod shadow;
mod wire;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::bundle::{Rule, MAX_BUNDLE_BYTES};
#[cfg(feature = "store")]
pub use shadow::{
    shadow_update, DeadlineWatch, DEADLINE_THRESHOLDS_DAYS, MAX_SHADOW_STATE_BYTES, SHADOW_NAME,
};
use wire::{
    DocumentWire, ExecutionReply, ExecutionWire, Rejected, StartNextRequest, TokenOnly,
    UpdateAccepted, UpdateRequest,
};

/// The `operation` of a root-update job document.
pub const OPERATION: &str = "aws-iot-roots.update";

/// AWS IoT caps a job document at 32 KB: a larger one never came from the service.
pub const MAX_JOB_DOCUMENT_BYTES: usize = 32 * 1024;

/// AWS IoT caps an MQTT payload at 128 KB: nothing larger is read at all.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// A thing name is 1-128 characters of `[a-zA-Z0-9:_-]` (AWS IoT's `ThingName`).
pub const MAX_THING_NAME_BYTES: usize = 128;

/// How long a request waits for its `/accepted` or `/rejected` before it is sent again.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a request is sent before the client gives up until the next connect
/// ([`Event::NoResponse`]): a service that answers none of five in two and a half minutes is
/// not going to answer a sixth.
pub const MAX_REQUEST_ATTEMPTS: u32 = 5;

/// A `statusDetails` value is cut to this many bytes (AWS allows 1,024 per value; a reason
/// code and a short detail are what an operator's query needs).
pub const MAX_STATUS_DETAIL_BYTES: usize = 256;

/// A message to publish, QoS 1, not retained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The topic.
    pub topic: String,
    /// The JSON payload.
    pub payload: Vec<u8>,
}

/// What the application must do, or may want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Apply this bundle through the trust store (`TrustStore::apply`), then call
    /// [`JobsClient::report`] with the outcome. The job is IN_PROGRESS.
    ApplyBundle {
        /// The job.
        job_id: String,
        /// The bundle file.
        bundle: Vec<u8>,
    },
    /// Download the bundle from `url` over HTTPS trusting the device's *active* roots, reading
    /// at most `max_bytes`, then apply it and [`JobsClient::report`] (a failed download is
    /// [`FailureReason::Download`]). The job is IN_PROGRESS.
    DownloadBundle {
        /// The job.
        job_id: String,
        /// An `https://` URL (for AWS IoT, a presigned S3 URL).
        url: String,
        /// The largest bundle the verifier accepts: stop reading beyond it.
        max_bytes: usize,
    },
    /// Nothing is queued for this device.
    Idle,
    /// The service accepted the job's final status.
    JobFinished {
        /// The job.
        job_id: String,
        /// The status it ended in.
        status: JobStatus,
    },
    /// The job the device was working on left the queue (cancelled, timed out or removed):
    /// stop working on it. Whatever the store staged stays staged; the store decides.
    JobCancelled {
        /// The job.
        job_id: String,
    },
    /// The service refused a request (`/rejected`); the client retries where that can help.
    ServiceRejected {
        /// Which request.
        request: Request,
        /// The service's error code (`InvalidRequest`, `RequestThrottled`, ...).
        code: String,
        /// The service's message.
        message: String,
    },
    /// A request went unanswered, or was refused, [`MAX_REQUEST_ATTEMPTS`] times: nothing
    /// more is sent until the next [`JobsClient::on_connect`].
    NoResponse {
        /// Which request.
        request: Request,
    },
}

/// A Jobs API request this client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `start-next`.
    StartNext,
    /// `{jobId}/update`.
    Update,
    /// `{jobId}/get`.
    Describe,
}

/// A job execution's final status, as this device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobStatus {
    /// The bundle is active.
    Succeeded,
    /// The bundle was refused or did not pass its health check; the old roots stay.
    Failed,
    /// The job document is not one this crate understands.
    Rejected,
}

impl JobStatus {
    fn wire(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Rejected => "REJECTED",
        }
    }
}

/// How applying a job's bundle ended, as the application tells [`JobsClient::report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyOutcome {
    /// The bundle is committed and active.
    Applied {
        /// Its version.
        version: u64,
        /// The store generation that holds it, if known.
        generation: Option<u64>,
    },
    /// The bundle was already the active one (a job delivered again after its commit).
    AlreadyActive {
        /// Its version.
        version: u64,
    },
    /// Refused or failed; the device keeps its roots.
    Failed {
        /// Why, as a code an operator can query.
        reason: FailureReason,
        /// In words (cut to [`MAX_STATUS_DETAIL_BYTES`]).
        detail: String,
    },
}

/// Why applying a bundle failed, as `statusDetails.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The verifier refused the bundle by this rule.
    Refused(Rule),
    /// The staged roots did not pass the health check.
    HealthCheckFailed,
    /// The health check could not run (the device's network, not the bundle).
    HealthCheckUnavailable,
    /// The store is in use by another agent.
    Busy,
    /// The state directory is read-only.
    ReadOnly,
    /// The bundle was discarded on this device before.
    PreviouslyDiscarded,
    /// The bundle could not be downloaded.
    Download,
    /// A file operation failed.
    Io,
    /// Anything else.
    Other,
}

impl FailureReason {
    /// The code written to `statusDetails.reason`: `refused:<rule>` or a fixed word.
    pub fn code(self) -> String {
        match self {
            Self::Refused(rule) => format!("refused:{}", rule.as_str()),
            Self::HealthCheckFailed => "health-check-failed".into(),
            Self::HealthCheckUnavailable => "health-check-unavailable".into(),
            Self::Busy => "busy".into(),
            Self::ReadOnly => "read-only".into(),
            Self::PreviouslyDiscarded => "previously-discarded".into(),
            Self::Download => "download-failed".into(),
            Self::Io => "io".into(),
            Self::Other => "other".into(),
        }
    }
}

/// Why a job document was rejected (`statusDetails.reason` of a REJECTED job).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// No job document.
    NoDocument,
    /// Larger than [`MAX_JOB_DOCUMENT_BYTES`].
    DocumentTooLarge,
    /// Not the JSON object this crate defines (unknown or missing fields).
    MalformedDocument,
    /// `operation` is not [`OPERATION`].
    UnknownOperation,
    /// Neither or both of `bundle` and `bundleUrl`.
    NoBundle,
    /// `bundle` is not base64.
    BundleNotBase64,
    /// `bundleUrl` is not `https://`.
    UrlNotHttps,
}

impl RejectReason {
    /// The code written to `statusDetails.reason`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoDocument => "no-document",
            Self::DocumentTooLarge => "document-too-large",
            Self::MalformedDocument => "malformed-document",
            Self::UnknownOperation => "unknown-operation",
            Self::NoBundle => "no-bundle",
            Self::BundleNotBase64 => "bundle-not-base64",
            Self::UrlNotHttps => "url-not-https",
        }
    }
}

/// A message or call this client could not use. The client's state is unchanged by it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobsError {
    /// The thing name is not 1-128 characters of `[a-zA-Z0-9:_-]`.
    BadThingName,
    /// The topic is another thing's, or not a Jobs topic: AWS IoT says to check the thing
    /// name before acting on a message.
    ForeignTopic {
        /// The topic.
        topic: String,
    },
    /// A Jobs topic this client does not use.
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// Larger than [`MAX_MESSAGE_BYTES`].
    TooLarge {
        /// The topic.
        topic: String,
        /// The payload's size.
        bytes: usize,
    },
    /// Not the JSON the service sends on this topic.
    Malformed {
        /// The topic.
        topic: String,
        /// What was wrong.
        detail: String,
    },
    /// [`JobsClient::report`] named a job the client is not waiting on.
    NotWorkingOn {
        /// The job named.
        job_id: String,
    },
}

impl fmt::Display for JobsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadThingName => {
                f.write_str("a thing name is 1-128 characters of letters, digits, ':', '_' and '-'")
            }
            Self::ForeignTopic { topic } => {
                write!(f, "{topic}: not a Jobs topic of this thing; ignored")
            }
            Self::UnknownTopic { topic } => {
                write!(f, "{topic}: a Jobs topic this client does not use")
            }
            Self::TooLarge { topic, bytes } => write!(
                f,
                "{topic}: {bytes} bytes; AWS IoT never sends more than {MAX_MESSAGE_BYTES}"
            ),
            Self::Malformed { topic, detail } => write!(f, "{topic}: {detail}"),
            Self::NotWorkingOn { job_id } => {
                write!(f, "job {job_id:?} is not the one this device is working on")
            }
        }
    }
}

impl core::error::Error for JobsError {}

/// The job in hand.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Job {
    id: String,
    /// The execution's `versionNumber`: the `expectedVersion` of the next update.
    version: u64,
}

/// An update waiting for its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Final {
    status: JobStatus,
    details: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the first connect, or after [`Event::NoResponse`].
    Disconnected,
    /// `start-next` sent.
    Starting,
    /// Nothing queued.
    Idle,
    /// The application is applying the job's bundle.
    Working(Job),
    /// The final update is sent.
    Finishing(Job, Final),
    /// Asking the service for the execution's state, to settle an update it refused.
    Describing(Job, Final),
}

/// A request in flight: its token, when it was sent, how often.
#[derive(Clone, Debug)]
struct InFlight {
    request: Request,
    token: String,
    sent_at: Duration,
    attempts: u32,
}

/// The Jobs protocol for one thing. See the [module documentation](self).
#[derive(Debug)]
pub struct JobsClient {
    thing: String,
    prefix: String,
    phase: Phase,
    in_flight: Option<InFlight>,
    next_token: u64,
    step_timeout_minutes: Option<u64>,
    out: VecDeque<Publish>,
    events: VecDeque<Event>,
}

impl JobsClient {
    /// A client for `thing_name`.
    ///
    /// # Errors
    ///
    /// [`JobsError::BadThingName`] unless it is 1-128 characters of `[a-zA-Z0-9:_-]`.
    pub fn new(thing_name: &str) -> Result<Self, JobsError> {
        let ok = !thing_name.is_empty()
            && thing_name.len() <= MAX_THING_NAME_BYTES
            && thing_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
        if !ok {
            return Err(JobsError::BadThingName);
        }
        Ok(Self {
            thing: thing_name.into(),
            prefix: format!("$aws/things/{thing_name}/jobs/"),
            phase: Phase::Disconnected,
            in_flight: None,
            next_token: 0,
            step_timeout_minutes: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Asks the service to time a job out if the device has not finished it `minutes` after
    /// starting it (`stepTimeoutInMinutes` on `start-next`).
    pub fn with_step_timeout(mut self, minutes: u64) -> Self {
        self.step_timeout_minutes = Some(minutes);
        self
    }

    /// The thing this client is for.
    pub fn thing_name(&self) -> &str {
        &self.thing
    }

    /// The topics to subscribe to, QoS 1: `notify-next` and the replies of every request
    /// this client sends (`+` for the job id).
    pub fn subscriptions(&self) -> Vec<String> {
        [
            "notify-next",
            "start-next/accepted",
            "start-next/rejected",
            "+/update/accepted",
            "+/update/rejected",
            "+/get/accepted",
            "+/get/rejected",
        ]
        .iter()
        .map(|t| format!("{}{t}", self.prefix))
        .collect()
    }

    /// The connection is up (first connect or reconnect), with the subscriptions in place.
    /// Asks for the next job, or re-sends the final update of the job in hand: a reply may
    /// have been lost with the connection, and the service settles a repeat.
    pub fn on_connect(&mut self, now: Duration) {
        match self.phase.clone() {
            Phase::Working(_) => {} // the application is still applying; report() follows
            Phase::Finishing(job, fin) => self.send_update(&job, &fin, now),
            Phase::Describing(job, _) => self.send_describe(&job, now),
            Phase::Disconnected | Phase::Starting | Phase::Idle => self.send_start_next(now),
        }
    }

    /// The next message to publish, if any.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.out.pop_front()
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`JobsClient::handle_timeout`] should next be called, on the clock `now` is read
    /// from: a request's reply deadline.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.in_flight
            .as_ref()
            .map(|f| f.sent_at.saturating_add(RESPONSE_TIMEOUT))
    }

    /// Re-sends a request whose reply is overdue, up to [`MAX_REQUEST_ATTEMPTS`] times.
    pub fn handle_timeout(&mut self, now: Duration) {
        let Some(f) = self.in_flight.clone() else {
            return;
        };
        if now < f.sent_at.saturating_add(RESPONSE_TIMEOUT) {
            return;
        }
        if f.attempts >= MAX_REQUEST_ATTEMPTS {
            self.in_flight = None;
            if matches!(self.phase, Phase::Starting) {
                self.phase = Phase::Disconnected;
            }
            self.events
                .push_back(Event::NoResponse { request: f.request });
            return;
        }
        let attempts = f.attempts;
        match (f.request, self.phase.clone()) {
            (Request::StartNext, _) => self.send_start_next(now),
            (Request::Update, Phase::Finishing(job, fin)) => self.send_update(&job, &fin, now),
            (Request::Describe, Phase::Describing(job, _)) => self.send_describe(&job, now),
            _ => {}
        }
        if let Some(n) = self.in_flight.as_mut() {
            n.attempts = attempts + 1;
        }
    }

    /// The application's outcome for the job an [`Event::ApplyBundle`] or
    /// [`Event::DownloadBundle`] named: sends the final status with `expectedVersion`.
    ///
    /// # Errors
    ///
    /// [`JobsError::NotWorkingOn`] if that job is not the one in hand (it was cancelled, or
    /// never started here).
    pub fn report(
        &mut self,
        job_id: &str,
        outcome: ApplyOutcome,
        now: Duration,
    ) -> Result<(), JobsError> {
        let job = match &self.phase {
            Phase::Working(job) if job.id == job_id => job.clone(),
            _ => {
                return Err(JobsError::NotWorkingOn {
                    job_id: job_id.into(),
                })
            }
        };
        let mut details = BTreeMap::new();
        let status = match outcome {
            ApplyOutcome::Applied {
                version,
                generation,
            } => {
                details.insert("version".into(), version.to_string());
                if let Some(g) = generation {
                    details.insert("generation".into(), g.to_string());
                }
                details.insert("reason".into(), "applied".into());
                JobStatus::Succeeded
            }
            ApplyOutcome::AlreadyActive { version } => {
                details.insert("version".into(), version.to_string());
                details.insert("reason".into(), "already-active".into());
                JobStatus::Succeeded
            }
            ApplyOutcome::Failed { reason, detail } => {
                details.insert("reason".into(), reason.code());
                details.insert("detail".into(), cut(&detail));
                JobStatus::Failed
            }
        };
        let fin = Final { status, details };
        self.phase = Phase::Finishing(job.clone(), fin.clone());
        self.send_update(&job, &fin, now);
        Ok(())
    }

    /// A message on one of [`JobsClient::subscriptions`].
    ///
    /// # Errors
    ///
    /// A [`JobsError`] for a message that is not this thing's, too large, or not what the
    /// service sends; the client's state is unchanged.
    pub fn handle_message(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: Duration,
    ) -> Result<(), JobsError> {
        let Some(rest) = topic.strip_prefix(self.prefix.as_str()) else {
            return Err(JobsError::ForeignTopic {
                topic: topic.into(),
            });
        };
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(JobsError::TooLarge {
                topic: topic.into(),
                bytes: payload.len(),
            });
        }
        let malformed = |e: serde_json::Error| JobsError::Malformed {
            topic: topic.into(),
            detail: e.to_string(),
        };
        match rest {
            "notify-next" => {
                let r: ExecutionReply = serde_json::from_slice(payload).map_err(malformed)?;
                self.on_notify_next(r.execution, now);
            }
            "start-next/accepted" => {
                let r: ExecutionReply = serde_json::from_slice(payload).map_err(malformed)?;
                if self.answers(Request::StartNext, r.client_token.as_deref()) {
                    self.in_flight = None;
                    self.on_started(r.execution, now);
                }
            }
            "start-next/rejected" => {
                let r: Rejected = serde_json::from_slice(payload).map_err(malformed)?;
                if self.answers(Request::StartNext, r.client_token.as_deref()) {
                    let attempts = self.in_flight.take().map_or(1, |f| f.attempts);
                    self.phase = Phase::Idle;
                    self.events.push_back(Event::ServiceRejected {
                        request: Request::StartNext,
                        code: r.code,
                        message: r.message,
                    });
                    // Asked again later: a notify-next comes only when the next job changes,
                    // so a throttled device would otherwise miss a queued job until it
                    // reconnects.
                    self.retry_later(Request::StartNext, attempts, now);
                }
            }
            _ => {
                let (job_id, reply) =
                    rest.split_once('/')
                        .ok_or_else(|| JobsError::UnknownTopic {
                            topic: topic.into(),
                        })?;
                match reply {
                    "update/accepted" => {
                        let r: UpdateAccepted =
                            serde_json::from_slice(payload).map_err(malformed)?;
                        if self.answers(Request::Update, r.client_token.as_deref()) {
                            self.in_flight = None;
                            self.on_update_accepted(job_id, now);
                        }
                    }
                    "update/rejected" => {
                        let r: Rejected = serde_json::from_slice(payload).map_err(malformed)?;
                        if self.answers(Request::Update, r.client_token.as_deref()) {
                            let attempts = self.in_flight.take().map_or(1, |f| f.attempts);
                            self.on_update_rejected(job_id, r, now, attempts);
                        }
                    }
                    "get/accepted" => {
                        let r: ExecutionReply =
                            serde_json::from_slice(payload).map_err(malformed)?;
                        if self.answers(Request::Describe, r.client_token.as_deref()) {
                            self.in_flight = None;
                            self.on_described(job_id, r.execution, now);
                        }
                    }
                    "get/rejected" => {
                        let r: Rejected = serde_json::from_slice(payload).map_err(malformed)?;
                        if self.answers(Request::Describe, r.client_token.as_deref()) {
                            let attempts = self.in_flight.take().map_or(1, |f| f.attempts);
                            self.on_describe_rejected(job_id, r, now, attempts);
                        }
                    }
                    _ => {
                        return Err(JobsError::UnknownTopic {
                            topic: topic.into(),
                        })
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a reply belongs to the request in flight: same kind, same token. A stale
    /// reply (an earlier attempt's, or one redelivered after a reconnect) does not.
    fn answers(&self, request: Request, token: Option<&str>) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.request == request && Some(f.token.as_str()) == token)
    }

    fn on_notify_next(&mut self, execution: Option<ExecutionWire>, now: Duration) {
        match (&self.phase, execution) {
            // The job in hand left the queue (the next is another, or none): in-progress
            // executions come first, so it is no longer pending.
            (Phase::Working(job), next) if next.as_ref().is_none_or(|e| e.job_id != job.id) => {
                let job_id = job.id.clone();
                self.events.push_back(Event::JobCancelled { job_id });
                self.phase = Phase::Idle;
                if next.is_some() {
                    self.send_start_next(now);
                }
            }
            // Idle and a job is next: start it. Anything else is a duplicate, or about a job
            // whose final update is in flight (its reply settles it).
            (Phase::Idle, Some(_)) => self.send_start_next(now),
            _ => {}
        }
    }

    fn on_started(&mut self, execution: Option<ExecutionWire>, now: Duration) {
        let Some(e) = execution else {
            self.phase = Phase::Idle;
            self.events.push_back(Event::Idle);
            return;
        };
        let job = Job {
            id: e.job_id.clone(),
            version: e.version_number.unwrap_or(1),
        };
        match parse_document(e.job_document.as_ref()) {
            Ok(Source::Inline(bundle)) => {
                self.phase = Phase::Working(job.clone());
                self.events.push_back(Event::ApplyBundle {
                    job_id: job.id,
                    bundle,
                });
            }
            Ok(Source::Url(url)) => {
                self.phase = Phase::Working(job.clone());
                self.events.push_back(Event::DownloadBundle {
                    job_id: job.id,
                    url,
                    max_bytes: MAX_BUNDLE_BYTES,
                });
            }
            Err(reason) => {
                let mut details = BTreeMap::new();
                details.insert("reason".into(), reason.code().into());
                let fin = Final {
                    status: JobStatus::Rejected,
                    details,
                };
                self.phase = Phase::Finishing(job.clone(), fin.clone());
                self.send_update(&job, &fin, now);
            }
        }
    }

    fn on_update_accepted(&mut self, job_id: &str, now: Duration) {
        if let Phase::Finishing(job, fin) = &self.phase {
            if job.id == job_id {
                self.events.push_back(Event::JobFinished {
                    job_id: job.id.clone(),
                    status: fin.status,
                });
                self.phase = Phase::Idle;
                self.send_start_next(now);
            }
        }
    }

    fn on_update_rejected(&mut self, job_id: &str, r: Rejected, now: Duration, attempts: u32) {
        let Phase::Finishing(job, fin) = self.phase.clone() else {
            return;
        };
        if job.id != job_id {
            return;
        }
        match r.code.as_str() {
            // Our expectedVersion is stale, or the execution is already terminal (cancelled,
            // timed out, or our own earlier attempt landed): ask what it is now.
            "VersionMismatch" | "TerminalStateReached" | "InvalidStateTransition" => {
                self.phase = Phase::Describing(job.clone(), fin);
                self.send_describe(&job, now);
            }
            "ResourceNotFound" => {
                self.events
                    .push_back(Event::JobCancelled { job_id: job.id });
                self.phase = Phase::Idle;
                self.send_start_next(now);
            }
            _ => {
                self.events.push_back(Event::ServiceRejected {
                    request: Request::Update,
                    code: r.code,
                    message: r.message,
                });
                self.retry_later(Request::Update, attempts, now);
            }
        }
    }

    fn on_described(&mut self, job_id: &str, execution: Option<ExecutionWire>, now: Duration) {
        let Phase::Describing(job, fin) = self.phase.clone() else {
            return;
        };
        if job.id != job_id {
            return;
        }
        let Some(e) = execution else {
            return self.on_gone(job, now);
        };
        match e.status.as_deref() {
            Some("IN_PROGRESS") | Some("QUEUED") => {
                // A stale expectedVersion: send again against the current one.
                let job = Job {
                    id: job.id,
                    version: e.version_number.unwrap_or(job.version),
                };
                self.phase = Phase::Finishing(job.clone(), fin.clone());
                self.send_update(&job, &fin, now);
            }
            Some(s) if s == fin.status.wire() => {
                // Our own earlier update landed; its reply was lost.
                self.events.push_back(Event::JobFinished {
                    job_id: job.id,
                    status: fin.status,
                });
                self.phase = Phase::Idle;
                self.send_start_next(now);
            }
            _ => self.on_gone(job, now),
        }
    }

    fn on_describe_rejected(&mut self, job_id: &str, r: Rejected, now: Duration, attempts: u32) {
        let Phase::Describing(job, _) = self.phase.clone() else {
            return;
        };
        if job.id != job_id {
            return;
        }
        if r.code == "ResourceNotFound" {
            return self.on_gone(job, now);
        }
        self.events.push_back(Event::ServiceRejected {
            request: Request::Describe,
            code: r.code,
            message: r.message,
        });
        self.retry_later(Request::Describe, attempts, now);
    }

    /// Sends `request` again after [`RESPONSE_TIMEOUT`] (through [`JobsClient::handle_timeout`]).
    /// The refused attempt counts against [`MAX_REQUEST_ATTEMPTS`], so a service that refuses
    /// every time is asked a bounded number of times, not forever.
    fn retry_later(&mut self, request: Request, attempts: u32, now: Duration) {
        self.in_flight = Some(InFlight {
            request,
            // Matches no reply: the retry sends a fresh token.
            token: String::new(),
            sent_at: now,
            attempts,
        });
    }

    /// The execution ended in a status this device did not set (CANCELED, TIMED_OUT,
    /// REMOVED), or no longer exists.
    fn on_gone(&mut self, job: Job, now: Duration) {
        self.events
            .push_back(Event::JobCancelled { job_id: job.id });
        self.phase = Phase::Idle;
        self.send_start_next(now);
    }

    fn token(&mut self) -> String {
        self.next_token += 1;
        format!("{}-{}", self.thing, self.next_token)
    }

    fn send(
        &mut self,
        request: Request,
        topic: String,
        payload: Vec<u8>,
        now: Duration,
        token: String,
    ) {
        let attempts = match &self.in_flight {
            Some(f) if f.request == request => f.attempts,
            _ => 1,
        };
        self.in_flight = Some(InFlight {
            request,
            token,
            sent_at: now,
            attempts,
        });
        self.out.push_back(Publish { topic, payload });
    }

    fn send_start_next(&mut self, now: Duration) {
        let token = self.token();
        let mut details = BTreeMap::new();
        details.insert("step".into(), "applying".into());
        let body = StartNextRequest {
            client_token: &token,
            status_details: &details,
            step_timeout_in_minutes: self.step_timeout_minutes,
        };
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        self.phase = Phase::Starting;
        let topic = format!("{}start-next", self.prefix);
        self.send(Request::StartNext, topic, payload, now, token);
    }

    fn send_update(&mut self, job: &Job, fin: &Final, now: Duration) {
        let token = self.token();
        let body = UpdateRequest {
            client_token: &token,
            status: fin.status.wire(),
            status_details: &fin.details,
            expected_version: job.version,
            include_job_execution_state: true,
        };
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        let topic = format!("{}{}/update", self.prefix, job.id);
        self.send(Request::Update, topic, payload, now, token);
    }

    fn send_describe(&mut self, job: &Job, now: Duration) {
        let token = self.token();
        let payload = serde_json::to_vec(&TokenOnly {
            client_token: &token,
        })
        .unwrap_or_default();
        let topic = format!("{}{}/get", self.prefix, job.id);
        self.send(Request::Describe, topic, payload, now, token);
    }
}

enum Source {
    Inline(Vec<u8>),
    Url(String),
}

fn parse_document(doc: Option<&serde_json::Value>) -> Result<Source, RejectReason> {
    let doc = doc.ok_or(RejectReason::NoDocument)?;
    let text = serde_json::to_vec(doc).map_err(|_| RejectReason::MalformedDocument)?;
    if text.len() > MAX_JOB_DOCUMENT_BYTES {
        return Err(RejectReason::DocumentTooLarge);
    }
    let w: DocumentWire =
        serde_json::from_slice(&text).map_err(|_| RejectReason::MalformedDocument)?;
    if w.operation != OPERATION {
        return Err(RejectReason::UnknownOperation);
    }
    match (w.bundle, w.bundle_url) {
        (Some(b), None) => B64
            .decode(b)
            .map(Source::Inline)
            .map_err(|_| RejectReason::BundleNotBase64),
        (None, Some(url)) if url.starts_with("https://") => Ok(Source::Url(url)),
        (None, Some(_)) => Err(RejectReason::UrlNotHttps),
        _ => Err(RejectReason::NoBundle),
    }
}

/// `s` cut to [`MAX_STATUS_DETAIL_BYTES`] on a character boundary.
fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_STATUS_DETAIL_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].into()
}

#[cfg(feature = "store")]
impl ApplyOutcome {
    /// The outcome of `TrustStore::apply` (or `stage` → `health_check` → `commit`), as a job
    /// reports it: the generation from the store's source, the reason from the error.
    pub fn from_store<S: crate::store::Storage>(
        result: &Result<crate::store::StageOutcome, crate::store::StoreError>,
        store: &crate::store::TrustStore<S>,
    ) -> Self {
        use crate::store::{ActiveSource, StageOutcome, StoreError};
        match result {
            Ok(StageOutcome::Staged { version }) => Self::Applied {
                version: *version,
                generation: match store.source() {
                    ActiveSource::Bundle { generation } => Some(generation),
                    _ => None,
                },
            },
            Ok(StageOutcome::AlreadyActive { version }) => {
                Self::AlreadyActive { version: *version }
            }
            Err(e) => Self::Failed {
                reason: match e {
                    StoreError::Bundle(b) => FailureReason::Refused(b.rule()),
                    StoreError::HealthCheckFailed { .. } => FailureReason::HealthCheckFailed,
                    StoreError::HealthCheckUnavailable { .. } => {
                        FailureReason::HealthCheckUnavailable
                    }
                    StoreError::Busy { .. } => FailureReason::Busy,
                    StoreError::ReadOnly => FailureReason::ReadOnly,
                    StoreError::PreviouslyDiscarded { .. } => FailureReason::PreviouslyDiscarded,
                    StoreError::Io { .. } => FailureReason::Io,
                    _ => FailureReason::Other,
                },
                detail: cut(&e.to_string()),
            },
        }
    }
}
