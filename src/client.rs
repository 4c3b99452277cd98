//! Connecting to AWS IoT Core the way users do: a rustls `ClientConfig` with the right roots,
//! client certificate and ALPN, an endpoint type, and a diagnostic for UnknownIssuer.
//!
//! The crypto provider is always the caller's: nothing here picks one.

use core::fmt;
use std::borrow::ToOwned;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor, UnixTime};

use crate::certparse;

/// ALPN for MQTT with a client certificate on port 443.
pub const ALPN_MQTT_CLIENT_CERT: &[u8] = b"x-amzn-mqtt-ca";
/// ALPN for HTTPS with a client certificate on port 443.
pub const ALPN_HTTPS_CLIENT_CERT: &[u8] = b"x-amzn-http-ca";
/// ALPN for MQTT with a custom authorizer on port 443.
pub const ALPN_MQTT_CUSTOM_AUTHORIZER: &[u8] = b"mqtt";
/// MQTT over TLS.
pub const MQTT_TLS_PORT: u16 = 8883;
/// HTTPS, and MQTT with ALPN.
pub const HTTPS_PORT: u16 = 443;
/// HTTPS with a client certificate, without ALPN.
pub const HTTPS_CLIENT_CERT_PORT: u16 = 8443;

/// What the device speaks to AWS IoT Core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// MQTT, authenticated by an X.509 client certificate.
    Mqtt,
    /// HTTPS (the data plane), authenticated by an X.509 client certificate.
    Https,
    /// MQTT authenticated by a custom authorizer (username/password), no client certificate.
    MqttCustomAuthorizer,
}

/// Why a client configuration could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// AWS IoT Core does not serve this protocol on this port.
    UnsupportedPort {
        /// The protocol.
        protocol: Protocol,
        /// The port.
        port: u16,
    },
    /// MQTT and HTTPS with AWS IoT Core use mutual TLS: a client certificate is required.
    ClientCertificateRequired {
        /// The protocol.
        protocol: Protocol,
    },
    /// The root store is empty; rustls cannot verify anything.
    NoRoots,
    /// An endpoint string could not be parsed.
    BadEndpoint {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A PEM input holds no certificate, or a certificate that cannot be an anchor.
    BadAnchor {
        /// Which certificate (0-based), if one.
        index: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration (e.g. the client key does not match).
    Rustls(rustls::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedPort { protocol, port } => {
                write!(f, "AWS IoT Core does not serve {protocol:?} on port {port} (MQTT: 8883 or 443; HTTPS: 443 or 8443)")
            }
            Self::ClientCertificateRequired { protocol } => {
                write!(
                    f,
                    "{protocol:?} with AWS IoT Core needs a client certificate and key"
                )
            }
            Self::NoRoots => f.write_str("no trust anchors: the root store is empty"),
            Self::BadEndpoint { input, reason } => write!(f, "endpoint {input:?}: {reason}"),
            Self::BadAnchor {
                index: Some(i),
                reason,
            } => write!(f, "certificate #{i}: {reason}"),
            Self::BadAnchor {
                index: None,
                reason,
            } => f.write_str(reason),
            Self::Rustls(e) => write!(f, "rustls: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The ALPN protocol AWS IoT Core expects for `protocol` on `port`, if any.
///
/// # Errors
///
/// [`ClientError::UnsupportedPort`] for a combination AWS IoT Core does not serve.
pub fn alpn_for(protocol: Protocol, port: u16) -> Result<Option<&'static [u8]>, ClientError> {
    match (protocol, port) {
        (Protocol::Mqtt, MQTT_TLS_PORT) | (Protocol::Https, HTTPS_CLIENT_CERT_PORT) => Ok(None),
        (Protocol::Mqtt, HTTPS_PORT) => Ok(Some(ALPN_MQTT_CLIENT_CERT)),
        (Protocol::Https, HTTPS_PORT) => Ok(Some(ALPN_HTTPS_CLIENT_CERT)),
        (Protocol::MqttCustomAuthorizer, HTTPS_PORT) => Ok(Some(ALPN_MQTT_CUSTOM_AUTHORIZER)),
        _ => Err(ClientError::UnsupportedPort { protocol, port }),
    }
}

/// An AWS IoT endpoint: `host[:port]`, port 8883 when omitted.
///
/// It never chooses roots from the name: China (`*.amazonaws.com.cn`), FIPS and custom
/// domains all differ, and cross-signing means the name says nothing about the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    host: String,
    port: u16,
    // Parsed once: the host as rustls checked it.
    server_name: ServerName<'static>,
}

/// Something about an endpoint name worth telling the user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointWarning {
    /// The name looks like a legacy (VeriSign/Symantec-signed) AWS IoT endpoint, which AWS
    /// no longer supports; the ATS endpoint is `<prefix>-ats.iot.<region>.amazonaws.com`.
    LooksLegacy {
        /// The host.
        host: String,
    },
}

impl fmt::Display for EndpointWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LooksLegacy { host } => write!(
                f,
                "{host} looks like a legacy (non-ATS) AWS IoT endpoint, which chains to the retired VeriSign root; use the -ats endpoint (`aws iot describe-endpoint --endpoint-type iot:Data-ATS`)"
            ),
        }
    }
}

