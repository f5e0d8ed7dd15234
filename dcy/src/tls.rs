//! The rustls configuration behind https: trusted CAs (`CONSUL_CACERT`,
//! `CONSUL_CAPATH`, else the system roots), a client certificate, or no
//! verification. (The name to verify, `CONSUL_TLS_SERVER_NAME` or the
//! agent's host, is given per connection by the transport.)
//!
//! The crypto provider is the process default when the application
//! installed one (`CryptoProvider::install_default`, for example
//! aws-lc-rs for FIPS), else *ring*.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::TlsConfig;
use crate::error::{Error, Result};

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::config(format!("reading {what} {}: {e}", path.display())))
}

fn certs(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(format!("{}: not a PEM certificate: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{}: no PEM certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

fn roots(tls: &TlsConfig) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    let mut add = |pem: &[u8], path: &Path| -> Result<()> {
        for c in certs(pem, path)? {
            store.add(c).map_err(|e| {
                Error::config(format!("{}: unusable CA certificate: {e}", path.display()))
            })?;
        }
        Ok(())
    };
    let mut custom = false;
    if let Some(f) = &tls.ca_file {
        add(&read(f, "the CA file (CONSUL_CACERT)")?, f)?;
        custom = true;
    }
    if let Some(dir) = &tls.ca_path {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::config(format!(
                "reading the CA directory {} (CONSUL_CAPATH): {e}",
                dir.display()
            ))
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_file() {
                add(&read(&p, "a CA file")?, &p)?;
            }
        }
        custom = true;
    }
    if !custom {
        let found = rustls_native_certs::load_native_certs();
        for c in found.certs {
            let _ = store.add(c);
        }
    }
    Ok(store)
}

/// Accepts any certificate (`CONSUL_HTTP_SSL_VERIFY=false`), still checking signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration for these settings.
pub(crate) fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(NoVerify(Arc::clone(&provider)))
    } else {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(tls)?), Arc::clone(&provider))
            .build()
            .map_err(|e| Error::config(format!("no usable CA certificates: {e}")))?
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain = certs(
                &read(cert, "the client certificate (CONSUL_CLIENT_CERT)")?,
                cert,
            )?;
            let key_pem = read(key, "the client key (CONSUL_CLIENT_KEY)")?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                Error::config(format!("{}: not a PEM private key: {e}", key.display()))
            })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| Error::config(format!("client certificate and key do not match: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}
