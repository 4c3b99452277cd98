//! `iot-roots`: the release engineer's and fleet operator's tool for aws-iot-roots.
//!
//! Exit codes (stable; scripts depend on them):
//! - 0: success.
//! - 1: a check ran and failed: `check-expiry` found a root due within the window,
//!   `bundle verify` refused the bundle, `bundle attach` got a signature that does not verify.
//! - 2: usage error: unknown command or option, or a bad value (duration, time, format).
//! - 3: an input could not be read, parsed or accepted, or an output could not be written
//!   (missing file, bad PEM, expired or non-CA root in `bundle create`, refusal to overwrite).
//!
//! `device apply` maps the same way: 0 applied or already active, 1 refused or unhealthy
//! (nothing changed), 3 bad input.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]

mod bundle_cmd;
mod check_expiry;
mod device;
mod export;
mod fsutil;
mod inspect;
mod keys;
mod pkcs11;
mod source;
mod status;
mod table;
mod time_arg;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (device apply: applied, or already active)
  1  a check ran and failed: a root due, a bundle refused, a signature that does not verify,
     a device health check that failed (nothing changed)
  2  usage error: unknown command or option, a bad value
  3  an input could not be read or accepted, or an output not written

Times: --now, else the IOT_ROOTS_NOW environment variable (RFC 3339), else the clock.";

/// Inspect, check and sign the trust anchors AWS IoT devices use.
#[derive(Debug, Parser)]
#[command(name = "iot-roots", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show each root: name, key, notAfter, days left, root-program removal, SHA-256 and SPKI
    /// SHA-256 (the pin that survives cross-signing).
    Inspect(inspect::Args),
    /// A release gate: exit 1 if a root expires within a window (root-program removal dates
    /// are reported as advice unless --fail-on root-program).
    CheckExpiry(check_expiry::Args),
    /// Generate a release key: Ed25519, or ML-DSA-65/87 with --alg (PKCS#8 PEM, mode 0600;
    /// never overwrites).
    Keygen(keys::KeygenArgs),
    /// Print the public key and key id of a key file or an HSM key.
    Pubkey(keys::PubkeyArgs),
    /// Write a signer-set file: keys of one algorithm and a threshold, or --combine groups.
    SignerSet(keys::SignerSetArgs),
    /// Build, sign, review and verify root bundles.
    #[command(subcommand)]
    Bundle(bundle_cmd::Command),
    /// Write roots (compiled-in, or a bundle's) for C SDKs, paho-mqtt and esp-idf.
    Export(export::Args),
    /// On a device or gateway: apply a bundle, show status, write the CA file C clients read.
    #[command(subcommand)]
    Device(device::Command),
    /// The same as `device status` (kept for scripts written before `device`).
    Status(status::Args),
}

/// A check ran and failed.
pub(crate) const EXIT_CHECK_FAILED: u8 = 1;
/// An input could not be read, parsed or accepted, or an output not written.
const EXIT_INPUT: u8 = 3;

fn main() -> ExitCode {
    // Help wraps like tables: the terminal's width, else COLUMNS, else 80.
    let matches = Cli::command()
        .term_width(table::output_width())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Err(e) = time_arg::check_now_env() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::CheckExpiry(a) => check_expiry::run(a),
        Command::Keygen(a) => keys::keygen(a),
        Command::Pubkey(a) => keys::pubkey(a),
        Command::SignerSet(a) => keys::signer_set(a),
        Command::Bundle(c) => bundle_cmd::run(c),
        Command::Export(a) => export::run(a),
        Command::Device(c) => device::run(c),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks over every subcommand (argument groups, positional
    /// order, conflicts naming real arguments), which otherwise fire only when a user runs
    /// the broken command.
    #[test]
    fn every_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
