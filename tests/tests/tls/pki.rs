//! Test certificates, generated per run with rcgen (no key is checked in).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm, date_time_ymd,
};

/// A PEM private key and certificate chain.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    pub(crate) key: String,
    pub(crate) chain: String,
}

/// How long a leaf certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Validity {
    Now,
    Expired,
}

/// A certificate authority that issues leaf certificates.
pub(crate) struct Ca {
    pub(crate) pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An ECDSA P-256 leaf for `names` (SANs; IPs become IP SANs).
    pub(crate) fn leaf(&self, common_name: &str, names: &[&str]) -> Pair {
        self.leaf_with(
            common_name,
            names,
            &rcgen::PKCS_ECDSA_P256_SHA256,
            Validity::Now,
        )
    }

    pub(crate) fn leaf_with(
        &self,
        common_name: &str,
        names: &[&str],
        algorithm: &'static SignatureAlgorithm,
        validity: Validity,
    ) -> Pair {
        let key = KeyPair::generate_for(algorithm).expect("leaf key");
        self.sign(common_name, names, key, validity)
    }

    /// A leaf for an existing key (PEM), e.g. an RSA key made by openssl.
    pub(crate) fn leaf_for_key(&self, common_name: &str, names: &[&str], key_pem: &str) -> Pair {
        let key = KeyPair::from_pem(key_pem).expect("parse key");
        self.sign(common_name, names, key, Validity::Now)
    }

    fn sign(&self, common_name: &str, names: &[&str], key: KeyPair, validity: Validity) -> Pair {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        Pair {
            key: key.serialize_pem(),
            chain: cert.pem(),
        }
    }
}
