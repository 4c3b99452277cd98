//! `iot-roots`: the release engineer's and fleet operator's tool for aws-iot-roots.
//!
//! Exit codes (stable; scripts depend on them):
//! - 0: success.
//! - 1: a check ran and failed: `check-expiry` found a root due within the window,
//!   `bundle verify` refused the bundle, `bundle attach` got a signature that does not verify.
//! - 2: usage error: unknown command or option, or a bad value (duration, time, format).
//! - 3: an input could not be read, parsed or accepted, or an output could not be written
//!   (missing file, bad PEM, expired or non-CA root in `bundle create`, refusal to overwrite).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]

mod bundle_cmd;
mod check_expiry;
mod export;
mod fsutil;
mod inspect;
mod keys;
mod source;
mod status;
mod table;
mod time_arg;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect, check and sign the trust anchors AWS IoT devices use.
#[derive(Debug, Parser)]
#[command(name = "iot-roots", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show each root: name, key, notAfter, days left, root-program removal, SHA-256 and SPKI
    /// SHA-256 (the pin that survives cross-signing).
    Inspect(inspect::Args),
    /// Exit 1 if any root expires or loses root-program trust within a window (a CI gate).
    CheckExpiry(check_expiry::Args),
    /// Generate an Ed25519 release key (PKCS#8 PEM, mode 0600; never overwrites).
    Keygen(keys::KeygenArgs),
    /// Print the public key and key id of a key file.
    Pubkey(keys::PubkeyArgs),
    /// Write a signer-set file (threshold and public keys) from key files.
    SignerSet(keys::SignerSetArgs),
    /// Build, sign, review and verify root bundles.
    #[command(subcommand)]
    Bundle(bundle_cmd::Command),
    /// Write the compiled-in roots for C SDKs, paho-mqtt and esp-idf.
    Export(export::Args),
    /// Show a device trust store's status.
    Status(status::Args),
}

/// A check ran and failed.
pub(crate) const EXIT_CHECK_FAILED: u8 = 1;
/// An input could not be read, parsed or accepted, or an output not written.
const EXIT_INPUT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::CheckExpiry(a) => check_expiry::run(a),
        Command::Keygen(a) => keys::keygen(a),
        Command::Pubkey(a) => keys::pubkey(a),
        Command::SignerSet(a) => keys::signer_set(a),
        Command::Bundle(c) => bundle_cmd::run(c),
        Command::Export(a) => export::run(a),
        Command::Status(a) => status::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}
