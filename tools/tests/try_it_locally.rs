//! docs/aws-iot-jobs.md's "Try it locally" runs verbatim: its ```` ```sh ```` blocks, in
//! order, with `bash -euo pipefail`, in an empty directory, with `iot-roots` on PATH, REPO
//! set, and FLEET_AGENT naming the example agent (what the section's `sh build` block
//! builds). It needs openssl, mosquitto and mosquitto-clients: in CI their absence fails
//! the test (scripts/test-all.sh installs them); elsewhere it skips with the reason.
//!
//! The section uses the wall clock (openssl dates its certificates now), so nothing here
//! can rot.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::sh_blocks;

fn found(program: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// The section's text, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown.find(heading).expect("the section");
    let rest = &markdown[start + heading.len()..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn try_it_locally_runs_verbatim() {
    let missing: Vec<&str> = ["openssl", "mosquitto", "mosquitto_pub", "mosquitto_sub"]
        .into_iter()
        .filter(|p| !found(p))
        .collect();
    let bin = Path::new(env!("CARGO_BIN_EXE_iot-roots"));
    let agent: PathBuf = bin.parent().expect("bin dir").join("examples/fleet_agent");
    if !missing.is_empty() || !agent.exists() {
        let why = format!(
            "missing: {missing:?}; agent built: {} ({})",
            agent.exists(),
            agent.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let text = std::fs::read_to_string(repo.join("docs/aws-iot-jobs.md")).expect("doc");
    let script = sh_blocks(section(&text, "## Try it locally")).concat();
    for step in [
        "openssl req",
        "mosquitto -c",
        "iot-roots bundle sign",
        "AGENT_CONFIG",
        "mosquitto_pub",
    ] {
        assert!(
            script.contains(step),
            "the walkthrough lost its {step:?} step"
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    // mosquitto, started as root, reads its files as its own user.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    std::fs::write(dir.path().join("try.sh"), &script).expect("write");
    let path = format!(
        "{}:/usr/sbin:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("timeout")
        .args(["120", "bash", "-euo", "pipefail", "try.sh"])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("REPO", repo)
        .env("FLEET_AGENT", &agent)
        .env_remove("IOT_ROOTS_NOW")
        .output()
        .expect("bash");
    // Whatever happened, leave no broker or agent behind.
    for pid_file in ["agent.pid", "mosquitto.pid"] {
        if let Ok(pid) = std::fs::read_to_string(dir.path().join(pid_file)) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
    }
    let log = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- agent.log\n{}\n--- mosquitto.log\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log("agent.log"),
        log("mosquitto.log"),
    );
    let update: serde_json::Value =
        serde_json::from_str(log("update.json").trim()).expect("the agent's update");
    assert_eq!(update["status"], "SUCCEEDED", "{update}");
    assert_eq!(update["statusDetails"]["version"], "1", "{update}");
    assert!(log("agent.log").contains("job=roots-v1 outcome=Applied"));
}
