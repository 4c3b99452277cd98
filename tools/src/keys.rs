//! `keygen`, `pubkey`, `signer-set`: Ed25519 release keys, interchangeable with OpenSSL.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::{PublicKey, SignerSet, SigningKey};

use crate::fsutil::{read_string, write_atomic, Existing};

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600). Never overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the public key here (SPKI PEM). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub_out: Option<PathBuf>,
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
    /// How many distinct keys must sign.
    #[arg(long)]
    threshold: u32,
    /// Public (or private) key files of the signers.
    #[arg(required_unless_present = "pkcs11_module")]
    keys: Vec<PathBuf>,
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
    PublicKey::from_spki_pem(&pem)
        .with_context(|| format!("{}: not an Ed25519 public key", path.display()))
}

pub(crate) fn signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = read_string(path)?;
    SigningKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{}: not an Ed25519 PKCS#8 private key", path.display()))
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
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem()?;
    write_atomic(&args.out, pem.as_bytes(), 0o600, Existing::Refuse)?;
    let public = key.public_key();
    if let Some(p) = &args.pub_out {
        write_atomic(p, public.to_spki_pem()?.as_bytes(), 0o644, Existing::Refuse)?;
    }
    println!("public key: {}", public.to_base64());
    println!("key id:     {}", public.key_id());
    Ok(ExitCode::SUCCESS)
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
            serde_json::json!({ "schema": 1, "public_key": key.to_base64(), "key_id": key.key_id() })
        );
    } else {
        println!("public key: {}", key.to_base64());
        println!("key id:     {}", key.key_id());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn signer_set(args: &SignerSetArgs) -> anyhow::Result<ExitCode> {
    let mut keys = args
        .keys
        .iter()
        .map(|p| public_key(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.pkcs11.pkcs11_module.is_some() {
        keys.push(crate::pkcs11::TokenKey::open(&args.pkcs11)?.public_key());
    }
    let set = SignerSet::new(keys, args.threshold).map_err(|e| {
        // Name the file behind a key error ("key #2 repeats key #0").
        anyhow::anyhow!("{e} (keys in the order given: {})", describe_inputs(args))
    })?;
    write_atomic(
        &args.out,
        set.to_json().as_bytes(),
        0o644,
        Existing::Replace,
    )?;
    let n = set.keys().len();
    println!(
        "{} of {n} {} must sign: {}",
        set.threshold(),
        crate::table::plural(n, "key", "keys"),
        args.out.display()
    );
    for k in set.keys() {
        println!("  {}  {}", &k.key_id()[..16], k.to_base64());
    }
    Ok(ExitCode::SUCCESS)
}
