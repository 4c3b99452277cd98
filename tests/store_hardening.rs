//! The trust store against what an outside torture run and adversarial suite found (issue 11,
//! items 5-12), each as a class: hostile entries in the state directory, generation numbers,
//! reboot-loop budgets across offers, the crash window after the commit point, read-only
//! state, device-caused failures, and the time floor.
#![cfg(all(
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use aws_iot_roots::store::{
    Access, ActiveSource, DirStorage, DiscardCause, HealthCheckError, StageOutcome, Storage,
    StoreError, TrustStore,
};
use common::bundles::*;
use common::release::*;
use common::simfs::SimStorage;
use rustls_pki_types::TrustAnchor;

fn gen_name(n: u64) -> String {
    format!("gen-{n:020}.json")
}

fn failed(reason: &str) -> HealthCheckError {
    HealthCheckError::Failed {
        reason: reason.into(),
    }
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

// Item 5: hostile entries are never followed, and cleaned up whatever their kind.

/// Every name the store owns, planted as a symbolic link to a file outside the directory:
/// debris, every state file and a generation. Open removes each link (it never reads through
/// one), and the update that follows writes real files; the target is never touched.
#[test]
fn symlinks_in_the_state_directory_are_never_followed_or_written_through() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious").expect("write");
    TrustStore::open(dir.path(), rel.config())
        .expect("open")
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    let planted = [
        "staged.json.tmp",
        "floor.json.tmp",
        "gen-00000000000000000002.json.tmp",
        "staged.json",
        "discarded.json",
        "attempts.json",
        "gen-00000000000000000007.json",
        "floor.json",
    ];
    for name in planted {
        let _ = std::fs::remove_file(dir.path().join(name));
        symlink(&victim, dir.path().join(name)).expect("symlink");
    }
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    assert_eq!(
        store.floors().version,
        1,
        "the generation still holds the floors"
    );
    assert_eq!(version(&store), Some(1));
    for name in planted {
        assert!(
            !is_symlink(&dir.path().join(name)),
            "{name} is still a link"
        );
        assert_note(
            &store,
            NoteKind::NotARegularFile,
            &format!("{name}: not a regular file; removed"),
        );
    }
    store
        .apply(&rel.bundle(2, V1), now(), &mut pass)
        .expect("v2");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    for name in ["floor.json", "gen-00000000000000000002.json"] {
        let m = std::fs::symlink_metadata(dir.path().join(name)).expect(name);
        assert!(m.is_file(), "{name} is a regular file");
    }
}

/// The two lock files: a link planted in their place is replaced, never followed (with
/// O_CREAT, following it would create the target outside the directory).
#[test]
fn symlinked_lock_files_are_replaced_not_followed() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    for name in ["LOCK", "SNAPSHOT"] {
        symlink(outside.path().join(name), dir.path().join(name)).expect("symlink");
    }
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    for name in ["LOCK", "SNAPSHOT"] {
        assert!(!outside.path().join(name).exists(), "{name} target created");
        assert!(std::fs::symlink_metadata(dir.path().join(name))
            .expect(name)
            .is_file());
    }
}

/// Debris and state names of other kinds: a directory (with contents), a FIFO (which a plain
/// open would block on forever). Open neither hangs nor fails; it removes them.
#[test]
fn entries_of_any_kind_where_state_belongs_are_removed_on_open() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(dir.path().join("gen-00000000000000000001.json.tmp")).expect("dir");
    std::fs::write(
        dir.path().join("gen-00000000000000000001.json.tmp/inner"),
        "x",
    )
    .expect("inner");
    std::fs::create_dir(dir.path().join("floor.json")).expect("dir");
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.path().join("staged.json"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    // Not the store's: left alone.
    std::fs::create_dir(dir.path().join("operator-notes")).expect("dir");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    for name in [
        "gen-00000000000000000001.json.tmp",
        "floor.json",
        "staged.json",
    ] {
        assert!(
            std::fs::symlink_metadata(dir.path().join(name)).is_err(),
            "{name} left behind"
        );
    }
    assert!(dir.path().join("operator-notes").is_dir());
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
}

