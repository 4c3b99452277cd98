//! A ready health check: a TLS handshake to `host:port` trusting only the staged anchors.

use std::borrow::ToOwned;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use rustls_pki_types::{
    CertificateDer, InvalidDnsNameError, PrivateKeyDer, ServerName, TrustAnchor,
};

use super::health::{HealthCheck, HealthCheckError};

/// How long connecting and the handshake may take, each. A device on a slow cellular link
/// completes a TLS handshake in a few seconds; past this the network, not the roots, is the
/// problem, and the attempt counts as failed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Passes when a TLS handshake to `host:port` (with SNI, optional ALPN and optional client
/// certificate) succeeds trusting only the staged anchors.
///
/// The crypto provider is the application's choice: this crate never picks one.
pub struct TlsHandshakeCheck {
    addr: String,
    server_name: ServerName<'static>,
    alpn: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
    client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    timeout: Duration,
}

impl core::fmt::Debug for TlsHandshakeCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsHandshakeCheck")
            .field("addr", &self.addr)
            .field("server_name", &self.server_name)
            .field("alpn", &self.alpn)
            .field("client_auth", &self.client_auth.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl TlsHandshakeCheck {
    /// A check against `host:port`, presenting `server_name` as SNI.
    ///
    /// # Errors
    ///
    /// [`InvalidDnsNameError`] when `server_name` is neither a DNS name nor an IP address.
    pub fn new(
        host: &str,
        port: u16,
        server_name: &str,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, InvalidDnsNameError> {
        let server_name = ServerName::try_from(server_name.to_owned())?;
        Ok(Self {
            addr: std::format!("{host}:{port}"),
            server_name,
            alpn: Vec::new(),
            provider,
            client_auth: None,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// Offers these ALPN protocols (e.g. `x-amzn-mqtt-ca` on port 443).
    pub fn with_alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    /// Presents a client certificate (AWS IoT uses mutual TLS).
    pub fn with_client_auth(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_auth = Some((chain, key));
        self
    }

    /// Sets the connect and handshake timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn handshake(&self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
        // Everything before the handshake is the device's own doing (its configuration, its
        // network): it says nothing about the anchors.
        let unavailable = |reason: String| HealthCheckError::Unavailable { reason };
        let roots = RootCertStore {
            roots: anchors.to_vec(),
        };
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| unavailable(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &self.client_auth {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| unavailable(e.to_string()))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        let mut conn = ClientConnection::new(Arc::new(config), self.server_name.clone())
            .map_err(|e| unavailable(e.to_string()))?;
        let addrs: Vec<_> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| unavailable(std::format!("{}: {e}", self.addr)))?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut sock = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut sock =
            sock.ok_or_else(|| unavailable(std::format!("connect {}: {last}", self.addr)))?;
        sock.set_read_timeout(Some(self.timeout))
            .map_err(|e| unavailable(e.to_string()))?;
        sock.set_write_timeout(Some(self.timeout))
            .map_err(|e| unavailable(e.to_string()))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| {
                let reason = std::format!("TLS handshake with {}: {e}", self.addr);
                // Only the server's chain failing to verify under the staged anchors is the
                // bundle's fault. A timeout, a reset or an alert about our own client
                // certificate is not.
                let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                match rustls_error {
                    Some(rustls::Error::InvalidCertificate(_)) => {
                        HealthCheckError::Failed { reason }
                    }
                    _ => unavailable(reason),
                }
            })?;
        }
        Ok(())
    }
}

impl HealthCheck for TlsHandshakeCheck {
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
        self.handshake(anchors)
    }
}