impl Endpoint {
    /// Parses `host`, `host:port` or `[v6]:port`.
    ///
    /// # Errors
    ///
    /// [`ClientError::BadEndpoint`] for an empty host, a bad port or a name rustls refuses.
    pub fn parse(input: &str) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BadEndpoint {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("expected ':port' after ']'")),
            };
            (h, port)
        } else if input.matches(':').count() == 1 {
            let (h, p) = input.split_once(':').ok_or_else(|| bad("bad port"))?;
            (h, Some(p))
        } else {
            (input, None)
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("port must be 1-65535"))?,
            None => MQTT_TLS_PORT,
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let host = host.to_ascii_lowercase();
        let server_name = ServerName::try_from(host.clone()).map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            host,
            port,
            server_name,
        })
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The name presented as SNI (AWS IoT Core requires SNI).
    pub fn server_name(&self) -> ServerName<'static> {
        self.server_name.clone()
    }

    /// Warnings about the name. Advisory only: roots are never chosen from it.
    pub fn warnings(&self) -> Vec<EndpointWarning> {
        let h = self.host.as_str();
        let first = h.split('.').next().unwrap_or("");
        let legacy = if let Some(rest) = h.strip_suffix(".amazonaws.com.cn") {
            rest.contains(".iot.") && !rest.contains(".ats.iot.")
                || rest.ends_with(".iot") && !rest.contains(".ats.")
        } else if let Some(rest) = h.strip_suffix(".amazonaws.com") {
            let iot = rest.contains(".iot.") || rest.starts_with("iot.");
            let ats = first.ends_with("-ats")
                || first == "data-ats"
                || rest.contains("iot-fips")
                || rest.contains(".credentials.iot.")
                || rest.starts_with("iot.");
            iot && !ats
        } else {
            false
        };
        if legacy {
            std::vec![EndpointWarning::LooksLegacy { host: h.to_owned() }]
        } else {
            Vec::new()
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Trust anchors from PEM: the application's own roots (a private CA behind a custom domain,
/// a Greengrass core device CA). Every section must be a CA certificate.
///
/// # Errors
///
/// [`ClientError::BadAnchor`] for bad PEM, no certificate, a non-CA or an unparsable one.
pub fn anchors_from_pem(pem: &[u8]) -> Result<Vec<TrustAnchor<'static>>, ClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::BadAnchor {
            index: None,
            reason: std::format!("bad PEM: {e:?}"),
        })?;
    if certs.is_empty() {
        return Err(ClientError::BadAnchor {
            index: None,
            reason: "no certificate in the PEM input".into(),
        });
    }
    certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let facts = certparse::parse(der).map_err(|e| ClientError::BadAnchor {
                index: Some(i),
                reason: e.to_string(),
            })?;
            crate::anchor::accept(&facts).map_err(|refusal| ClientError::BadAnchor {
                index: Some(i),
                reason: refusal.reason().into(),
            })?;
            Ok(TrustAnchor {
                subject: facts.subject_contents().to_vec().into(),
                subject_public_key_info: facts.spki_contents().to_vec().into(),
                name_constraints: None,
            })
        })
        .collect()
}

/// What a failed handshake's server presented, when rustls said UnknownIssuer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownIssuer {
    /// The issuer of the top certificate the server sent: the root it chains to, which this
    /// client does not trust.
    pub presented_issuer: String,
    /// The subject of the top certificate the server sent.
    pub top_subject: String,
    /// The issuer looks like the legacy VeriSign/Symantec chain of non-ATS endpoints.
    pub looks_legacy: bool,
}

impl fmt::Display for UnknownIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server's chain ends at \"{}\", issued by \"{}\", which is not a trusted root",
            self.top_subject, self.presented_issuer
        )?;
        if self.looks_legacy {
            f.write_str("; this is the legacy VeriSign/Symantec AWS IoT chain: connect to the -ats endpoint instead")?;
        }
        Ok(())
    }
}

/// Reads what the last UnknownIssuer failure presented. Cloneable; shared with the verifier.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(Arc<Mutex<Option<UnknownIssuer>>>);

