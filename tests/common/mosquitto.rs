//! A real mosquitto broker on loopback for tests: TLS with a server chain from a test CA,
//! client certificates required, plus a plain listener for fronts, and optionally a second
//! TLS listener whose server chain comes from another CA (one broker, two "endpoints" that
//! need different roots). Its per-client queue is unbounded: the Jobs service double is one
//! client standing in for a service that has no such queue, and with mosquitto's default
//! (1,000) it would drop a large fleet's burst of messages. Stopped on drop, even when the
//! test fails. Its log goes to a file
//! (a pipe nobody reads would stall a busy broker once full). Needs `mosquitto` (Debian package `mosquitto`): fails without it when `CI`
//! is set, skips with a printed reason elsewhere.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The test PKI: a server CA and chain for `localhost`, and a client CA and device certificate.
pub struct Pki {
    pub server_ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key_pem: String,
    pub server_key_der: Vec<u8>,
    pub client_ca_pem: String,
    pub client_chain: Vec<CertificateDer<'static>>,
    pub client_key_der: Vec<u8>,
}

fn ca(cn: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "aws-iot-roots tests");
    rcgen::CertifiedIssuer::self_signed(p, key).expect("ca")
}

impl Pki {
    pub fn new() -> Self {
        let server_ca = ca("aws-iot-roots test server CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let leaf = p.signed_by(&key, &server_ca).expect("server leaf");
        let client_ca = ca("aws-iot-roots test device CA");
        let dkey = rcgen::KeyPair::generate().expect("key");
        let mut dp = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        dp.distinguished_name
            .push(rcgen::DnType::CommonName, "device-1");
        let device = dp.signed_by(&dkey, &client_ca).expect("device cert");
        Self {
            server_chain: vec![leaf.der().clone()],
            server_key_pem: key.serialize_pem(),
            server_key_der: key.serialize_der(),
            client_ca_pem: client_ca.pem(),
            client_chain: vec![device.der().clone()],
            client_key_der: dkey.serialize_der(),
            server_ca,
        }
    }

    pub fn client_auth(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            self.client_chain.clone(),
            PrivateKeyDer::Pkcs8(self.client_key_der.clone().into()),
        )
    }

    pub fn server_ca_pem(&self) -> String {
        self.server_ca.pem()
    }

    pub fn server_chain_pem(&self) -> String {
        certificates_pem(&self.server_chain)
    }

    /// The device certificate chain and key, as the agent reads them from files.
    pub fn client_chain_pem(&self) -> String {
        certificates_pem(&self.client_chain)
    }

    pub fn client_key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.client_key_der)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub struct Mosquitto {
    child: Child,
    bin: PathBuf,
    pub tls_port: u16,
    pub plain_port: u16,
    /// The second TLS listener, when started with [`Mosquitto::start_with`].
    pub second_tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts mosquitto, or returns `None` (with a printed reason) when it is not installed
    /// and `CI` is unset.
    pub fn start(pki: &Pki) -> Option<Self> {
        Self::start_with(pki, None)
    }

    /// As [`Mosquitto::start`], plus a TLS listener presenting `second`'s server chain (its
    /// client certificates still come from `pki`'s device CA).
    pub fn start_with(pki: &Pki, second: Option<&Pki>) -> Option<Self> {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "mosquitto is required in CI (scripts/test-all.sh installs it)"
            );
            eprintln!("skipping: mosquitto not installed (apt-get install mosquitto)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::write(d.join("server.pem"), pki.server_chain_pem()).expect("write");
        std::fs::write(d.join("server.key"), &pki.server_key_pem).expect("write");
        std::fs::write(d.join("client-ca.pem"), &pki.client_ca_pem).expect("write");
        let (tls_port, plain_port) = (free_port(), free_port());
        let second_tls_port = second.map(|_| free_port());
        let mut conf = format!(
            "per_listener_settings true\n\
             sys_interval 1\n\
             persistence true\n\
             persistence_location {d}/db/\n\
             max_queued_messages 0\n\
             listener {tls_port} 127.0.0.1\n\
             allow_anonymous true\n\
             cafile {d}/client-ca.pem\n\
             certfile {d}/server.pem\n\
             keyfile {d}/server.key\n\
             require_certificate true\n\
             listener {plain_port} 127.0.0.1\n\
             allow_anonymous true\n",
            d = d.display()
        );
        if let (Some(other), Some(port)) = (second, second_tls_port) {
            std::fs::write(d.join("server2.pem"), other.server_chain_pem()).expect("write");
            std::fs::write(d.join("server2.key"), &other.server_key_pem).expect("write");
            conf.push_str(&format!(
                "listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 cafile {d}/client-ca.pem\n\
                 certfile {d}/server2.pem\n\
                 keyfile {d}/server2.key\n\
                 require_certificate true\n",
                d = d.display()
            ));
        }
        std::fs::write(d.join("mosquitto.conf"), conf).expect("write");
        // Started as root, mosquitto may drop to its own user before reading its files; these
        // are test-only keys, so let any user read them.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            // Written only on a graceful stop (restart_keeping_sessions), by the broker's user.
            std::fs::create_dir(d.join("db")).expect("db dir");
            std::fs::set_permissions(d.join("db"), std::fs::Permissions::from_mode(0o777))
                .expect("chmod");
            for f in [
                "server.pem",
                "server.key",
                "server2.pem",
                "server2.key",
                "client-ca.pem",
                "mosquitto.conf",
            ] {
                if d.join(f).exists() {
                    std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644))
                        .expect("chmod");
                }
            }
        }
        let child = spawn(&bin, d);
        let mut m = Self {
            child,
            bin,
            tls_port,
            plain_port,
            second_tls_port,
            dir,
        };
        m.wait_listening();
        Some(m)
    }

    /// Stops the broker for good (every connection drops; nothing listens on its ports).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the broker (every connection drops, sessions are lost) and starts it again on
    /// the same ports, as a broker restart in the field does.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The ports are free again once the process is gone; give connected clients a moment
        // to notice the drop before the broker is back.
        std::thread::sleep(Duration::from_millis(500));
        self.child = spawn(&self.bin, self.dir.path());
        self.wait_listening();
    }

    /// Stops the broker gracefully (SIGTERM: it saves its persistent sessions, with their
    /// subscriptions and queued QoS 1 messages) and starts it again on the same ports. Every
    /// connection drops, but a client that reconnects finds its session: what an AWS IoT
    /// device sees when the service drops its connection.
    pub fn restart_keeping_sessions(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(Instant::now() < until, "mosquitto did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = spawn(&self.bin, self.dir.path());
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let m = self;
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = [m.tls_port, m.plain_port]
            .into_iter()
            .chain(m.second_tls_port)
            .collect();
        while ports
            .iter()
            .any(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
        {
            if let Ok(Some(status)) = m.child.try_wait() {
                let err =
                    std::fs::read_to_string(m.dir.path().join("mosquitto.log")).unwrap_or_default();
                panic!("mosquitto exited ({status}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn spawn(bin: &std::path::Path, d: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join("mosquitto.log"))
        .expect("mosquitto.log");
    Command::new(bin)
        .arg("-c")
        .arg(d.join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start mosquitto")
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn certificates_pem(chain: &[CertificateDer<'static>]) -> String {
    chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
}

pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
