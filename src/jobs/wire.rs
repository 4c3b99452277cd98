//! The AWS IoT Jobs MQTT messages this module reads and writes, and the job document.
//!
//! Replies from the service are read leniently (unknown fields ignored: AWS adds fields);
//! the job document, which operators write for this crate, strictly.

use alloc::collections::BTreeMap;
use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::json::json_object;

/// The job execution, as `notify-next`, `start-next/accepted` and `get/accepted` carry it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub(super) struct ExecutionWire {
    pub(super) job_id: String,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) version_number: Option<u64>,
    #[serde(default)]
    pub(super) job_document: Option<serde_json::Value>,
}

/// `notify-next`, `start-next/accepted` and `{jobId}/get/accepted`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub(super) struct ExecutionReply {
    #[serde(default)]
    pub(super) execution: Option<ExecutionWire>,
    #[serde(default)]
    pub(super) client_token: Option<String>,
}

/// `{jobId}/update/accepted` (with `includeJobExecutionState`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub(super) struct UpdateAccepted {
    #[serde(default)]
    pub(super) client_token: Option<String>,
}

/// Every `/rejected` reply: the service's ErrorResponse.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub(super) struct Rejected {
    #[serde(default)]
    pub(super) code: String,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) client_token: Option<String>,
}

/// `start-next`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartNextRequest<'a> {
    pub(super) client_token: &'a str,
    pub(super) status_details: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) step_timeout_in_minutes: Option<u64>,
}

/// `{jobId}/update`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateRequest<'a> {
    pub(super) client_token: &'a str,
    pub(super) status: &'a str,
    pub(super) status_details: &'a BTreeMap<String, String>,
    pub(super) expected_version: u64,
    pub(super) include_job_execution_state: bool,
}

/// `{jobId}/get` (DescribeJobExecution) and `get` (GetPendingJobExecutions).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TokenOnly<'a> {
    pub(super) client_token: &'a str,
}

/// The job document this crate defines: exactly one of `bundle` (inline, base64) and
/// `bundleUrl` (HTTPS, for bundles too large for a 32 KB document).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct DocumentWire {
    pub(super) operation: String,
    #[serde(default, deserialize_with = "crate::json::present")]
    pub(super) bundle: Option<String>,
    #[serde(default, deserialize_with = "crate::json::present")]
    pub(super) bundle_url: Option<String>,
}

// Objects only, never arrays of the field values (serde's default for structs): the
// hardening issue's rule for every format this crate reads.
json_object!(
    ExecutionWire => "a job execution object",
    ExecutionReply => "a Jobs reply object",
    UpdateAccepted => "an update reply object",
    Rejected => "an error response object",
    DocumentWire => "the job document object",
);
