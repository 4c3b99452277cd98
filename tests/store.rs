//! The fleet trust store: stage → health check → commit, fallbacks, floors, faults and power
//! loss at every step.
#![cfg(all(
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use aws_iot_roots::bundle::BundleError;
use aws_iot_roots::store::{
    ActiveSource, HealthCheckError, StageOutcome, Storage, StoreConfig, StoreError, TrustStore,
};
use aws_iot_roots::DeadlineKind;
use common::bundles::*;
use common::release::*;
use common::simfs::SimStorage;
use rustls_pki_types::TrustAnchor;

/// The anchors of these roots, in bundle order (by certificate SHA-256).
fn anchors_of(roots: &[&str]) -> Vec<TrustAnchor<'static>> {
    let mut found: Vec<_> = roots
        .iter()
        .map(|r| {
            aws_iot_roots::ROOTS
                .iter()
                .find(|x| x.name == *r)
                .expect("root")
        })
        .collect();
    found.sort_by_key(|r| r.sha256);
    found.iter().map(|r| r.anchor.clone()).collect()
}

/// The attempt count in staged.json as it is on disk (first line: checksum; then JSON).
fn attempts_on_disk(dir: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("staged.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(text.split_once('\n')?.1).ok()?;
    json["attempts"].as_u64()
}

#[test]
fn a_new_store_trusts_the_compiled_in_roots() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = TrustStore::open(dir.path(), Release::new().config()).expect("open");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(store.anchors(), aws_iot_roots::TLS_SERVER_ROOTS);
    assert_eq!(store.floors().version, 0);
}

#[test]
fn stage_health_check_commit_makes_a_bundle_active_across_reopen() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    assert_eq!(
        store.stage(&rel.bundle(1, V1), now()).expect("stage"),
        StageOutcome::Staged { version: 1 }
    );
    // Staging does not touch the active set.
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(store.anchors(), aws_iot_roots::TLS_SERVER_ROOTS);
    store.health_check(&mut pass, now()).expect("healthy");
    let out = store.commit(now()).expect("commit");
    assert_eq!(out.version, 1);
    assert_eq!(store.anchors(), anchors_of(V1));
    drop(store);
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(
        store.source(),
        ActiveSource::Bundle {
            generation: out.generation
        }
    );
    assert_eq!(version(&store), Some(1));
    assert_eq!(store.anchors(), anchors_of(V1));
    assert_eq!(store.floors().version, 1);
}

#[test]
fn the_same_bundle_again_is_already_active() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let b = rel.bundle(1, V1);
    store.apply(&b, now(), &mut pass).expect("apply");
    assert_eq!(
        store.stage(&b, now()).expect("again"),
        StageOutcome::AlreadyActive { version: 1 }
    );
}

#[test]
fn health_check_sees_only_the_staged_anchors() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.add_extra_anchor(anchors_of(&["Amazon Root CA 1"]).remove(0));
    store.stage(&rel.bundle(1, V2), now()).expect("stage");
    let mut seen = Vec::new();
    store
        .health_check(
            &mut |a: &[TrustAnchor<'static>]| {
                seen = a.to_vec();
                Ok(())
            },
            now(),
        )
        .expect("check");
    assert_eq!(
        seen,
        anchors_of(V2),
        "no compiled-in or extra anchors in the check"
    );
}

