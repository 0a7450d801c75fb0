//! The server's view of a connection's peer: its address and the
//! authentication properties of the transport (grpcio's auth context).

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// grpcio's property names.
pub(crate) const TRANSPORT_SECURITY_TYPE: &str = "transport_security_type";
pub(crate) const SECURITY_LEVEL: &str = "security_level";
pub(crate) const SSL_SESSION_REUSED: &str = "ssl_session_reused";
pub(crate) const X509_COMMON_NAME: &str = "x509_common_name";
pub(crate) const X509_SAN: &str = "x509_subject_alternative_name";
pub(crate) const X509_PEM_CERT: &str = "x509_pem_cert";

/// Who is on the other end of a server connection.
#[derive(Debug)]
pub(crate) struct Peer {
    /// `ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`, `unix:/path`, ...
    pub(crate) address: Box<str>,
    pub(crate) auth: AuthProperties,
}

impl Peer {
    /// A peer on a connection without transport security.
    pub(crate) fn insecure(address: impl Into<Box<str>>) -> Peer {
        Peer {
            address: address.into(),
            auth: AuthProperties::new("insecure", "TSI_SECURITY_NONE"),
        }
    }

    /// A peer on a local (Unix socket or loopback) connection.
    pub(crate) fn local(address: impl Into<Box<str>>) -> Peer {
        Peer {
            address: address.into(),
            auth: AuthProperties::new("local", "TSI_PRIVACY_AND_INTEGRITY"),
        }
    }

    /// A peer on a TLS connection, with its verified certificate chain.
    pub(crate) fn tls(
        address: impl Into<Box<str>>,
        certificates: Option<&[CertificateDer<'_>]>,
        resumed: bool,
    ) -> Peer {
        let mut auth = AuthProperties::new("ssl", "TSI_PRIVACY_AND_INTEGRITY");
        auth.push(SSL_SESSION_REUSED, if resumed { "true" } else { "false" });
        if let Some(leaf) = certificates.and_then(|chain| chain.first()) {
            auth.add_certificate(leaf);
        }
        Peer {
            address: address.into(),
            auth,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// The authentication properties of one connection, in order.
#[derive(Debug, Default)]
pub(crate) struct AuthProperties {
    properties: Vec<(&'static str, Bytes)>,
    identity_key: Option<&'static str>,
}

impl AuthProperties {
    fn new(security_type: &'static str, level: &'static str) -> AuthProperties {
        let mut auth = AuthProperties::default();
        auth.push(TRANSPORT_SECURITY_TYPE, security_type);
        auth.push(SECURITY_LEVEL, level);
        auth
    }

    fn push(&mut self, key: &'static str, value: impl Into<Bytes>) {
        self.properties.push((key, value.into()));
    }

    /// Records the peer's (verified) leaf certificate: its common name,
    /// subject alternative names and PEM text. The identity is the SANs,
    /// else the common name, as in gRPC.
    fn add_certificate(&mut self, leaf: &CertificateDer<'_>) {
        self.push(X509_PEM_CERT, pem_encode(leaf));
        let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
            return;
        };
        let common_names: Vec<String> = cert
            .subject()
            .iter_common_name()
            .filter_map(|name| name.as_str().ok().map(str::to_owned))
            .collect();
        let sans: Vec<String> = match cert.subject_alternative_name() {
            Ok(Some(extension)) => extension
                .value
                .general_names
                .iter()
                .filter_map(san_text)
                .collect(),
            _ => Vec::new(),
        };
        for name in &common_names {
            self.push(X509_COMMON_NAME, name.clone());
        }
        for san in &sans {
            self.push(X509_SAN, san.clone());
        }
        self.identity_key = if !sans.is_empty() {
            Some(X509_SAN)
        } else if !common_names.is_empty() {
            Some(X509_COMMON_NAME)
        } else {
            None
        };
    }

    /// Every property, grouped by name (grpcio's `auth_context()`).
    pub(crate) fn to_map(&self) -> HashMap<String, Vec<Bytes>> {
        let mut map: HashMap<String, Vec<Bytes>> = HashMap::new();
        for (key, value) in &self.properties {
            map.entry((*key).to_owned())
                .or_default()
                .push(value.clone());
        }
        map
    }

    /// The name of the property that identifies the peer, if any.
    pub(crate) fn identity_key(&self) -> Option<&'static str> {
        self.identity_key
    }

    /// The values of the identity property; `None` without an identity.
    pub(crate) fn identities(&self) -> Option<Vec<Bytes>> {
        let key = self.identity_key?;
        Some(
            self.properties
                .iter()
                .filter(|(name, _)| *name == key)
                .map(|(_, value)| value.clone())
                .collect(),
        )
    }
}

fn san_text(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::URI(uri) => Some((*uri).to_owned()),
        GeneralName::RFC822Name(email) => Some((*email).to_owned()),
        GeneralName::IPAddress(bytes) => ip_text(bytes),
        _ => None,
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => {
            let octets: [u8; 4] = bytes.try_into().ok()?;
            Some(std::net::Ipv4Addr::from(octets).to_string())
        }
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

fn pem_encode(cert: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
