//! The built-in Connect CA, as Consul's `consul` provider: an ECDSA P-256
//! root made at start, and leaf certificates whose URI SAN is the service's
//! SPIFFE ID (`spiffe://<trust-domain>/ns/default/dc/<dc>/svc/<service>`),
//! valid 72 hours, cached per service until they near their end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Life of a leaf certificate (Consul's `leaf_cert_ttl`).
pub(crate) const LEAF_TTL: Duration = Duration::from_secs(72 * 3600);
/// Life of the root (Consul's `root_cert_ttl`: 10 years).
const ROOT_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Leaves kept; more services than this get fresh ones.
const LEAF_CACHE: usize = 4096;

/// A certificate with its facts.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) service: String,
    pub(crate) uri: String,
    pub(crate) serial: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) valid_after: SystemTime,
    pub(crate) valid_before: SystemTime,
    pub(crate) index: u64,
}

/// The CA: root certificate and key, trust domain, issued leaves.
pub(crate) struct Ca {
    pub(crate) cluster_id: String,
    pub(crate) datacenter: String,
    root_params: CertificateParams,
    root_key: KeyPair,
    pub(crate) root_pem: String,
    pub(crate) root_id: String,
    pub(crate) signing_key_id: String,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
    pub(crate) index: u64,
    leaves: Mutex<HashMap<String, Arc<Leaf>>>,
    serial: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("trust_domain", &self.trust_domain())
            .field("root_id", &self.root_id)
            .finish_non_exhaustive()
    }
}

/// Consul's `HexString`: lower-case hex bytes joined by `:`.
pub(crate) fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn to_offset(t: SystemTime) -> time::OffsetDateTime {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC, as Go prints a `time.Time`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Ca {
    /// A new root for `datacenter`, at raft index `index`.
    pub(crate) fn new(datacenter: &str, index: u64) -> Result<Ca, String> {
        let cluster_id = uuid::Uuid::new_v4().to_string();
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("generating the CA key: {e}"))?;
        let mut params = CertificateParams::default();
        let now = SystemTime::now();
        let not_before = now - Duration::from_secs(60);
        let not_after = now + ROOT_TTL;
        let short = &cluster_id[..8];
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            format!(
                "pri-{}.consul.ca.{short}.consul",
                fastrand::u32(..) % 10_000_000
            ),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let td = format!("spiffe://{cluster_id}.consul");
        params.subject_alt_names = vec![SanType::URI(
            td.as_str()
                .try_into()
                .map_err(|e| format!("CA URI SAN: {e}"))?,
        )];
        params.not_before = to_offset(not_before);
        params.not_after = to_offset(not_after);
        params.serial_number = Some(SerialNumber::from(vec![1]));
        params.use_authority_key_identifier_extension = false;
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("signing the CA root: {e}"))?;
        let root_id = hex_colons(&Sha256::digest(cert.der()));
        let signing_key_id = hex_colons(&Sha256::digest(key.public_key_raw())[..20]);
        Ok(Ca {
            cluster_id,
            datacenter: datacenter.to_string(),
            root_pem: cert.pem(),
            root_params: params,
            root_key: key,
            root_id,
            signing_key_id,
            not_before,
            not_after,
            index,
            leaves: Mutex::new(HashMap::new()),
            serial: std::sync::atomic::AtomicU64::new(2),
        })
    }

    /// `<cluster-id>.consul`.
    pub(crate) fn trust_domain(&self) -> String {
        format!("{}.consul", self.cluster_id)
    }

    /// The SPIFFE ID of a service.
    pub(crate) fn service_uri(&self, service: &str) -> String {
        format!(
            "spiffe://{}/ns/default/dc/{}/svc/{service}",
            self.trust_domain(),
            self.datacenter
        )
    }

    /// `/v1/connect/ca/roots`.
    pub(crate) fn roots_json(&self) -> Value {
        json!({
            "ActiveRootID": self.root_id,
            "TrustDomain": self.trust_domain(),
            "Roots": [{
                "ID": self.root_id,
                "Name": "Consul CA Primary Cert",
                "SerialNumber": 1,
                "SigningKeyID": self.signing_key_id,
                "ExternalTrustDomain": self.cluster_id,
                "NotBefore": rfc3339(self.not_before),
                "NotAfter": rfc3339(self.not_after),
                "RootCert": self.root_pem,
                "IntermediateCerts": null,
                "Active": true,
                "PrivateKeyType": "ec",
                "PrivateKeyBits": 256,
                "CreateIndex": self.index,
                "ModifyIndex": self.index
            }]
        })
    }

    /// The cached leaf of `service`, unless it is past half its life.
    pub(crate) fn cached_leaf(&self, service: &str) -> Option<Arc<Leaf>> {
        let leaves = self
            .leaves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let leaf = leaves.get(service)?;
        let half = leaf.valid_after + LEAF_TTL / 2;
        (SystemTime::now() < half).then(|| Arc::clone(leaf))
    }

    /// A new leaf for `service` (CPU work: call it off the async threads).
    pub(crate) fn issue_leaf(&self, service: &str, index: u64) -> Result<Arc<Leaf>, String> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("generating the leaf key: {e}"))?;
        let uri = self.service_uri(service);
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, service);
        params.subject_alt_names =
            vec![SanType::URI(uri.as_str().try_into().map_err(|e| {
                format!("service {service:?} makes an invalid SPIFFE ID: {e}")
            })?)];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = SystemTime::now();
        let valid_after = now - Duration::from_secs(60);
        let valid_before = now + LEAF_TTL;
        params.not_before = to_offset(valid_after);
        params.not_after = to_offset(valid_before);
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut serial = n.to_be_bytes().to_vec();
        serial.extend_from_slice(&fastrand::u64(..).to_be_bytes());
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from(serial.clone()));
        let issuer = Issuer::from_params(&self.root_params, &self.root_key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| format!("signing the leaf of {service:?}: {e}"))?;
        let leaf = Arc::new(Leaf {
            service: service.to_string(),
            uri,
            serial: hex_colons(&serial),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            valid_after,
            valid_before,
            index,
        });
        let mut leaves = self
            .leaves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if leaves.len() >= LEAF_CACHE {
            leaves.clear();
        }
        leaves.insert(service.to_string(), Arc::clone(&leaf));
        Ok(leaf)
    }
}

impl Leaf {
    /// `/v1/agent/connect/ca/leaf/:service`.
    pub(crate) fn json(&self) -> Value {
        json!({
            "SerialNumber": self.serial,
            "CertPEM": self.cert_pem,
            "PrivateKeyPEM": self.key_pem,
            "Service": self.service,
            "ServiceURI": self.uri,
            "ValidAfter": rfc3339(self.valid_after),
            "ValidBefore": rfc3339(self.valid_before),
            "Kind": "",
            "CreateIndex": self.index,
            "ModifyIndex": self.index
        })
    }
}