/// The storage layer itself: `write` replaces whatever is at the name (it is always a temp
/// name), `read` and `sync` refuse a link, `remove` removes the link and not its target.
#[test]
fn dir_storage_never_follows_a_symlink() {
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious").expect("write");
    let s = DirStorage::new(dir.path()).expect("storage");
    symlink(&victim, dir.path().join("a")).expect("symlink");
    let err = s.read("a", 1024).expect_err("read through a link");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = s.sync("a").expect_err("sync through a link");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    s.write("a", b"new").expect("write replaces the link");
    assert!(!is_symlink(&dir.path().join("a")));
    assert_eq!(s.read("a", 1024).expect("read"), Some(b"new".to_vec()));
    symlink(&victim, dir.path().join("b")).expect("symlink");
    s.remove("b").expect("remove");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    let kinds: BTreeMap<String, _> = {
        symlink(&victim, dir.path().join("c")).expect("symlink");
        s.list()
            .expect("list")
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect()
    };
    assert_eq!(kinds["a"], aws_iot_roots::store::EntryKind::File);
    assert_eq!(kinds["c"], aws_iot_roots::store::EntryKind::Other);
}

// Item 6: generation numbers come from verified bundles, and never wrap.

#[test]
fn a_generation_file_name_without_a_verified_bundle_moves_nothing() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    drop(store);
    std::fs::write(dir.path().join(gen_name(u64::MAX)), "anything").expect("plant");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(version(&store), Some(1));
    assert_eq!(store.floors().version, 1);
    assert_note(&store, NoteKind::Corrupt, &gen_name(u64::MAX));
    let out = store.stage(&rel.bundle(2, V1), now()).expect("stage");
    assert_eq!(out, StageOutcome::Staged { version: 2 });
    store.health_check(&mut pass, now()).expect("check");
    let commit = store.commit(now()).expect("commit");
    assert_eq!(
        commit.generation, 2,
        "the next number follows the verified generation"
    );
    drop(store);
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::Bundle { generation: 2 });
    assert_eq!(version(&store), Some(2));
    assert!(!dir.path().join(gen_name(u64::MAX)).exists(), "cleaned up");
}

/// A (resealed, hence verified) generation at 2^64-1: the next commit cannot be numbered, so
/// it is refused with nothing changed, instead of wrapping to 0.
#[test]
fn generation_numbers_never_wrap() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    TrustStore::open(dir.path(), rel.config())
        .expect("open")
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    let mut rec = read_record(&dir.path().join(gen_name(1)));
    rec["generation"] = serde_json::json!(u64::MAX);
    write_record(&dir.path().join(gen_name(u64::MAX)), &rec);
    std::fs::remove_file(dir.path().join(gen_name(1))).expect("rm");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(
        store.source(),
        ActiveSource::Bundle {
            generation: u64::MAX
        }
    );
    store.stage(&rel.bundle(2, V1), now()).expect("stage");
    store.health_check(&mut pass, now()).expect("check");
    match store.commit(now()) {
        Err(StoreError::GenerationExhausted { generation }) => assert_eq!(generation, u64::MAX),
        other => panic!("{other:?}"),
    }
    drop(store);
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(version(&store), Some(1));
    assert_eq!(staged(&store), Some((2, 1)));
}

// Item 7: the reboot-loop budget holds across offers.

/// Each boot offers another bundle (two in turn, or three in a rotation), and each health
/// check reboots the device (power is lost while it runs). Attempts are counted per version
/// across stagings, so every bundle is checked at most `max_health_attempts` times, then
/// refused for good.
#[test]
fn alternating_or_rotating_offers_cannot_reset_the_reboot_loop_counter() {
    for offers in [2u64, 3] {
        let rel = Release::new();
        let bundles: Vec<Vec<u8>> = (0..offers).map(|i| rel.bundle(2 + i, V1)).collect();
        let sim = SimStorage::new();
        let mut checks: BTreeMap<u64, u32> = BTreeMap::new();
        let mut refused = 0;
        for boot in 0..(5 * offers) {
            let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("open");
            let offer = &bundles[(boot % offers) as usize];
            match store.stage(offer, now()) {
                Ok(StageOutcome::Staged { version }) => {
                    let _ = store.health_check(
                        &mut |_: &[TrustAnchor<'static>]| {
                            *checks.entry(version).or_default() += 1;
                            sim.crash_after(0);
                            Err(failed("rebooted"))
                        },
                        now(),
                    );
                }
                Err(StoreError::PreviouslyDiscarded { .. }) => refused += 1,
                other => panic!("boot {boot}: {other:?}"),
            }
            drop(store);
            sim.crash();
        }
        assert_eq!(checks.len() as u64, offers);
        assert!(
            checks.values().all(|&n| n <= 3),
            "{offers} offers: checks per version {checks:?}"
        );
        assert!(refused > 0, "{offers} offers: none refused");
        let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("open");
        for b in &bundles {
            assert!(matches!(
                store.stage(b, now()),
                Err(StoreError::PreviouslyDiscarded { .. })
            ));
        }
        assert_eq!(store.source(), ActiveSource::CompiledIn);
    }
}