#[test]
fn a_bundle_that_fails_its_health_check_is_never_committed() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let b = rel.bundle(1, V1);
    store.stage(&b, now()).expect("stage");
    assert!(matches!(
        store.commit(now()),
        Err(StoreError::NotHealthChecked { version: 1 })
    ));
    let mut fail = |_: &[TrustAnchor<'static>]| {
        Err(HealthCheckError::Failed {
            reason: "chain did not verify".into(),
        })
    };
    for attempt in 1..=3u32 {
        match store.health_check(&mut fail, now()) {
            Err(StoreError::HealthCheckFailed {
                attempt: a,
                max_attempts: 3,
                discarded,
                ref reason,
                ..
            }) => {
                assert_eq!(a, attempt);
                assert_eq!(discarded, attempt == 3);
                assert_eq!(reason, "chain did not verify");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.commit(now()),
            Err(StoreError::NotHealthChecked { .. } | StoreError::NothingStaged)
        ));
    }
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    // Discarded with its reason: offered again, it is refused instead of retried.
    match store.stage(&b, now()) {
        Err(StoreError::PreviouslyDiscarded { version: 1, reason }) => {
            assert!(reason.contains("chain did not verify"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    drop(store);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert!(matches!(
        store.stage(&b, now()),
        Err(StoreError::PreviouslyDiscarded { .. })
    ));
    assert_eq!(store.source(), ActiveSource::CompiledIn);
}

#[test]
fn attempts_are_counted_on_disk_before_the_check_runs_and_survive_reboots() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let b = rel.bundle(1, V1);
    for boot in 1..=3u32 {
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
        // An agent that restarts stages the same bundle again: the count is kept.
        assert!(matches!(
            store.stage(&b, now()),
            Ok(StageOutcome::Staged { version: 1 })
        ));
        assert_eq!(staged(&store), Some((1, boot - 1)));
        let path = dir.path().to_path_buf();
        // The check may reboot the device and never return: the attempt must already be
        // on disk while it runs.
        let _ = store.health_check(
            &mut |_: &[TrustAnchor<'static>]| {
                assert_eq!(attempts_on_disk(&path), Some(u64::from(boot)));
                Err(HealthCheckError::Failed {
                    reason: "rebooted".into(),
                })
            },
            now(),
        );
    }
    // After the third failed attempt, the next boot does not try again.
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    assert_eq!(staged(&store), None);
    assert!(matches!(
        store.stage(&b, now()),
        Err(StoreError::PreviouslyDiscarded { .. })
    ));
}

#[test]
fn an_interrupted_last_attempt_is_discarded_on_open() {
    let rel = Release::new();
    let sim = SimStorage::new();
    let mut cfg = rel.config();
    cfg.max_health_attempts = 1;
    let mut store = TrustStore::open_with(sim.clone(), cfg.clone()).expect("open");
    store.stage(&rel.bundle(1, V1), now()).expect("stage");
    // Power is lost while the one allowed check runs (after its attempt was recorded).
    let _ = store.health_check(
        &mut |_: &[TrustAnchor<'static>]| {
            sim.crash_after(0);
            Err(HealthCheckError::Failed {
                reason: "power lost".into(),
            })
        },
        now(),
    );
    drop(store);
    sim.crash();
    let store = TrustStore::open_with(sim.clone(), cfg).expect("reopen");
    assert_eq!(staged(&store), None, "the reboot loop ends");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
}

#[test]
fn discard_records_why() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let b = rel.bundle(1, V1);
    store.stage(&b, now()).expect("stage");
    store
        .discard("operator cancelled the job")
        .expect("discard");
    assert!(matches!(
        store.discard("again"),
        Err(StoreError::NothingStaged)
    ));
    match store.stage(&b, now()) {
        Err(StoreError::PreviouslyDiscarded { reason, .. }) => {
            assert_eq!(reason, "operator cancelled the job")
        }
        other => panic!("{other:?}"),
    }
    // A newer bundle is still welcome.
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("newer");
}

fn corrupt(path: &std::path::Path, how: &str) {
    let mut bytes = std::fs::read(path).expect("read");
    match how {
        "flip" => {
            let i = bytes.len() / 2;
            bytes[i] ^= 0x20;
        }
        "truncate" => bytes.truncate(bytes.len() / 3),
        _ => unreachable!(),
    }
    std::fs::write(path, bytes).expect("write");
}

fn gen_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("gen-"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_corrupt_or_truncated_committed_file_falls_back_and_rollback_is_still_refused() {
    for how in ["flip", "truncate"] {
        let rel = Release::new();
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
        let v2 = rel.bundle(2, V1);
        store.apply(&v2, now(), &mut pass).expect("v2");
        let v3 = rel.bundle(3, V2);
        store.apply(&v3, now(), &mut pass).expect("v3");
        drop(store);
        let gens = gen_files(dir.path());
        assert_eq!(gens.len(), 2, "current and previous generation kept");
        corrupt(gens.last().expect("newest"), how);

        let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
        assert!(
            matches!(store.source(), ActiveSource::PreviousGeneration { .. }),
            "{how}: {:?}",
            store.source()
        );
        assert_eq!(version(&store), Some(2));
        assert_eq!(store.anchors(), anchors_of(V1));
        assert_note(&store, NoteKind::Corrupt, "checksum");
        // The floors stay at version 3: a replay of version 2 is refused.
        assert_eq!(store.floors().version, 3);
        assert!(
            matches!(
                store.stage(&v2, now()),
                Err(StoreError::Bundle(BundleError::Rollback {
                    offered: 2,
                    current: 3
                }) | StoreError::Bundle(BundleError::VersionConflict { .. }))
            ) || matches!(
                store.stage(&v2, now()),
                Err(StoreError::Bundle(BundleError::Rollback { .. }))
            )
        );
        // Re-offering version 3 repairs the store.
        store.apply(&v3, now(), &mut pass).expect("repair");
        assert_eq!(version(&store), Some(3));
        assert!(matches!(store.source(), ActiveSource::Bundle { .. }));
    }
}

#[test]
fn a_lost_floor_file_does_not_lower_the_floors_and_neither_does_a_lost_generation() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let v2 = rel.bundle(2, V1);
    store.apply(&v2, now(), &mut pass).expect("v2");
    store
        .apply(&rel.bundle(3, V2), now(), &mut pass)
        .expect("v3");
    drop(store);
    // floor.json gone: the generations still carry version 3.
    std::fs::remove_file(dir.path().join("floor.json")).expect("rm");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.floors().version, 3);
    assert!(matches!(
        store.stage(&v2, now()),
        Err(StoreError::Bundle(BundleError::Rollback {
            offered: 2,
            current: 3
        }))
    ));
    drop(store);
    // Both generations gone too: compiled-in roots, and floor.json (rewritten) is gone as well
    // here, so only now does anti-rollback reset. With floor.json intact it would not:
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    store
        .apply(&rel.bundle(4, V1), now(), &mut pass)
        .expect("v4");
    drop(store);
    for g in gen_files(dir.path()) {
        std::fs::remove_file(g).expect("rm");
    }
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(store.floors().version, 4, "floor.json keeps the floor");
    assert!(matches!(
        store.stage(&rel.bundle(3, V1), now()),
        Err(StoreError::Bundle(BundleError::Rollback { .. }))
    ));
}

