//! build.rs's checks, run on scratch roots directories through the same module build.rs uses
//! (build/gen.rs), plus one real `cargo check` of a scratch copy of the crate.

// As in build.rs: hex.rs is written against `alloc`.
extern crate alloc;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/anchor.rs"]
mod anchor;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/certparse.rs"]
mod certparse;
mod common;
#[allow(dead_code)]
#[path = "../build/gen.rs"]
mod gen;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/hex.rs"]
mod hex;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/key.rs"]
mod key;

use std::fs;
use std::path::{Path, PathBuf};

use common::{data, utc};
use gen::{Basis, BuildError, CatalogueEntry, Inputs, Removal};
use sha2::{Digest, Sha256};

const CATALOGUE: &[CatalogueEntry] = include!("../roots/catalogue.rs");

fn roots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("roots")
}

fn entry(feature: &str) -> CatalogueEntry {
    *CATALOGUE
        .iter()
        .find(|e| e.feature == feature)
        .expect("catalogued feature")
}

/// 2026-11-27, a fixed build time.
fn build_now() -> u64 {
    utc(2026, 11, 27)
}

struct Scratch {
    dir: tempfile::TempDir,
    catalogue: Vec<CatalogueEntry>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            catalogue: Vec::new(),
        }
    }

    /// Copies a real root and its catalogue entry.
    fn with_root(mut self, feature: &str) -> Self {
        let e = entry(feature);
        fs::copy(roots_dir().join(e.file), self.dir.path().join(e.file)).expect("copy");
        self.catalogue.push(e);
        self
    }

    /// Adds a file and a catalogue entry carrying its true SHA-256 (of the first PEM section).
    fn with_file(mut self, file: &'static str, feature: &'static str, pem: &[u8]) -> Self {
        fs::write(self.dir.path().join(file), pem).expect("write");
        let (sha, spki) = match rustls_pki_types::pem::PemObject::pem_slice_iter(pem).next() {
            Some(Ok(der)) => {
                let der: rustls_pki_types::CertificateDer<'_> = der;
                let spki = certparse::parse(&der)
                    .map(|f| common::hex(&Sha256::digest(f.spki)))
                    .unwrap_or_else(|_| "00".repeat(32));
                (common::hex(&Sha256::digest(&der)), spki)
            }
            _ => ("00".repeat(32), "00".repeat(32)),
        };
        self.catalogue.push(CatalogueEntry {
            file,
            name: file,
            feature,
            sha256: Box::leak(sha.into_boxed_str()),
            spki_sha256: Box::leak(spki.into_boxed_str()),
            removal: None,
        });
        self
    }

    fn run_at(&self, now: u64, enabled: &[&str]) -> Result<gen::Output, BuildError> {
        let input = Inputs {
            roots_dir: self.dir.path(),
            catalogue: &self.catalogue,
            enabled,
            now,
            warn_days: 730,
        };
        gen::generate(&input, &[])
    }

    fn run(&self) -> Result<gen::Output, BuildError> {
        let features: Vec<&str> = self.catalogue.iter().map(|e| e.feature).collect();
        self.run_at(build_now(), &features)
    }
}

fn ca_pem(f: impl FnOnce(&mut rcgen::CertificateParams)) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    ca_pem_with_key(&key, f)
}

fn ca_pem_with_key(key: &rcgen::KeyPair, f: impl FnOnce(&mut rcgen::CertificateParams)) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "scratch root");
    f(&mut params);
    params.self_signed(key).expect("self-signed").pem()
}

#[test]
fn the_real_roots_pass_every_check() {
    let features: Vec<&str> = CATALOGUE.iter().map(|e| e.feature).collect();
    let input = Inputs {
        roots_dir: &roots_dir(),
        catalogue: CATALOGUE,
        enabled: &features,
        now: build_now(),
        warn_days: 730,
    };
    let out = gen::generate(&input, &features).expect("real roots");
    assert_eq!(out.ders.len(), CATALOGUE.len());
}

