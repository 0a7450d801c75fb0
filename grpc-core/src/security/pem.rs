//! PEM input: certificate chains, private keys and trust stores, with
//! errors that say which argument was wrong and why.

use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Kind};

fn invalid(what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(Kind::InvalidCredentials, format!("invalid {what}: {why}"))
}

fn describe(error: &pem::Error) -> String {
    match error {
        pem::Error::NoItemsFound => "no PEM section found".to_owned(),
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a PEM section is not terminated (missing {:?})",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed PEM section start {:?}",
            String::from_utf8_lossy(line)
        ),
        pem::Error::Base64Decode(why) => format!("bad base64 inside a PEM section: {why}"),
        other => other.to_string(),
    }
}

/// Every `CERTIFICATE` section of `pem`; at least one.
pub(crate) fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        certs.push(cert.map_err(|error| invalid(what, describe(&error)))?);
    }
    if certs.is_empty() {
        return Err(invalid(
            what,
            "no \"-----BEGIN CERTIFICATE-----\" section found (expected PEM certificates)",
        ));
    }
    Ok(certs)
}

/// The first private key of `pem` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(crate) fn private_key(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        pem::Error::NoItemsFound => invalid(
            what,
            "no private key section found (expected \"-----BEGIN PRIVATE KEY-----\", \
             \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\")",
        ),
        other => invalid(what, describe(&other)),
    })
}

/// A trust store from PEM certificates; each must parse as an X.509 CA.
pub(crate) fn root_store(what: &str, pem: &[u8]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(what, pem)? {
        roots
            .add(cert)
            .map_err(|error| invalid(what, format!("unusable CA certificate: {error}")))?;
    }
    Ok(roots)
}

/// The system's trust store (the OS certificate bundle).
pub(crate) fn system_roots() -> Result<RootCertStore, Error> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        let why = match loaded.errors.first() {
            Some(error) => format!("no usable certificate found ({error})"),
            None => "no certificate found".to_owned(),
        };
        return Err(invalid("system trust store", why));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_says_what_is_wrong() {
        let error = certificates("root_certificates", b"hello").unwrap_err();
        assert!(error.is_invalid_credentials());
        assert!(error.to_string().contains("root_certificates"), "{error}");
        assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");

        let truncated = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        let error = certificates("certificate_chain", truncated).unwrap_err();
        assert!(error.to_string().contains("not terminated"), "{error}");

        let error = private_key(
            "private_key",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("no private key"), "{error}");
    }
}