/// The documented limit: deleting the whole state directory resets anti-rollback to the
/// compiled-in floor (version 0, build time, the application's signer set).
#[test]
fn deleting_the_state_directory_falls_back_to_the_compiled_in_roots() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let mut store = TrustStore::open(&state, rel.config()).expect("open");
    store
        .apply(&rel.bundle(5, V2), now(), &mut pass)
        .expect("v5");
    drop(store);
    std::fs::remove_dir_all(&state).expect("rm -r");
    let mut store = TrustStore::open(&state, rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(store.anchors(), aws_iot_roots::TLS_SERVER_ROOTS);
    assert_eq!(store.floors().version, 0);
    // The limit, shown: an older bundle is accepted again.
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("replay accepted after deletion");
}

#[test]
fn temp_files_are_removed_and_never_mistaken_for_state() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("v2");
    drop(store);
    // A complete, valid generation record left as a temp file by a crash before its rename.
    let gen = gen_files(dir.path()).remove(0);
    let tmp_gen = dir.path().join("gen-00000000000000000009.json.tmp");
    std::fs::copy(&gen, &tmp_gen).expect("copy");
    std::fs::write(dir.path().join("staged.json.tmp"), b"half a file").expect("write");
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::Bundle { generation: 1 });
    assert!(!tmp_gen.exists());
    assert!(!dir.path().join("staged.json.tmp").exists());
}

#[test]
fn a_second_agent_gets_busy() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let _first = TrustStore::open(dir.path(), rel.config()).expect("open");
    match TrustStore::open(dir.path(), rel.config()) {
        Err(e @ StoreError::Busy { .. }) => {
            // The holder is named: it recorded its pid in LOCK.
            let StoreError::Busy { dir: d, pid } = &e else {
                unreachable!()
            };
            assert_eq!((d.as_path(), *pid), (dir.path(), Some(std::process::id())));
            assert_eq!(
                e.to_string(),
                format!(
                    "busy: the trust store in {} is in use by another agent (pid {}); try again",
                    dir.path().display(),
                    std::process::id()
                )
            );
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    drop(_first);
    TrustStore::open(dir.path(), rel.config()).expect("free again");
}

#[test]
fn extra_anchors_are_kept_apart_and_never_persisted() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Greengrass core CA");
    let ca = p.self_signed(&key).expect("ca");
    let extra = webpki::anchor_from_trusted_cert(ca.der())
        .expect("anchor")
        .to_owned();
    store.add_extra_anchor(extra.clone());
    assert!(store.anchors().contains(&extra));
    assert!(!store.signed_anchors().contains(&extra));
    store
        .apply(&rel.bundle(1, V2), now(), &mut pass)
        .expect("apply");
    assert!(store.anchors().contains(&extra), "kept across a commit");
    assert!(!store
        .active_bundle()
        .expect("bundle")
        .anchors()
        .contains(&extra));
    drop(store);
    let needle = &extra.subject_public_key_info.as_ref()[..32];
    for f in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(f.expect("entry").path()).expect("read");
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "extra anchor written to disk"
        );
    }
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert!(store.extra_anchors().is_empty());
}