#[test]
fn expired_root_fails_naming_the_file_and_date() {
    let s = Scratch::new().with_root("amazon-root-ca-1");
    // SOURCE_DATE_EPOCH drives the clock: 2040-01-01, after CA 1's notAfter (2038-01-17).
    let now = gen::build_time(Some("2208988800"), 0).expect("epoch");
    let err = s.run_at(now, &["amazon-root-ca-1"]).expect_err("expired");
    assert!(
        matches!(&err, BuildError::Expired { file, .. } if file == "Amazon_Root_CA_1.pem"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("roots/Amazon_Root_CA_1.pem") && msg.contains("2038-01-17"),
        "{msg}"
    );
}

/// RFC 5280 §4.1.2.5: notAfter itself is inside the validity period (CA 1's notAfter is
/// 2038-01-17T00:00:00Z); the build fails from the next second on.
#[test]
fn not_after_is_inclusive_at_build_time() {
    let s = Scratch::new().with_root("amazon-root-ca-1");
    s.run_at(utc(2038, 1, 17) - 1, &["amazon-root-ca-1"])
        .expect("valid before notAfter");
    s.run_at(utc(2038, 1, 17), &["amazon-root-ca-1"])
        .expect("valid at notAfter");
    let err = s
        .run_at(utc(2038, 1, 17) + 1, &["amazon-root-ca-1"])
        .expect_err("expired after notAfter");
    assert!(matches!(err, BuildError::Expired { .. }), "{err:?}");
}

#[test]
fn disabled_expired_root_does_not_fail_the_build() {
    let s = Scratch::new()
        .with_root("amazon-root-ca-1")
        .with_root("amazon-root-ca-3");
    let out = s
        .run_at(utc(2039, 1, 1), &["amazon-root-ca-3"])
        .expect("CA 1 is off");
    assert_eq!(out.ders.len(), 1);
}

/// The published fingerprints are pinned here, in the crate's own CI, rather than in every
/// downstream build (build.rs has no SHA-256 since issue 15; BENCHMARKS.md, build cost):
/// every file the catalogue lists, enabled or not, hashes to both of its fingerprints.
fn pin_mismatches(dir: &Path, catalogue: &[CatalogueEntry]) -> Vec<String> {
    let mut out = Vec::new();
    for e in catalogue {
        let text = fs::read(dir.join(e.file)).expect("catalogued file");
        let der = gen::decode_single_pem(e.file, &text).expect("one PEM section");
        let spki = certparse::parse(&der).expect("parses").spki.to_vec();
        for (field, expected, bytes) in [
            ("sha256", e.sha256, &der),
            ("spki_sha256", e.spki_sha256, &spki),
        ] {
            let actual = common::hex(&Sha256::digest(bytes));
            if actual != expected {
                out.push(format!(
                    "roots/{}: {field} is {actual}, catalogue says {expected}",
                    e.file
                ));
            }
        }
    }
    out
}

#[test]
fn every_catalogued_file_hashes_to_its_published_fingerprints() {
    assert_eq!(
        pin_mismatches(&roots_dir(), CATALOGUE),
        Vec::<String>::new()
    );
    assert_eq!(
        CATALOGUE.len(),
        6,
        "every catalogued root is checked, enabled or not"
    );
}

#[test]
fn an_edited_root_file_fails_the_pin() {
    // CA 4's certificate under CA 3's name and catalogue entry.
    let s = Scratch::new().with_root("amazon-root-ca-3");
    fs::copy(
        roots_dir().join(entry("amazon-root-ca-4").file),
        s.dir.path().join("Amazon_Root_CA_3.pem"),
    )
    .expect("copy");
    assert_eq!(
        pin_mismatches(s.dir.path(), &s.catalogue),
        vec![
            format!(
                "roots/Amazon_Root_CA_3.pem: sha256 is {}, catalogue says {}",
                entry("amazon-root-ca-4").sha256,
                entry("amazon-root-ca-3").sha256
            ),
            format!(
                "roots/Amazon_Root_CA_3.pem: spki_sha256 is {}, catalogue says {}",
                entry("amazon-root-ca-4").spki_sha256,
                entry("amazon-root-ca-3").spki_sha256
            ),
        ]
    );
}

#[test]
fn a_malformed_catalogue_fingerprint_fails_the_build() {
    for (field, bad) in [("sha256", "8ECDE6"), ("spki_sha256", "zz")] {
        let mut s = Scratch::new().with_root("amazon-root-ca-3");
        match field {
            "sha256" => s.catalogue[0].sha256 = bad,
            _ => s.catalogue[0].spki_sha256 = bad,
        }
        let err = s.run().expect_err("bad fingerprint");
        assert!(
            matches!(&err, BuildError::BadFingerprint { file, field: f, value }
                if file == "Amazon_Root_CA_3.pem" && *f == field && value == bad),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("roots/catalogue.rs: Amazon_Root_CA_3.pem: {field} {bad:?} is not 64 lowercase hex digits")
        );
    }
}

#[test]
fn file_with_zero_certificates_fails() {
    let s = Scratch::new().with_file("empty.pem", "scratch", b"# no certificate here\n");
    let err = s.run().expect_err("zero");
    assert_eq!(
        err,
        BuildError::CertificateCount {
            file: "empty.pem".into(),
            found: 0
        }
    );
}

#[test]
fn file_with_two_certificates_fails() {
    let mut two = fs::read(roots_dir().join("Amazon_Root_CA_3.pem")).expect("read");
    two.extend(fs::read(roots_dir().join("Amazon_Root_CA_4.pem")).expect("read"));
    let s = Scratch::new().with_file("two.pem", "scratch", &two);
    let err = s.run().expect_err("two");
    assert_eq!(
        err,
        BuildError::CertificateCount {
            file: "two.pem".into(),
            found: 2
        }
    );
    assert!(err.to_string().contains("exactly one"));
}

#[test]
fn private_key_instead_of_certificate_fails() {
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let s = Scratch::new().with_file("key.pem", "scratch", key.as_bytes());
    let err = s.run().expect_err("key");
    assert!(
        matches!(&err, BuildError::Pem { file, error } if file == "key.pem" && error.contains("PRIVATE KEY")),
        "{err:?}"
    );
}

#[test]
fn non_ca_certificate_fails() {
    let leaf = fs::read(data(
        "aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem",
    ))
    .expect("leaf");
    let s = Scratch::new().with_file("leaf.pem", "scratch", &leaf);
    let err = s.run().expect_err("leaf");
    assert_eq!(
        err,
        BuildError::NotCa {
            file: "leaf.pem".into()
        }
    );
}

#[test]
fn ca_that_is_not_self_issued_fails() {
    let int = fs::read(data(
        "aws-chains/iot_eu-central-1_m04_2025/1_Amazon_RSA_2048_M04.pem",
    ))
    .expect("int");
    let s = Scratch::new().with_file("intermediate.pem", "scratch", &int);
    assert_eq!(
        s.run().expect_err("intermediate"),
        BuildError::NotSelfIssued {
            file: "intermediate.pem".into()
        }
    );
}

#[test]
fn cross_signed_root_is_not_a_root() {
    let cross = fs::read(data(
        "aws-chains/crosssign/Amazon_Root_CA_1__by__SFS_G2.pem",
    ))
    .expect("cross");
    let s = Scratch::new().with_file("cross.pem", "scratch", &cross);
    assert_eq!(
        s.run().expect_err("cross-sign"),
        BuildError::NotSelfIssued {
            file: "cross.pem".into()
        }
    );
}

#[test]
fn unlisted_file_fails() {
    let s = Scratch::new().with_root("amazon-root-ca-3");
    fs::copy(
        roots_dir().join("Amazon_Root_CA_4.pem"),
        s.dir.path().join("stray.pem"),
    )
    .expect("copy");
    let err = s.run().expect_err("unlisted");
    assert_eq!(
        err,
        BuildError::UnlistedFile {
            file: "stray.pem".into()
        }
    );
    assert!(err.to_string().contains("not listed in roots/catalogue.rs"));
}

#[test]
fn readme_and_catalogue_are_not_unlisted_files() {
    let s = Scratch::new().with_root("amazon-root-ca-3");
    fs::write(s.dir.path().join("README.md"), "notes").expect("write");
    fs::write(s.dir.path().join("catalogue.rs"), "&[]").expect("write");
    s.run().expect("known non-root files");
}

#[test]
fn listed_but_missing_file_fails() {
    let mut s = Scratch::new();
    s.catalogue.push(entry("amazon-root-ca-2"));
    assert_eq!(
        s.run().expect_err("missing"),
        BuildError::MissingFile {
            file: "Amazon_Root_CA_2.pem".into()
        }
    );
}

#[test]
fn duplicate_catalogue_entries_fail() {
    let mut s = Scratch::new().with_root("amazon-root-ca-3");
    let mut dup = entry("amazon-root-ca-3");
    dup.feature = "another-feature";
    dup.name = "Another name";
    s.catalogue.push(dup);
    let err = s.run().expect_err("duplicate file");
    assert!(
        matches!(
            err,
            BuildError::DuplicateCatalogueEntry { field: "file", .. }
        ),
        "{err:?}"
    );
}

#[test]
fn two_roots_with_one_key_fail() {
    let key = rcgen::KeyPair::generate().expect("key");
    let a = ca_pem_with_key(&key, |p| p.serial_number = Some(1u64.into()));
    let b = ca_pem_with_key(&key, |p| p.serial_number = Some(2u64.into()));
    let s = Scratch::new()
        .with_file("a.pem", "a", a.as_bytes())
        .with_file("b.pem", "b", b.as_bytes());
    let err = s.run().expect_err("duplicate key");
    assert_eq!(
        err,
        BuildError::DuplicateKey {
            file: "b.pem".into(),
            other: "a.pem".into()
        }
    );
}

#[test]
fn root_with_name_constraints_fails() {
    let pem = ca_pem(|p| {
        p.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
            excluded_subtrees: vec![],
        })
    });
    let s = Scratch::new().with_file("nc.pem", "nc", pem.as_bytes());
    assert_eq!(
        s.run().expect_err("nc"),
        BuildError::NameConstraints {
            file: "nc.pem".into()
        }
    );
}