/// A re-issued bundle (same version, other payload) shares its version's budget.
#[test]
fn a_reissued_bundle_shares_its_versions_attempts() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&rel.bundle(2, V1), now()).expect("stage");
    for _ in 0..2 {
        let _ = store.health_check(&mut |_: &[TrustAnchor<'static>]| Err(failed("no")), now());
    }
    // Another bundle in between, then version 2 again with other roots.
    store.stage(&rel.bundle(3, V1), now()).expect("stage v3");
    store
        .stage(&rel.bundle(2, V2), now())
        .expect("stage v2 again");
    assert_eq!(staged(&store), Some((2, 2)));
    let err = store
        .health_check(&mut |_: &[TrustAnchor<'static>]| Err(failed("no")), now())
        .expect_err("third failure");
    assert!(
        matches!(
            err,
            StoreError::HealthCheckFailed {
                attempt: 3,
                discarded: true,
                ..
            }
        ),
        "{err:?}"
    );
    // A third payload at version 2, after the discard: the version's budget is spent.
    match store.stage(&rel.bundle(2, &["Amazon Root CA 1"]), now()) {
        Err(StoreError::PreviouslyDiscarded { version: 2, reason }) => {
            assert_eq!(reason, "version 2 already used its 3 health-check attempts")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(staged(&store), None);
}

// Item 8: a crash just after the commit point.

/// The commit point is the generation rename; staged.json goes after it (and floor.json in
/// between). A crash in that window leaves the committed bundle recorded as staged, with the
/// floor file old or new. Open reconciles: nothing is pending, no refusal claims "a different
/// payload", and the active bundle is never discarded.
#[test]
fn a_crash_between_the_commit_point_and_the_staged_cleanup_is_reconciled() {
    for floor_written in [false, true] {
        let rel = Release::new();
        let dir = tempfile::tempdir().expect("tmp");
        let b = rel.bundle(1, V1);
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
        store.stage(&b, now()).expect("stage");
        store.health_check(&mut pass, now()).expect("check");
        let staged_file = std::fs::read(dir.path().join("staged.json")).expect("staged");
        let floor = std::fs::read(dir.path().join("floor.json")).ok();
        store.commit(now()).expect("commit");
        drop(store);
        std::fs::write(dir.path().join("staged.json"), &staged_file).expect("restore");
        if !floor_written {
            match &floor {
                Some(f) => std::fs::write(dir.path().join("floor.json"), f).expect("restore"),
                None => std::fs::remove_file(dir.path().join("floor.json")).expect("rm"),
            }
        }
        let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
        assert_eq!(version(&store), Some(1));
        assert_eq!(staged(&store), None, "floor written: {floor_written}");
        assert_note(
            &store,
            NoteKind::StagedCleared,
            "staged.json: version 1 is already committed; cleared",
        );
        assert!(!dir.path().join("staged.json").exists());
        assert!(matches!(
            store.health_check(&mut pass, now()),
            Err(StoreError::NothingStaged)
        ));
        assert!(matches!(
            store.commit(now()),
            Err(StoreError::NothingStaged)
        ));
        assert_eq!(
            store.stage(&b, now()).expect("re-offer"),
            StageOutcome::AlreadyActive { version: 1 }
        );
        assert!(store.discarded().is_empty());
    }
}

/// A committed bundle listed as discarded (as the window above used to leave it) is not
/// refused when offered again, for instance to repair a generation that rotted.
#[test]
fn a_committed_bundle_is_never_refused_as_discarded() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let b = rel.bundle(1, V1);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.apply(&b, now(), &mut pass).expect("v1");
    let sha = hex(store.active_bundle().expect("active").payload_sha256());
    drop(store);
    write_record(
        &dir.path().join("discarded.json"),
        &serde_json::json!({ "format": 1, "entries": [{
            "payload_sha256": sha, "version": 1, "cause": "health_check_failed",
            "reason": "from an older crate", "at": CLOCK
        }] }),
    );
    // The generation rots; floor.json keeps the floors at version 1.
    std::fs::write(dir.path().join(gen_name(1)), "rotted").expect("rot");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert!(store.discarded().is_empty());
    assert_eq!(
        store.stage(&b, now()).expect("repair"),
        StageOutcome::Staged { version: 1 }
    );
    store.health_check(&mut pass, now()).expect("check");
    store.commit(now()).expect("commit");
    assert_eq!(version(&store), Some(1));
}

// Item 9: a read-only state directory.

/// A tmpfs mounted at a temporary directory, remounted read-only on demand: the real
/// EROFS a device sees after `errors=remount-ro`. Needs root; skips elsewhere (fails in CI).
struct Mount(tempfile::TempDir);

impl Mount {
    fn new() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tmp");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(Self(dir));
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "mounting a tmpfs needs root, and CI runs as root"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        None
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn remount(&self, mode: &str) {
        let s = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path())
            .status()
            .expect("mount");
        assert!(s.success(), "remount {mode}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_read_only_state_directory_still_serves_its_committed_roots() {
    let Some(mnt) = Mount::new() else { return };
    let rel = Release::new();
    let state = mnt.path().join("state");
    let mut store = TrustStore::open(&state, rel.config()).expect("open");
    store
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    store.stage(&rel.bundle(2, V2), now()).expect("stage v2");
    drop(store);
    std::fs::write(state.join("floor.json.tmp"), "debris").expect("debris");
    mnt.remount("ro");

    let mut store = TrustStore::open(&state, rel.config()).expect("opens read-only");
    assert_eq!(store.access(), Access::ReadOnly);
    assert_eq!(store.source(), ActiveSource::Bundle { generation: 1 });
    assert_eq!(store.signed_anchors().len(), 2);
    assert_note(
        &store,
        NoteKind::ReadOnlyFileSystem,
        "read-only file system",
    );
    let status = store.status(now());
    assert!(status.read_only);
    assert_eq!(status.version, Some(1));
    assert_eq!(staged(&store), Some((2, 0)));
    assert!(matches!(
        store.stage(&rel.bundle(3, V1), now()),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(
        store.health_check(&mut pass, now()),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(store.commit(now()), Err(StoreError::ReadOnly)));
    assert!(matches!(store.discard("x"), Err(StoreError::ReadOnly)));
    drop(store);

    mnt.remount("rw");
    let store = TrustStore::open(&state, rel.config()).expect("writable again");
    assert_eq!(store.access(), Access::ReadWrite);
    assert_eq!(version(&store), Some(1));
    assert!(
        !state.join("floor.json.tmp").exists(),
        "cleaned up once writable"
    );
}

/// A read-only open (the CLI's `status`) never writes, even where a writer would clean up.
#[test]
fn a_read_only_open_writes_nothing() {
    let rel = Release::new();
    let sim = SimStorage::new();
    let mut store = TrustStore::open_with(sim.clone(), rel.config()).expect("open");
    store.stage(&rel.bundle(1, V1), now()).expect("stage");
    drop(store);
    sim.write("staged.json.tmp", b"debris").expect("debris");
    let before = sim.ops();
    let store = TrustStore::open_read_only_with(sim.clone(), rel.config()).expect("open");
    assert_eq!(sim.ops(), before, "a read-only open performed a write");
    assert_eq!(staged(&store), Some((1, 0)));
    assert!(sim.names().contains(&"staged.json.tmp".to_owned()));
}

/// A read-only open waits out a writer's mutation in progress (the writer holds SNAPSHOT
/// exclusively while it writes), so it never reads one half done.
#[test]
fn a_read_only_open_waits_for_a_mutation_in_progress() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    drop(TrustStore::open(dir.path(), rel.config()).expect("open"));
    let snapshot = std::fs::File::open(dir.path().join("SNAPSHOT")).expect("SNAPSHOT");
    fs4::FileExt::lock(&snapshot).expect("lock");
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        fs4::FileExt::unlock(&snapshot).expect("unlock");
    });
    let store = TrustStore::open_read_only(dir.path(), rel.config()).expect("open");
    assert!(
        released.load(std::sync::atomic::Ordering::SeqCst),
        "read while the writer was mutating"
    );
    assert_eq!(store.access(), Access::ReadOnly);
    writer.join().expect("writer");
}

// Item 10: failures of the device are not failures of the bundle.

#[test]
fn a_health_check_that_cannot_run_costs_the_bundle_nothing() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&rel.bundle(1, V1), now()).expect("stage");
    for _ in 0..5 {
        let err = store
            .health_check(
                &mut |_: &[TrustAnchor<'static>]| {
                    Err(HealthCheckError::Unavailable {
                        reason: "network unreachable".into(),
                    })
                },
                now(),
            )
            .expect_err("unavailable");
        match err {
            StoreError::HealthCheckUnavailable { version, reason } => {
                assert_eq!((version, reason.as_str()), (1, "network unreachable"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(staged(&store), Some((1, 0)));
    }
    drop(store);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(staged(&store), Some((1, 0)));
    assert!(store.discarded().is_empty());
    store.health_check(&mut pass, now()).expect("network back");
    store.commit(now()).expect("commit");
}

/// A clock far ahead during the health check reads the staged bundle as expired: the bundle
/// stays staged with no attempt spent, and is never recorded as discarded.
#[test]
fn one_clock_glitch_does_not_cost_a_release() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&rel.bundle(1, V1), now()).expect("stage");
    let glitch = at(CLOCK + 20 * 365 * 86_400);
    for _ in 0..5 {
        let err = store.health_check(&mut pass, glitch).expect_err("glitch");
        assert!(
            matches!(err, StoreError::Bundle(ref e) if e.rule() == aws_iot_roots::bundle::Rule::Time),
            "{err:?}"
        );
    }
    assert_eq!(staged(&store), Some((1, 0)));
    assert!(store.discarded().is_empty());
    store.health_check(&mut pass, now()).expect("clock fixed");
    store.commit(now()).expect("commit");
    assert_eq!(version(&store), Some(1));
}

#[test]
fn a_discard_records_its_cause_and_an_operator_can_clear_it() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let b = rel.bundle(1, V1);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    store.stage(&b, now()).expect("stage");
    for _ in 0..3 {
        let _ = store.health_check(
            &mut |_: &[TrustAnchor<'static>]| Err(failed("UnknownIssuer")),
            now(),
        );
    }
    drop(store);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    let d = store.discarded();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].version, 1);
    assert_eq!(d[0].cause, DiscardCause::HealthCheckFailed);
    assert!(d[0].reason.contains("UnknownIssuer"), "{}", d[0].reason);
    assert_eq!(d[0].at, now());
    let json = serde_json::to_value(store.status(now())).expect("json");
    assert_eq!(json["discarded"][0]["cause"], "health_check_failed");
    assert_eq!(
        json["discarded"][0]["payload_sha256"],
        hex(&d[0].payload_sha256)
    );
    assert!(matches!(
        store.stage(&b, now()),
        Err(StoreError::PreviouslyDiscarded { version: 1, .. })
    ));
    assert!(store.clear_discarded(&d[0].payload_sha256).expect("clear"));
    assert!(!store.clear_discarded(&d[0].payload_sha256).expect("again"));
    drop(store);
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert!(store.discarded().is_empty());
    assert_eq!(
        store.stage(&b, now()).expect("staged again"),
        StageOutcome::Staged { version: 1 }
    );
    assert_eq!(
        staged(&store),
        Some((1, 0)),
        "a cleared bundle gets a fresh budget"
    );
    store.health_check(&mut pass, now()).expect("fixed");
    store.commit(now()).expect("commit");
}

// Item 12: the time floor does not creep.

/// A bundle issued half an hour ahead of a fixed clock is accepted (within the tolerance),
/// but the floor it leaves, in memory and on disk, is the clock, not its `issued_at`.
#[test]
fn the_persisted_time_floor_never_passes_the_devices_clock() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let mut b = aws_iot_roots::bundle::BundleBuilder::new(
        FLEET,
        1,
        at(CLOCK + 1800),
        at(EXPIRES),
        rel.set(),
    )
    .root(root_der("Amazon Root CA 1").into(), None)
    .build(&aws_iot_roots::bundle::Limits::default())
    .expect("bundle");
    b.sign(&rel.keys.keys[0]).expect("sign");
    b.sign(&rel.keys.keys[1]).expect("sign");
    store.apply(&b.to_bytes(), now(), &mut pass).expect("apply");
    assert_eq!(store.floors().time_floor, now());
    drop(store);
    let store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.floors().time_floor, now());
    assert_eq!(
        read_record(&dir.path().join("floor.json"))["time_floor"],
        CLOCK
    );
}

