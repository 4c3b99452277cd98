//! The Jobs state machine under arbitrary message sequences: any topic, any payload, in any
//! order, interleaved with reports, timeouts and reconnects. It must never panic, never emit
//! a publish outside its thing's Jobs topics, and never have more than one request in flight.
#![no_main]

use core::time::Duration;

use aws_iot_roots::jobs::{ApplyOutcome, Event, JobsClient};
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "$aws/things/fuzz-thing/jobs/";
const TOPICS: [&str; 9] = [
    "notify-next",
    "start-next/accepted",
    "start-next/rejected",
    "j1/update/accepted",
    "j1/update/rejected",
    "j1/get/accepted",
    "j1/get/rejected",
    "j2/update/accepted",
    "$aws/things/other/jobs/notify-next",
];

fuzz_target!(|data: &[u8]| {
    let mut jobs = JobsClient::new("fuzz-thing").expect("thing");
    let mut now = Duration::ZERO;
    let mut working: Option<String> = None;
    // Each step: one control byte, a length byte, then that many payload bytes.
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_secs(u64::from(op >> 4));
        match op & 0x0f {
            0 => jobs.on_connect(now),
            1 => jobs.handle_timeout(now),
            2 => {
                if let Some(id) = working.take() {
                    let _ = jobs.report(&id, ApplyOutcome::AlreadyActive { version: 1 }, now);
                }
            }
            k => {
                let t = TOPICS[usize::from(k) % TOPICS.len()];
                let topic = if t.starts_with('$') { t.to_owned() } else { format!("{PREFIX}{t}") };
                let _ = jobs.handle_message(&topic, payload, now);
            }
        }
        while let Some(p) = jobs.poll_publish() {
            assert!(p.topic.starts_with(PREFIX), "{}", p.topic);
        }
        while let Some(e) = jobs.poll_event() {
            if let Event::ApplyBundle { job_id, .. } | Event::DownloadBundle { job_id, .. } = e {
                working = Some(job_id);
            }
        }
    }
});
