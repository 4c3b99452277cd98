//! The heap a device needs to verify a bundle: the peak of live heap bytes during one
//! `bundle::verify` of a 6-root, 1-signature bundle (the compiled-in roots, and Starfield
//! Class 2 with `--all-features`), measured with dhat's counting global allocator.
//!
//! `cargo run --release --example verify_heap --features signing,starfield-class-2`
//! (BENCHMARKS.md). Prints one line per figure, and exits non-zero above the 64 KiB goal
//! (issue 15), so CI notices a regression without a timed assertion.
//!
//! With the argument `hybrid`, the bundle is format v2 signed 2-of-3 Ed25519 AND 2-of-3
//! ML-DSA-65 (issue 14), reported without a goal.

use core::time::Duration;

use aws_iot_roots::bundle::{
    verify, Algorithm, BundleBuilder, Policy, SignerGroup, SignerSet, SigningKey, TrustState,
};
use rustls_pki_types::UnixTime;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The goal the issue set for a device: 64 KiB of heap at the peak of a verification.
const HEAP_GOAL_BYTES: usize = 64 * 1024;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn main() {
    let hybrid = std::env::args().nth(1).as_deref() == Some("hybrid");
    let (keys, signers) = if hybrid {
        let ed: Vec<SigningKey> = (0..3).map(|_| SigningKey::generate()).collect();
        let ml: Vec<SigningKey> = (0..3)
            .map(|_| SigningKey::generate_with(Algorithm::MlDsa65))
            .collect();
        let group = |ks: &[SigningKey], a| {
            SignerGroup::new(a, ks.iter().map(SigningKey::public_key).collect(), 2).expect("group")
        };
        let set = SignerSet::from_groups(vec![
            group(&ed, Algorithm::Ed25519),
            group(&ml, Algorithm::MlDsa65),
        ])
        .expect("hybrid set");
        let mut ed = ed.into_iter();
        let mut ml = ml.into_iter();
        let signing: Vec<SigningKey> = [ed.next(), ed.next(), ml.next(), ml.next()]
            .into_iter()
            .flatten()
            .collect();
        (signing, set)
    } else {
        let key = SigningKey::generate();
        let set = SignerSet::new(vec![key.public_key()], 1).expect("signer set");
        (vec![key], set)
    };
    let mut builder = BundleBuilder::new(
        "heap",
        2,
        at(1_798_761_600),
        at(1_830_297_600),
        signers.clone(),
    );
    for root in aws_iot_roots::ROOTS {
        builder = builder.root(root.der.clone(), Some(root.name.into()));
    }
    let mut bundle = builder
        .build(&Policy::default().limits)
        .expect("a bundle of the compiled-in roots");
    for key in &keys {
        bundle.sign(key).expect("sign");
    }
    let bytes = bundle.to_bytes();
    let mut state = TrustState::initial("heap", signers);
    state.version = 1;
    state.time_floor = at(1_798_000_000);
    let policy = Policy::default();

    // Only what verify allocates counts: the input bytes and state exist before it starts.
    let profiler = dhat::Profiler::builder().testing().build();
    let verdict = verify(&bytes, &state, at(1_798_848_000), &policy).expect("valid bundle");
    let during = dhat::HeapStats::get();
    drop(verdict);
    drop(profiler);

    println!(
        "format: {}",
        if hybrid {
            "v2 hybrid, 2+2 signatures"
        } else {
            "v1, 1 signature"
        }
    );
    println!("roots: {}", aws_iot_roots::ROOTS.len());
    println!("bundle file: {} bytes", bytes.len());
    println!("heap peak during verify: {} bytes", during.max_bytes);
    println!("heap blocks at the peak: {}", during.max_blocks);
    println!("allocations: {}", during.total_blocks);
    println!("kept by the verdict: {} bytes", during.curr_bytes);
    if !hybrid && during.max_bytes > HEAP_GOAL_BYTES {
        eprintln!("above the goal of {HEAP_GOAL_BYTES} bytes");
        std::process::exit(1);
    }
}