/// A generation that rotted is re-applied only with the payload the floors name: the store
/// verifies it by every rule again (no state is faked to get past "already active"), and
/// another payload at that version is still a conflict.
#[test]
fn a_lost_generation_is_reapplied_only_with_its_own_payload() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let v1 = rel.bundle(1, V1);
    TrustStore::open(dir.path(), rel.config())
        .expect("open")
        .apply(&v1, now(), &mut pass)
        .expect("v1");
    std::fs::write(dir.path().join(gen_name(1)), "rotted").expect("rot");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("reopen");
    assert_eq!(store.source(), ActiveSource::CompiledIn);
    assert_eq!(store.floors().version, 1);
    // Another payload at version 1: a conflict, as for any device.
    match store.stage(&rel.bundle(1, V2), now()) {
        Err(StoreError::Bundle(aws_iot_roots::bundle::BundleError::VersionConflict {
            version: 1,
        })) => {}
        other => panic!("{other:?}"),
    }
    // Its own payload: staged, checked and committed again.
    assert_eq!(
        store.stage(&v1, now()).expect("re-apply"),
        StageOutcome::Staged { version: 1 }
    );
    store.health_check(&mut pass, now()).expect("check");
    store.commit(now()).expect("commit");
    assert_eq!(version(&store), Some(1));
}