#[test]
fn root_with_a_key_rustls_cannot_use_fails() {
    let pem = fs::read(data("build/p224-root.pem")).expect("fixture");
    let s = Scratch::new().with_file("p224.pem", "p224", &pem);
    assert_eq!(
        s.run().expect_err("p224"),
        BuildError::UnsupportedKey {
            file: "p224.pem".into()
        }
    );
}

#[test]
fn root_with_an_rsa_key_below_2048_bits_fails() {
    let pem = fs::read(data("build/rsa1024-root.pem")).expect("fixture");
    let s = Scratch::new().with_file("rsa1024.pem", "rsa1024", &pem);
    assert_eq!(
        s.run().expect_err("rsa1024"),
        BuildError::UnsupportedKey {
            file: "rsa1024.pem".into()
        }
    );
}

#[test]
fn scratch_ca_from_rcgen_passes() {
    let pem = ca_pem(|_| {});
    let s = Scratch::new().with_file("ok.pem", "ok", pem.as_bytes());
    let out = s.run().expect("valid scratch root");
    assert!(out.rust.contains("scratch root"));
}

#[test]
fn unknown_feature_in_catalogue_fails() {
    let mut cat = CATALOGUE.to_vec();
    cat[0].feature = "amazon-root-ca-one";
    let input = Inputs {
        roots_dir: &roots_dir(),
        catalogue: &cat,
        enabled: &[],
        now: build_now(),
        warn_days: 0,
    };
    let known: Vec<&str> = CATALOGUE.iter().map(|e| e.feature).collect();
    let err = gen::generate(&input, &known).expect_err("typo");
    assert_eq!(
        err,
        BuildError::UnknownFeature {
            feature: "amazon-root-ca-one".into()
        }
    );
}

