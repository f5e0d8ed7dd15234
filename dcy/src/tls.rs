//! The rustls configuration behind https: trusted CAs (`CONSUL_CACERT`,
//! `CONSUL_CAPATH`, else the system roots), a client certificate, a server
//! name to verify against (`CONSUL_TLS_SERVER_NAME`), or no verification.

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

/// Verifies against a fixed name instead of the host dialled.
#[derive(Debug)]
struct NamedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(NoVerify(Arc::clone(&provider)))
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots(tls)?),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| Error::config(format!("no usable CA certificates: {e}")))?;
        match &tls.server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|e| {
                    Error::config(format!(
                        "TLS server name {name:?} (CONSUL_TLS_SERVER_NAME): {e}"
                    ))
                })?;
                Arc::new(NamedVerifier {
                    inner: webpki,
                    name,
                })
            }
            None => webpki,
        }
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