impl Diagnostics {
    /// The last UnknownIssuer seen by this configuration, if any.
    pub fn unknown_issuer(&self) -> Option<UnknownIssuer> {
        self.0
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

/// Describes the chain a server presented (leaf first): which issuer it ends at, and whether
/// that looks like the legacy VeriSign/Symantec AWS IoT chain. `None` if the top certificate
/// cannot be read.
pub fn describe_unknown_issuer(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Option<UnknownIssuer> {
    let top = intermediates.last().unwrap_or(end_entity);
    let facts = certparse::parse(top).ok()?;
    let (mut issuer, mut subject) = (String::new(), String::new());
    certparse::write_name(facts.issuer, &mut issuer).ok()?;
    certparse::write_name(facts.subject, &mut subject).ok()?;
    let looks_legacy = ["VeriSign", "Symantec"]
        .iter()
        .any(|n| issuer.contains(n) || subject.contains(n));
    Some(UnknownIssuer {
        presented_issuer: issuer,
        top_subject: subject,
        looks_legacy,
    })
}

/// rustls' own verifier, unchanged, that also records what an UnknownIssuer chain presented.
#[derive(Debug)]
struct DiagnosingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Diagnostics,
}

impl ServerCertVerifier for DiagnosingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) = &result {
            if let Ok(mut slot) = self.seen.0.lock() {
                *slot = describe_unknown_issuer(end_entity, intermediates);
            }
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client certificate chain and its private key.
pub type ClientAuth = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// A rustls `ClientConfig` for AWS IoT Core: the caller's crypto provider, exactly `roots`,
/// the client certificate, and the ALPN the protocol and port call for
/// ([`alpn_for`]). Verification is rustls' `WebPkiServerVerifier`; the returned
/// [`Diagnostics`] tells, after an UnknownIssuer failure, which issuer the server presented.
///
/// # Errors
///
/// [`ClientError::UnsupportedPort`], [`ClientError::ClientCertificateRequired`],
/// [`ClientError::NoRoots`], [`ClientError::Rustls`].
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use aws_iot_roots::client::{client_config, Protocol};
/// use rustls_pki_types::pem::PemObject as _;
/// use rustls_pki_types::{CertificateDer, PrivateKeyDer};
///
/// // The device certificate and key AWS IoT issued for this thing.
/// let chain = CertificateDer::pem_file_iter("device.pem.crt")?.collect::<Result<Vec<_>, _>>()?;
/// let key = PrivateKeyDer::from_pem_file("private.pem.key")?;
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let (config, diagnostics) =
///     client_config(provider, aws_iot_roots::root_cert_store(), Protocol::Mqtt, 8883, Some((chain, key)))?;
/// # let _ = (config, diagnostics);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_config(
    provider: Arc<CryptoProvider>,
    roots: RootCertStore,
    protocol: Protocol,
    port: u16,
    client_auth: Option<ClientAuth>,
) -> Result<(ClientConfig, Diagnostics), ClientError> {
    let alpn = alpn_for(protocol, port)?;
    if client_auth.is_none() && protocol != Protocol::MqttCustomAuthorizer {
        return Err(ClientError::ClientCertificateRequired { protocol });
    }
    if roots.is_empty() {
        return Err(ClientError::NoRoots);
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ClientError::Rustls(rustls::Error::General(e.to_string())))?;
    let diagnostics = Diagnostics::default();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Rustls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(DiagnosingVerifier {
            inner: verifier,
            seen: diagnostics.clone(),
        }));
    let mut config = match client_auth {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(ClientError::Rustls)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.map(|a| std::vec![a.to_vec()]).unwrap_or_default();
    Ok((config, diagnostics))
}

/// AWS IoT Core's largest MQTT message: 128 KB of payload (the message broker's quota).
pub const AWS_IOT_MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// Room for the fixed header, the topic (up to 256 bytes) and properties around a payload.
#[cfg(feature = "rumqttc")]
const MQTT_PACKET_OVERHEAD_BYTES: usize = 1024;

/// rumqttc options for `endpoint` over `config` (`TlsConfiguration::Rustls`: no crypto
/// provider is forced; rumqttc's `Simple` TLS mode, which skips what it cannot parse, is
/// avoided).
///
/// The packet size limits are AWS IoT Core's ([`AWS_IOT_MAX_PAYLOAD_BYTES`]), not rumqttc's
/// default of 10 KB, which drops the connection on the first job document that carries a
/// bundle.
#[cfg(feature = "rumqttc")]
pub fn mqtt_options(
    endpoint: &Endpoint,
    client_id: &str,
    config: ClientConfig,
) -> rumqttc::MqttOptions {
    let mut options = rumqttc::MqttOptions::new(client_id, endpoint.host(), endpoint.port());
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
    ));
    let max = AWS_IOT_MAX_PAYLOAD_BYTES + MQTT_PACKET_OVERHEAD_BYTES;
    options.set_max_packet_size(max, max);
    options
}
