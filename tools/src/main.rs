//! `iot-roots`: the release engineer's and fleet operator's tool for aws-iot-roots.
//!
//! Exit codes (stable; scripts depend on them):
//! - 0: success.
//! - 1: a check ran and failed (reserved for `check-expiry` and `bundle verify`).
//! - 2: usage error: bad arguments or values (clap's own code for usage errors).
//! - 3: an input could not be read, parsed or written.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]

mod inspect;
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
}

/// Exit code for an input that could not be read, parsed or written.
const EXIT_INPUT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}