#[test]
fn warns_within_the_window_about_expiry_and_root_program_removal() {
    let s = Scratch::new()
        .with_root("starfield-services-g2")
        .with_root("amazon-root-ca-1");
    // 2026-11-27: SFS G2's projected Mozilla removal (2027-04-15) is 139 days away.
    let out = s.run().expect("ok");
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("Starfield_Services") && out.warnings[0].contains("2027-04-15")
    );
    assert!(out.warnings[0].contains("projected"));
    // 2037-06-01: CA 1 expires within two years, and its projected removal has passed.
    let out = s
        .run_at(utc(2037, 6, 1), &["amazon-root-ca-1"])
        .expect("ok");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("expires on 2038-01-17")),
        "{:?}",
        out.warnings
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("lost Mozilla trust on 2030-05-26")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn warning_window_is_configurable_and_zero_disables_it() {
    assert_eq!(gen::warn_days(None), Ok(gen::DEFAULT_WARN_DAYS));
    assert_eq!(gen::warn_days(Some("30")), Ok(30));
    assert!(matches!(
        gen::warn_days(Some("two years")),
        Err(BuildError::BadEnv { .. })
    ));
    let s = Scratch::new().with_root("starfield-services-g2");
    let input = Inputs {
        roots_dir: s.dir.path(),
        catalogue: &s.catalogue,
        enabled: &["starfield-services-g2"],
        now: build_now(),
        warn_days: 100,
    };
    assert!(
        gen::generate(&input, &[]).expect("ok").warnings.is_empty(),
        "139 days is outside 100"
    );
    let input = Inputs {
        warn_days: 0,
        now: utc(2030, 1, 1),
        ..input
    };
    assert!(gen::generate(&input, &[]).expect("ok").warnings.is_empty());
}