/// Anyone who can read the state directory can flock SNAPSHOT. A reader that holds it makes
/// the writer's update wait a bounded time and then fail as Busy, with nothing changed; it
/// never hangs the agent. Released, the same update goes through.
#[test]
fn a_held_snapshot_lock_delays_an_update_but_never_hangs_it() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = TrustStore::open(dir.path(), rel.config()).expect("open");
    let hog = std::fs::File::open(dir.path().join("SNAPSHOT")).expect("SNAPSHOT");
    fs4::FileExt::lock_shared(&hog).expect("shared lock");
    let started = std::time::Instant::now();
    match store.stage(&rel.bundle(1, V1), now()) {
        Err(StoreError::Busy { dir: d, .. }) => assert_eq!(d, dir.path()),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "bounded"
    );
    assert_eq!(staged(&store), None);
    assert!(!dir.path().join("staged.json").exists());
    fs4::FileExt::unlock(&hog).expect("unlock");
    assert_eq!(
        store.stage(&rel.bundle(1, V1), now()).expect("stage"),
        StageOutcome::Staged { version: 1 }
    );
}

/// The storage layer's last line: an entry that opens without O_NOFOLLOW tripping (a
/// directory does) is still refused before a byte is read, by the regular-file check after
/// the open, and never synced as if it were state.
#[test]
fn dir_storage_refuses_a_directory_where_a_file_is_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = DirStorage::new(dir.path()).expect("storage");
    std::fs::create_dir(dir.path().join("floor.json")).expect("mkdir");
    let err = s.read("floor.json", 1024).expect_err("a directory");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("floor.json is not a regular file"),
        "{err}"
    );
    // Opening a directory for writing fails in the OS already (EISDIR): refused either way.
    let err = s.sync("floor.json").expect_err("a directory");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::IsADirectory
        ),
        "{err}"
    );
}

/// A read-only open (the CLI's status) past a SNAPSHOT that is not a regular file: the device
/// still reports its committed roots, with a note, and the entry is left for a writer to
/// remove (a reader writes nothing).
#[test]
fn a_read_only_open_reads_past_a_hostile_snapshot() {
    let rel = Release::new();
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    TrustStore::open(dir.path(), rel.config())
        .expect("open")
        .apply(&rel.bundle(1, V1), now(), &mut pass)
        .expect("v1");
    std::fs::remove_file(dir.path().join("SNAPSHOT")).expect("rm");
    symlink(
        outside.path().join("elsewhere"),
        dir.path().join("SNAPSHOT"),
    )
    .expect("symlink");
    let store = TrustStore::open_read_only(dir.path(), rel.config()).expect("opens");
    assert_eq!(version(&store), Some(1));
    assert_note(&store, NoteKind::SnapshotLockUnusable, "SNAPSHOT: ");
    assert_note(&store, NoteKind::SnapshotLockUnusable, "read without it");
    assert!(
        is_symlink(&dir.path().join("SNAPSHOT")),
        "a reader removed nothing"
    );
    assert!(!outside.path().join("elsewhere").exists(), "never followed");
}
