//! AWS's server-authentication example, in Rust: `DescribeEndpoint` for `iot:Data-ATS`
//! (aws-sdk-iot), then a publish through the IoT data plane (aws-sdk-iotdataplane) at that
//! endpoint, over an HTTPS client that trusts **exactly** the certificates given here: the
//! roots compiled into aws-iot-roots, a device's committed bundle, and any extra anchors.
//! Never the platform's roots.
//!
//! Both endpoints chain to Amazon Trust Services roots: the control plane
//! (`iot.<region>.amazonaws.com`) and the ATS data endpoint (`<prefix>-ats.iot.<region>...`).
//! So one trust store serves both clients.
//!
//! The SDK's default HTTPS client is left out (default features off); the application picks
//! the crypto provider (ring here), as aws-iot-roots never does.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;

use aws_config::SdkConfig;
use aws_iot_roots::store::{StoreConfig, TrustStore};
use aws_sdk_iot::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext};
use aws_smithy_http_client::Builder;
use base64::Engine as _;

/// The endpoint type whose certificates chain to the Amazon Trust Services roots.
pub const DATA_ATS: &str = "iot:Data-ATS";

/// What went wrong, and where.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file of extra anchors could not be read, holds no certificate, or holds one that is
    /// not a usable trust anchor.
    Anchors {
        /// The user's file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The device's store could not be opened, or holds no committed bundle.
    Store {
        /// The state directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The server's chain does not lead to any certificate this client trusts (rustls
    /// `UnknownIssuer`): the endpoint needs a root the trust store lacks.
    UnknownIssuer {
        /// The operation that connected.
        operation: Operation,
    },
    /// `DescribeEndpoint` answered without an address.
    NoEndpointAddress,
    /// The SDK call failed otherwise.
    Sdk {
        /// The operation.
        operation: Operation,
        /// The SDK's error, with its source chain.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The two calls this example makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `iot:DescribeEndpoint` on the control plane.
    DescribeEndpoint,
    /// `iotdata:Publish` on the data plane.
    Publish,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DescribeEndpoint => "DescribeEndpoint",
            Self::Publish => "Publish",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anchors { file, reason } => write!(f, "{file}: {reason}"),
            Self::Store { dir, reason } => write!(f, "{dir}: {reason}"),
            Self::UnknownIssuer { operation } => write!(
                f,
                "{operation}: the server's certificate chain does not lead to a root this \
                 client trusts (UnknownIssuer); add the root by bundle, or as an extra anchor"
            ),
            Self::NoEndpointAddress => f.write_str("DescribeEndpoint returned no address"),
            Self::Sdk { operation, source } => {
                // Each cause's own words, outermost first (the SDK's DisplayErrorContext
                // also appends the whole Debug tree, which no user can read).
                write!(f, "{operation}")?;
                let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
                while let Some(e) = next {
                    write!(f, ": {e}")?;
                    next = e.source();
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sdk { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The certificates an HTTPS client trusts, as PEM (what the smithy client's trust store
/// takes), each already checked to be a usable trust anchor: the smithy client panics on a
/// certificate it cannot parse, so nothing unchecked reaches it.
#[derive(Clone, Debug)]
pub struct Trust {
    pem: Vec<u8>,
    count: usize,
}

impl Trust {
    /// The roots compiled into aws-iot-roots (its features choose which).
    pub fn compiled_in() -> Self {
        Self {
            pem: aws_iot_roots::PEM_BUNDLE.as_bytes().to_vec(),
            count: aws_iot_roots::ROOTS.len(),
        }
    }

    /// The roots of the bundle committed in a device's store (read-only: an agent may be
    /// running), instead of the compiled-in ones.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot be opened or runs on compiled-in roots.
    pub fn committed(dir: &Path, config: StoreConfig) -> Result<Self, Error> {
        let err = |reason: String| Error::Store {
            dir: dir.display().to_string(),
            reason,
        };
        let store = TrustStore::open_read_only(dir, config).map_err(|e| err(e.to_string()))?;
        let bundle = store.active_bundle().ok_or_else(|| {
            err("no committed bundle (the device runs on compiled-in roots)".into())
        })?;
        let mut pem = Vec::new();
        for root in bundle.roots() {
            pem.extend_from_slice(pem_certificate(root.der().as_ref()).as_bytes());
        }
        Ok(Self {
            pem,
            count: bundle.roots().len(),
        })
    }

    /// Adds the application's own anchors (a private CA, a test CA) from a PEM file, kept
    /// apart from the signed roots as the device agent keeps them.
    ///
    /// # Errors
    ///
    /// [`Error::Anchors`] naming `file` when it cannot be read, holds no certificate, or holds
    /// one that is not a usable trust anchor.
    pub fn with_extra_anchors(mut self, file: &Path) -> Result<Self, Error> {
        let err = |reason: String| Error::Anchors {
            file: file.display().to_string(),
            reason,
        };
        let pem = std::fs::read(file).map_err(|e| err(e.to_string()))?;
        // Refuses a file without certificates, and any that is not a usable anchor.
        let anchors =
            aws_iot_roots::client::anchors_from_pem(&pem).map_err(|e| err(e.to_string()))?;
        self.count += anchors.len();
        if !self.pem.ends_with(b"\n") && !self.pem.is_empty() {
            self.pem.push(b'\n');
        }
        self.pem.extend_from_slice(&pem);
        Ok(self)
    }

    /// How many certificates it trusts.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it trusts nothing (no root feature, no bundle, no extra anchor).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// An HTTPS client (rustls with ring) trusting exactly these certificates.
    pub fn https_client(&self) -> SharedHttpClient {
        let store = tls::TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(self.pem.clone());
        let context = TlsContext::builder()
            .with_trust_store(store)
            .build()
            .expect("a trust store without native roots always builds");
        Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(context)
            .build_https()
    }
}

/// A certificate's DER as one PEM block (what the smithy trust store takes).
pub fn pem_certificate(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether `rustls::Error::InvalidCertificate(UnknownIssuer)` is anywhere in `e`'s chain.
/// The SDK wraps it in a dispatch failure, hyper's error and two `io::Error`s; an
/// `io::Error`'s `source()` skips the error it wraps, so each is opened with `get_ref`.
pub fn is_unknown_issuer(e: &(dyn std::error::Error + 'static)) -> bool {
    /// The SDK's chain is six deep; no real chain comes near this.
    const MAX_DEPTH: usize = 32;
    let mut stack = vec![(e, 0)];
    while let Some((err, depth)) = stack.pop() {
        if matches!(
            err.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ) {
            return true;
        }
        if depth == MAX_DEPTH {
            continue;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            stack.push((inner, depth + 1));
        }
        if let Some(source) = err.source() {
            stack.push((source, depth + 1));
        }
    }
    false
}

fn sdk_error<E>(operation: Operation, e: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    if is_unknown_issuer(&e) {
        Error::UnknownIssuer { operation }
    } else {
        Error::Sdk {
            operation,
            source: Box::new(e),
        }
    }
}

/// `DescribeEndpoint` for [`DATA_ATS`]: the account's ATS data endpoint (host, or host:port).
///
/// # Errors
///
/// [`Error::UnknownIssuer`], [`Error::NoEndpointAddress`] or [`Error::Sdk`].
pub async fn data_endpoint(iot: &aws_sdk_iot::Client) -> Result<String, Error> {
    let out = iot
        .describe_endpoint()
        .endpoint_type(DATA_ATS)
        .send()
        .await
        .map_err(|e| sdk_error(Operation::DescribeEndpoint, e))?;
    out.endpoint_address
        .filter(|a| !a.is_empty())
        .ok_or(Error::NoEndpointAddress)
}

/// Where the two calls go: the SDK's endpoints unless overridden (a local stand-in in tests,
/// a VPC endpoint in production).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// The control plane's URL instead of `https://iot.<region>.amazonaws.com`.
    pub control_plane: Option<String>,
}

/// What [`publish`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The data endpoint `DescribeEndpoint` returned.
    pub endpoint: String,
}

/// `DescribeEndpoint`, then `Publish` of `payload` to `topic` (QoS 1) at that endpoint, both
/// over `config`'s HTTP client.
///
/// # Errors
///
/// [`Error::UnknownIssuer`] when either endpoint's chain leads to no trusted certificate;
/// [`Error::NoEndpointAddress`]; [`Error::Sdk`].
pub async fn publish(
    config: &SdkConfig,
    endpoints: &Endpoints,
    topic: &str,
    payload: Vec<u8>,
) -> Result<Published, Error> {
    let mut iot = aws_sdk_iot::config::Builder::from(config);
    if let Some(url) = &endpoints.control_plane {
        iot = iot.endpoint_url(url);
    }
    let iot = aws_sdk_iot::Client::from_conf(iot.build());
    let endpoint = data_endpoint(&iot).await?;
    let data = aws_sdk_iotdataplane::config::Builder::from(config)
        .endpoint_url(format!("https://{endpoint}"))
        .build();
    aws_sdk_iotdataplane::Client::from_conf(data)
        .publish()
        .topic(topic)
        .qos(1)
        .payload(aws_sdk_iotdataplane::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| sdk_error(Operation::Publish, e))?;
    Ok(Published { endpoint })
}