#[test]
fn source_date_epoch_is_parsed_strictly() {
    assert_eq!(gen::build_time(None, 42), Ok(42));
    assert_eq!(gen::build_time(Some("1700000000"), 42), Ok(1_700_000_000));
    let err = gen::build_time(Some("yesterday"), 42).expect_err("bad");
    assert!(err.to_string().contains("SOURCE_DATE_EPOCH"), "{err}");
}

#[test]
fn catalogue_dates_and_fingerprints_are_well_formed() {
    for e in CATALOGUE {
        assert_eq!(e.sha256.len(), 64, "{}", e.file);
        assert!(
            e.sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{}",
            e.file
        );
        if let Some(Removal {
            date: (y, m, d),
            basis,
            ..
        }) = e.removal
        {
            assert!(der::DateTime::new(y, m, d, 0, 0, 0).is_ok(), "{}", e.file);
            assert!(matches!(basis, Basis::Announced | Basis::Projected));
        }
    }
}

/// The catalogue's features are exactly the root features declared in Cargo.toml, so no root
/// can be catalogued without a way to turn it on, or declared without a file behind it.
#[test]
fn catalogue_features_match_cargo_toml() {
    let toml = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let features = toml
        .split("[features]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .expect("[features]");
    let declared: Vec<&str> = features
        .lines()
        .filter_map(|l| l.split_once(" = []").map(|(name, _)| name.trim()))
        .collect();
    let mut catalogued: Vec<&str> = CATALOGUE.iter().map(|e| e.feature).collect();
    let mut declared_sorted = declared.clone();
    catalogued.sort();
    declared_sorted.sort();
    assert_eq!(catalogued, declared_sorted);
}

/// The real build script, end to end: a scratch copy of the crate fails `cargo check` when
/// SOURCE_DATE_EPOCH is past a root's notAfter, and the error names the file and date.
#[test]
fn cargo_build_fails_for_an_expired_root_via_source_date_epoch() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dst = tmp.path();
    for f in ["build.rs", "Cargo.lock"] {
        fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    for d in ["src", "build", "roots", "benches", "examples"] {
        copy_dir(&src.join(d), &dst.join(d));
    }
    // The workspace's other member is not needed to build the library.
    let manifest = fs::read_to_string(src.join("Cargo.toml")).expect("manifest");
    fs::write(
        dst.join("Cargo.toml"),
        manifest.replace(r#"members = [".", "tools"]"#, r#"members = ["."]"#),
    )
    .expect("manifest");
    // Share compiled build dependencies between runs, apart from the main target dir (whose
    // lock the running `cargo test` holds).
    let target = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("scratch-build");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "check",
            "--offline",
            "--no-default-features",
            "--features",
            "amazon-root-ca-1",
        ])
        .current_dir(dst)
        .env("CARGO_TARGET_DIR", &target)
        .env("SOURCE_DATE_EPOCH", "2208988800")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "build must fail:\n{stderr}");
    assert!(
        stderr.contains("roots/Amazon_Root_CA_1.pem: expired on 2038-01-17T00:00:00Z (build time 2040-01-01T00:00:00Z)"),
        "{stderr}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// Issue 11, item 3: build.rs takes each key in the one encoding rustls uses (the bundle
/// verifier's rule): a compressed point, an unreduced coordinate or RSA without NULL
/// parameters is refused, so a second spelling of a root's key never ships as a second root.
#[test]
fn a_root_key_in_any_other_encoding_fails() {
    let ca3 = common::load_pem(&roots_dir().join("Amazon_Root_CA_3.pem")).remove(0);
    let ca1 = common::load_pem(&roots_dir().join("Amazon_Root_CA_1.pem")).remove(0);
    for der in [
        common::compressed_point_twin(&ca3),
        common::unreduced_p256_coordinate(&ca3),
        common::rsa_without_null_parameters(&ca1),
    ] {
        let s = Scratch::new().with_root("amazon-root-ca-3").with_file(
            "twin.pem",
            "twin",
            common::pem(&der).as_bytes(),
        );
        assert_eq!(
            s.run_at(utc(2026, 12, 1), &["amazon-root-ca-3", "twin"])
                .expect_err("twin"),
            BuildError::UnsupportedKey {
                file: "twin.pem".into()
            }
        );
    }
}

/// The one root-acceptance rule (src/anchor.rs), as each caller applies it, on the same
/// certificates: build.rs (compiled-in roots), the bundle builder (whose check is the
/// verifier's rule 9, `check_roots`) and `client::anchors_from_pem`. Each row says what each
/// accepts; only build.rs adds a rule of its own (self-issued).
#[cfg(all(feature = "signing", feature = "client"))]
#[test]
fn one_root_rule_table_of_what_each_caller_accepts() {
    use aws_iot_roots::bundle::{
        BundleBuilder, BundleError, Fingerprint, Limits, SignerSet, SigningKey,
    };
    use aws_iot_roots::client::{anchors_from_pem, ClientError};
    use core::time::Duration;
    use rustls_pki_types::{CertificateDer, UnixTime};

    #[derive(Debug, PartialEq)]
    enum Says {
        Accepts,
        NotCa,
        NameConstraints,
        UnsupportedKey,
        NotSelfIssued,
    }
    use Says::*;

    let ca_key = rcgen::KeyPair::generate().expect("key");
    let issuer_params = {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "issuing root");
        p
    };
    let issuer = rcgen::Issuer::from_params(&issuer_params, &ca_key);
    let cross_signed = {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "cross-signed CA");
        p.signed_by(&key, &issuer).expect("cert").pem()
    };
    let read = |rel: &str| String::from_utf8(fs::read(data(rel)).expect("fixture")).expect("utf-8");
    let name_constrained = ca_pem(|p| {
        p.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
            excluded_subtrees: vec![],
        })
    });
    //    certificate                      build.rs        builder / verify  anchors_from_pem
    let rows: Vec<(&str, String, Says, Says, Says)> = vec![
        (
            "self-signed P-256 CA",
            ca_pem(|_| {}),
            Accepts,
            Accepts,
            Accepts,
        ),
        (
            "Amazon Root CA 3",
            read("../../roots/Amazon_Root_CA_3.pem"),
            Accepts,
            Accepts,
            Accepts,
        ),
        (
            "not a CA",
            ca_pem(|p| p.is_ca = rcgen::IsCa::ExplicitNoCa),
            NotCa,
            NotCa,
            NotCa,
        ),
        (
            "no basicConstraints",
            ca_pem(|p| p.is_ca = rcgen::IsCa::NoCa),
            NotCa,
            NotCa,
            NotCa,
        ),
        (
            "name constraints",
            name_constrained,
            NameConstraints,
            NameConstraints,
            NameConstraints,
        ),
        (
            "P-224 key",
            read("build/p224-root.pem"),
            UnsupportedKey,
            UnsupportedKey,
            UnsupportedKey,
        ),
        (
            "RSA 1024",
            read("build/rsa1024-root.pem"),
            UnsupportedKey,
            UnsupportedKey,
            UnsupportedKey,
        ),
        (
            "CA issued by another CA",
            cross_signed,
            NotSelfIssued,
            Accepts,
            Accepts,
        ),
    ];

    let key = SigningKey::generate();
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
    let mut failures = Vec::new();
    for (what, pem, build_says, bundle_says, client_says) in rows {
        let der: CertificateDer<'static> =
            rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).expect("pem");
        let build = match Scratch::new().with_file("x.pem", "x", pem.as_bytes()).run() {
            Ok(_) => Accepts,
            Err(BuildError::NotCa { .. }) => NotCa,
            Err(BuildError::NameConstraints { .. }) => NameConstraints,
            Err(BuildError::UnsupportedKey { .. }) => UnsupportedKey,
            Err(BuildError::NotSelfIssued { .. }) => NotSelfIssued,
            Err(e) => panic!("{what}: build.rs: {e}"),
        };
        let sha = Fingerprint(Sha256::digest(&der).into());
        // Dates that every row's certificate covers (rcgen's default validity is 1975-4096).
        let built = BundleBuilder::new("f", 1, at(1_798_000_000), at(1_830_000_000), set.clone())
            .root(der.clone(), None)
            .build(&Limits::default());
        let bundle = match built {
            Ok(_) => Accepts,
            Err(BundleError::NotCa { sha256 }) if sha256 == sha => NotCa,
            Err(BundleError::NameConstraints { sha256 }) if sha256 == sha => NameConstraints,
            Err(BundleError::UnsupportedKey { sha256 }) if sha256 == sha => UnsupportedKey,
            Err(e) => panic!("{what}: builder: {e}"),
        };
        let client = match anchors_from_pem(pem.as_bytes()) {
            Ok(_) => Accepts,
            Err(ClientError::BadAnchor {
                index: Some(0),
                reason,
            }) => match reason.as_str() {
                "not an X.509 v3 CA certificate" => NotCa,
                "name constraints are not supported" => NameConstraints,
                "a key (or key encoding) rustls cannot use" => UnsupportedKey,
                other => panic!("{what}: anchors_from_pem: {other}"),
            },
            Err(e) => panic!("{what}: anchors_from_pem: {e}"),
        };
        if (&build, &bundle, &client) != (&build_says, &bundle_says, &client_says) {
            failures.push(format!(
                "{what}: build.rs {build:?} (want {build_says:?}), builder {bundle:?} (want \
                 {bundle_says:?}), anchors_from_pem {client:?} (want {client_says:?})"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