#[test]
fn status_reports_source_deadlines_staleness_and_clock() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let s = store.status(now());
    assert_eq!(s.source, ActiveSource::CompiledIn);
    assert_eq!(s.roots.len(), aws_iot_roots::ROOTS.len());
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("apply");
    store.stage(&rel.bundle(2, V2), now()).expect("stage");
    let s = store.status(now());
    assert_eq!(s.version, Some(1));
    assert_eq!(s.floor_version, 1);
    assert_eq!(s.roots.len(), 2);
    let ca1 = s
        .roots
        .iter()
        .find(|r| r.name == "Amazon Root CA 1")
        .expect("CA 1");
    // 2027-01-02 → 2038-01-17.
    assert_eq!(ca1.days_left, 4033);
    let removal = ca1.root_program_removal.as_ref().expect("known removal");
    assert_eq!(
        (removal.date.as_str(), removal.basis.as_str()),
        ("2030-05-26T00:00:00Z", "projected")
    );
    let d = s.earliest_deadline.as_ref().expect("deadline");
    assert_eq!(
        (d.kind, d.at.as_secs()),
        (DeadlineKind::LosesRootProgramTrust, 1_905_984_000) // 2030-05-26
    );
    assert_eq!(s.days_to_earliest_deadline, Some(d.days_left(now())));
    assert!(!s.stale_bundle && !s.clock_behind_floor);
    assert_eq!(
        s.staged.as_ref().map(|st| (st.version, st.attempts)),
        Some((2, 0))
    );
    // Past the bundle's expiry: stale, still active. With the clock set back: reported.
    let later = store.status(at(EXPIRES + 1));
    assert!(later.stale_bundle);
    assert_eq!(later.version, Some(1));
    assert!(store.status(at(FLOOR - 1)).clock_behind_floor);
    let json = serde_json::to_value(store.status(now())).expect("serializable");
    assert_eq!(json["source"]["kind"], "bundle");
    assert_eq!(json["roots"][0]["sha256"].as_str().map(str::len), Some(64));
}

#[cfg(target_os = "linux")]
#[test]
fn enospc_eio_and_read_only_during_stage_leave_the_active_set_untouched() {
    const ENOSPC: i32 = 28;
    const EIO: i32 = 5;
    const EROFS: i32 = 30;
    let rel = Release::new();
    for (errno, at_op) in [(ENOSPC, 0), (EIO, 1), (EROFS, 0), (EIO, 2), (ENOSPC, 3)] {
        let sim = SimStorage::new();
        let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("open");
        store
            .apply(&rel.bundle(1, V1), now(), &mut pass)
            .expect("v1");
        let before: Vec<String> = sim.names();
        sim.fail_after(at_op, errno);
        match store.stage(&rel.bundle(2, V2), now()) {
            Err(StoreError::Io { op, file, source }) => {
                assert_eq!(source.raw_os_error(), Some(errno));
                assert!(file.starts_with("staged.json"), "{file}");
                let msg = StoreError::Io { op, file, source }.to_string();
                assert!(msg.contains("staged.json"), "{msg}");
            }
            other => panic!("errno {errno} at op {at_op}: {other:?}"),
        }
        assert_eq!(staged(&store), None);
        assert_eq!(store.anchors(), anchors_of(V1));
        assert_eq!(sim.names(), before, "no debris left");
        drop(store);
        let store = TrustStore::open_with(sim.clone(), rel.config()).expect("reopen");
        assert_eq!(version(&store), Some(1));
        assert_eq!(staged(&store), None);
    }
}

