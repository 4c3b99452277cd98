//! `keygen`, `pubkey`, `signer-set`: Ed25519 and ML-DSA release keys, interchangeable with
//! OpenSSL and pyca/cryptography.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::{Algorithm, PublicKey, SignerSet, SigningKey};

use crate::fsutil::{read_string, write_atomic, Existing};

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600). Never overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the public key here (SPKI PEM). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub_out: Option<PathBuf>,
    /// The algorithm: ed25519, ml-dsa-65 or ml-dsa-87. ML-DSA keys are written in RFC 9881's
    /// seed-only PKCS#8 form, which OpenSSL 3.5 and pyca/cryptography read.
    #[arg(long, value_name = "ALG", default_value = "ed25519", value_parser = parse_algorithm)]
    alg: Algorithm,
}

fn parse_algorithm(label: &str) -> Result<Algorithm, String> {
    Algorithm::from_label(label)
        .ok_or_else(|| format!("{label:?}: expected ed25519, ml-dsa-65 or ml-dsa-87"))
}

#[derive(Debug, clap::Args)]
pub(crate) struct PubkeyArgs {
    /// A private key (PKCS#8 PEM) or public key (SPKI PEM).
    #[arg(
        required_unless_present = "pkcs11_module",
        conflicts_with = "pkcs11_module"
    )]
    key: Option<PathBuf>,
    /// Or a key in an HSM.
    #[command(flatten)]
    pkcs11: crate::pkcs11::TokenArgs,
    /// Print the SPKI PEM instead of the base64 key and key id.
    #[arg(long)]
    pem: bool,
    /// Print JSON.
    #[arg(long, conflicts_with = "pem")]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignerSetArgs {
    /// How many distinct keys must sign (the keys are one group, of one algorithm).
    #[arg(long, required_unless_present = "combine", conflicts_with = "combine")]
    threshold: Option<u32>,
    /// Public (or private) key files of the signers, all of one algorithm.
    #[arg(required_unless_present_any = ["pkcs11_module", "combine"])]
    keys: Vec<PathBuf>,
    /// Instead, join signer-set files of one group each into one set whose groups must all
    /// sign: an Ed25519 set and an ML-DSA-65 set make a hybrid set.
    #[arg(long, value_name = "FILE", num_args = 2.., conflicts_with_all = ["keys", "pkcs11_module"])]
    combine: Vec<PathBuf>,
    /// Also a key in an HSM (export more token keys with `pubkey --pem`).
    #[command(flatten)]
    pkcs11: crate::pkcs11::TokenArgs,
    /// Where to write the signer-set file (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Reads a public key from SPKI PEM, or derives it from a PKCS#8 private key.
pub(crate) fn public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let pem = read_string(path)?;
    if pem.contains("PRIVATE KEY") {
        return Ok(signing_key(path)?.public_key());
    }
    PublicKey::from_spki_pem(&pem).with_context(|| {
        format!(
            "{}: not an Ed25519, ML-DSA-65 or ML-DSA-87 public key",
            path.display()
        )
    })
}

pub(crate) fn signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = read_string(path)?;
    SigningKey::from_pkcs8_pem(&pem).with_context(|| {
        format!(
            "{}: not an Ed25519 or ML-DSA PKCS#8 private key",
            path.display()
        )
    })
}

fn describe_inputs(args: &SignerSetArgs) -> String {
    let mut names: Vec<String> = args.keys.iter().map(|p| p.display().to_string()).collect();
    if let Some(label) = &args.pkcs11.key_label {
        names.push(format!("token key {label:?}"));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("#{i} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn load_signer_set(path: &Path) -> anyhow::Result<SignerSet> {
    SignerSet::from_json(read_string(path)?.as_bytes())
        .with_context(|| format!("{}: not a usable signer-set file", path.display()))
}

pub(crate) fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    if let Some(p) = &args.pub_out {
        if p.exists() {
            bail!("{} already exists; refusing to overwrite it", p.display());
        }
    }
    let key = SigningKey::generate_with(args.alg);
    let pem = key.to_pkcs8_pem()?;
    write_atomic(&args.out, pem.as_bytes(), 0o600, Existing::Refuse)?;
    let public = key.public_key();
    if let Some(p) = &args.pub_out {
        write_atomic(p, public.to_spki_pem()?.as_bytes(), 0o644, Existing::Refuse)?;
    }
    print_key(&public);
    Ok(ExitCode::SUCCESS)
}

/// The key's algorithm, its id and (Ed25519, short enough) the key itself.
fn print_key(key: &PublicKey) {
    println!("algorithm:  {}", key.algorithm());
    if key.algorithm() == Algorithm::Ed25519 {
        println!("public key: {}", key.to_base64());
    }
    println!("key id:     {}", key.key_id());
}

pub(crate) fn pubkey(args: &PubkeyArgs) -> anyhow::Result<ExitCode> {
    let key = match &args.key {
        Some(path) => public_key(path)?,
        None => crate::pkcs11::TokenKey::open(&args.pkcs11)?.public_key(),
    };
    if args.pem {
        print!("{}", key.to_spki_pem()?);
    } else if args.json {
        println!(
            "{}",
            serde_json::json!({ "schema": 1, "algorithm": key.algorithm().as_str(),
                                "public_key": key.to_base64(), "key_id": key.key_id() })
        );
    } else {
        print_key(&key);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn signer_set(args: &SignerSetArgs) -> anyhow::Result<ExitCode> {
    let set = if args.combine.is_empty() {
        one_group(args)?
    } else {
        let mut groups = Vec::new();
        for p in &args.combine {
            groups.extend(load_signer_set(p)?.groups().iter().cloned());
        }
        let names: Vec<String> = args
            .combine
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        SignerSet::from_groups(groups)
            .map_err(|e| anyhow::anyhow!("{e} (combining {})", names.join(", ")))?
    };
    write_atomic(
        &args.out,
        set.to_json().as_bytes(),
        0o644,
        Existing::Replace,
    )?;
    println!(
        "{} must sign: {}",
        crate::bundle_cmd::set_summary(&set),
        args.out.display()
    );
    for g in set.groups() {
        for k in g.keys().iter().map(crate::bundle_cmd::KeyLine::from) {
            println!("  {}  {}", &k.key_id[..16], k.shown());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn one_group(args: &SignerSetArgs) -> anyhow::Result<SignerSet> {
    let mut keys = args
        .keys
        .iter()
        .map(|p| public_key(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.pkcs11.pkcs11_module.is_some() {
        keys.push(crate::pkcs11::TokenKey::open(&args.pkcs11)?.public_key());
    }
    let threshold = args.threshold.context("--threshold is required")?;
    SignerSet::new(keys, threshold).map_err(|e| {
        // Name the file behind a key error ("key #2 repeats key #0").
        anyhow::anyhow!("{e} (keys in the order given: {})", describe_inputs(args))
    })
}