/// Power loss at every mutating step of stage, health check and commit: reopening yields
/// exactly the old state or exactly the new one, never a mix, never zero roots.
#[test]
fn power_loss_at_every_step_of_stage_and_commit_leaves_old_or_new() {
    let rel = Release::new();
    let base = SimStorage::new();
    let mut store = TrustStore::open_with(base.clone(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    drop(store);
    let v2 = rel.bundle(2, V2);
    // How many mutating steps the whole update takes.
    let probe = base.fork();
    let start = probe.ops();
    let mut s = TrustStore::open_with(probe.clone(), rel.config()).expect("open");
    s.apply(&v2, now(), &mut pass).expect("v2");
    let steps = probe.ops() - start;
    assert!(steps >= 12, "stage, check and commit take {steps} steps");

    let (mut old, mut new) = (0, 0);
    for k in 0..=steps {
        let sim = base.fork();
        sim.crash_after(k);
        if let Ok(mut s) = TrustStore::open_with(sim.clone(), rel.config()) {
            let _ = s.apply(&v2, now(), &mut pass);
        }
        sim.crash();
        let mut s =
            TrustStore::open_with(sim.clone(), rel.config()).expect("reopen after power loss");
        assert!(!s.anchors().is_empty(), "step {k}: zero roots");
        match version(&s) {
            Some(1) => {
                old += 1;
                assert_eq!(s.anchors(), anchors_of(V1), "step {k}");
                assert_eq!(
                    s.floors().version,
                    1,
                    "step {k}: floors moved without the bundle"
                );
                // Nothing is stuck: the update goes through after the reboot.
                s.apply(&v2, now(), &mut pass)
                    .unwrap_or_else(|e| panic!("step {k}: retry: {e}"));
                assert_eq!(version(&s), Some(2));
            }
            Some(2) => {
                new += 1;
                assert_eq!(s.anchors(), anchors_of(V2), "step {k}");
                assert_eq!(s.floors().version, 2, "step {k}");
                assert_eq!(
                    s.stage(&v2, now()).expect("again"),
                    StageOutcome::AlreadyActive { version: 2 },
                    "step {k}"
                );
            }
            other => panic!("step {k}: version {other:?}"),
        }
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
}

#[test]
fn a_missing_fsync_would_be_caught_by_the_power_loss_model() {
    // The model itself: a renamed file whose directory was not synced is lost at power loss,
    // and so is data not synced. Without this, the test above would prove nothing.
    let sim = SimStorage::new();
    sim.write("a", b"1").expect("write");
    sim.sync("a").expect("sync");
    sim.rename("a", "b").expect("rename");
    sim.crash();
    assert!(sim.names().is_empty(), "rename without sync_dir survived");
    sim.write("c", b"2").expect("write");
    sim.sync_dir().expect("sync dir");
    sim.crash();
    assert_eq!(
        sim.contents("c"),
        Some(Vec::new()),
        "unsynced data survived"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn io_errors_during_commit_leave_the_old_state_and_the_bundle_staged() {
    const ENOSPC: i32 = 28;
    const EIO: i32 = 5;
    let rel = Release::new();
    for (errno, at_op) in [(ENOSPC, 0), (EIO, 1), (EIO, 2), (EIO, 3)] {
        let sim = SimStorage::new();
        let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("open");
        store
            .apply(&rel.bundle(1, V1), now(), &mut pass)
            .expect("v1");
        store.stage(&rel.bundle(2, V2), now()).expect("stage");
        store.health_check(&mut pass, now()).expect("check");
        sim.fail_after(at_op, errno);
        match store.commit(now()) {
            Err(StoreError::Io { source, file, .. }) => {
                assert_eq!(source.raw_os_error(), Some(errno));
                assert!(file.starts_with("gen-"), "{file}");
            }
            other => panic!("errno {errno} at op {at_op}: {other:?}"),
        }
        assert_eq!(version(&store), Some(1));
        assert_eq!(store.floors().version, 1);
        assert_eq!(
            staged(&store),
            Some((2, 1)),
            "still staged, check still counted"
        );
        drop(store);
        let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("reopen");
        assert_eq!(version(&store), Some(1), "errno {errno} at op {at_op}");
        store.commit(now()).expect("the retry commits");
        assert_eq!(version(&store), Some(2));
    }
}

/// Re-verification, not only the checksum: a generation whose bundle was altered and then
/// re-sealed with a correct checksum is refused, and the previous one is used.
#[test]
fn a_tampered_and_resealed_generation_fails_re_verification() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("v2");
    store
        .apply(&rel.bundle(3, V2), now(), &mut pass)
        .expect("v3");
    drop(store);
    let newest = gen_files(dir.path()).pop().expect("gen");
    let text = std::fs::read_to_string(&newest).expect("read");
    let mut rec: serde_json::Value =
        serde_json::from_str(text.split_once('\n').expect("sealed").1).expect("json");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bundle: serde_json::Value = serde_json::from_slice(
        &b64.decode(rec["bundle"].as_str().expect("b64"))
            .expect("b64"),
    )
    .expect("json");
    bundle["certificates"][0] = serde_json::json!(b64.encode(root_der("Amazon Root CA 1")));
    rec["bundle"] = serde_json::json!(b64.encode(serde_json::to_vec(&bundle).expect("json")));
    let body = serde_json::to_vec(&rec).expect("json");
    let mut sealed = hex(&sha2::Sha256::digest(&body)).into_bytes();
    sealed.push(b'\n');
    sealed.extend_from_slice(&body);
    std::fs::write(&newest, sealed).expect("write");
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert!(
        matches!(store.source(), ActiveSource::PreviousGeneration { .. }),
        "{:?}",
        store.source()
    );
    assert_eq!(version(&store), Some(2));
    assert_note(
        &store,
        NoteKind::FailedReverification,
        "re-verification failed",
    );
}

#[test]
fn a_generation_under_another_file_name_is_refused() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("v2");
    drop(store);
    let gen = gen_files(dir.path()).remove(0);
    std::fs::rename(&gen, dir.path().join("gen-00000000000000000007.json")).expect("rename");
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_note(&store, NoteKind::Corrupt, "does not match its file name");
    // floor.json still holds the version.
    assert_eq!(store.floors().version, 2);
}

#[test]
fn state_of_another_fleet_is_neither_trusted_nor_imposed() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(9, V2), now(), &mut pass)
        .expect("v9");
    drop(store);
    let other = StoreConfig::new("acme-staging", rel.set());
    let store = TrustStore::open(dir.path(), other).expect("reopen as another fleet");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(
        store.floors().version,
        0,
        "another fleet's floors do not apply"
    );
    assert_note(&store, NoteKind::FailedReverification, "wrong fleet");
    assert_note(&store, NoteKind::OtherFleet, "floor.json: for fleet");
}

#[test]
fn a_corrupt_staged_file_is_removed_on_open() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&rel.bundle(2, V1), now()).expect("stage");
    drop(store);
    corrupt(&dir.path().join("staged.json"), "truncate");
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(staged(&store), None);
    assert!(!dir.path().join("staged.json").exists());
    assert_note(&store, NoteKind::Corrupt, "staged.json");
}

/// A staged bundle is verified again at its health check and at its commit. One that does not
/// verify then (it expired, or the clock reads far ahead) is never committed, but it is not
/// discarded for good either: that is the clock's doing, not the bundle's (issue 11, item 10).
/// Once the clock reads a time at which it verifies, it checks and commits as usual.
#[test]
fn a_staged_bundle_that_does_not_verify_at_check_or_commit_is_never_committed() {
    let rel = Release::new();
    let late = at(EXPIRES + 1);
    // Before the health check: no attempt is spent, the bundle stays staged.
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&rel.bundle(2, V2), now()).expect("stage");
    match store.health_check(&mut pass, late) {
        Err(StoreError::Bundle(BundleError::Expired { .. })) => {}
        other => panic!("expected Expired, got {other:?}"),
    }
    assert_eq!(staged(&store), Some((2, 0)));
    // After a passing check, before the commit: not committed, still staged and passed.
    store.health_check(&mut pass, now()).expect("healthy");
    match store.commit(late) {
        Err(StoreError::Bundle(BundleError::Expired { .. })) => {}
        other => panic!("expected Expired, got {other:?}"),
    }
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert!(store.discarded().is_empty());
    drop(store);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(staged(&store), Some((2, 1)));
    // The clock is right again: the same bundle commits.
    store.commit(now()).expect("commit at the right time");
    assert_eq!(store.source(), ActiveSource::Bundle { generation: 1 });
}
