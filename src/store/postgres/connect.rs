//! store::postgres::connect: the database URL (`SHIPDECK_DATABASE_URL`) read, redacted for
//! every message, and turned into connections, over TLS (rustls) when the URL asks for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::SslMode;

use super::DbError;

/// The environment variable the URL is read from: never the plan, never printed.
pub const URL_ENV: &str = crate::plan::DATABASE_URL_ENV;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed database URL.
#[derive(Clone)]
pub struct DbUrl {
    config: tokio_postgres::Config,
    tls: Tls,
    /// The URL with its password replaced by `***`: the only form any message shows.
    shown: String,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tls {
    Off,
    /// `prefer` or `require`: encrypted, the server's certificate checked only when a root
    /// certificate file is given (as libpq does).
    Encrypt {
        mode: SslMode,
        roots: Option<PathBuf>,
    },
    /// `verify-ca` or `verify-full`: the certificate must chain to the root file and name
    /// the host.
    Verify {
        roots: PathBuf,
    },
}

impl DbUrl {
    /// The URL from `SHIPDECK_DATABASE_URL`.
    pub fn from_env() -> Result<DbUrl, DbError> {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.trim().is_empty() => DbUrl::parse(url.trim()),
            _ => Err(DbError::NoUrl),
        }
    }

    /// Reads `postgres://user:password@host:port/db?sslmode=…&sslrootcert=…`.
    pub fn parse(text: &str) -> Result<DbUrl, DbError> {
        let bad = |why: String| DbError::BadUrl { why };
        let mut url = url::Url::parse(text).map_err(|e| bad(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad(format!(
                "the scheme is `{}`, not postgres://",
                url.scheme()
            )));
        }
        let mut mode = None;
        let mut roots = None;
        let mut rest = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" => mode = Some(v.into_owned()),
                "sslrootcert" => roots = Some(PathBuf::from(v.as_ref())),
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        let tls = match (mode.as_deref(), roots) {
            (None | Some("disable" | "allow"), _) => Tls::Off,
            (Some("prefer"), roots) => Tls::Encrypt {
                mode: SslMode::Prefer,
                roots,
            },
            (Some("require"), roots) => Tls::Encrypt {
                mode: SslMode::Require,
                roots,
            },
            (Some("verify-ca" | "verify-full"), Some(roots)) => Tls::Verify { roots },
            (Some(m @ ("verify-ca" | "verify-full")), None) => {
                return Err(bad(format!(
                    "sslmode={m} needs the root certificate: add &sslrootcert=/path/to/root.crt"
                )));
            }
            (Some(other), _) => {
                return Err(bad(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        };
        url.query_pairs_mut().clear().extend_pairs(rest);
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut config: tokio_postgres::Config =
            url.as_str().parse().map_err(|e| bad(format!("{e}")))?;
        config.ssl_mode(match &tls {
            Tls::Off => SslMode::Disable,
            Tls::Encrypt { mode, .. } => *mode,
            Tls::Verify { .. } => SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("shipdeck");
        }
        Ok(DbUrl {
            config,
            tls,
            shown: redact(text),
        })
    }

    /// The URL as messages show it: no password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A new connection; its driving task runs on the caller's runtime.
    pub(super) async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        let failed = |e: tokio_postgres::Error| DbError::Connect {
            url: self.shown.clone(),
            why: super::describe(&e),
        };
        let attempt = async {
            match &self.tls {
                Tls::Off => {
                    let (client, connection) = self
                        .config
                        .connect(tokio_postgres::NoTls)
                        .await
                        .map_err(failed)?;
                    tokio::spawn(connection);
                    Ok(client)
                }
                tls => {
                    let config = rustls_config(tls)?;
                    let maker = tokio_postgres_rustls::MakeRustlsConnect::new(config);
                    let (client, connection) = self.config.connect(maker).await.map_err(failed)?;
                    tokio::spawn(connection);
                    Ok(client)
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT * 2, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(DbError::Connect {
                    url: self.shown.clone(),
                    why: format!("no answer within {}s", (CONNECT_TIMEOUT * 2).as_secs()),
                })
            })
    }

    /// A connection whose messages (notifications) the caller reads itself.
    pub(super) async fn connect_raw(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            futures::stream::BoxStream<
                'static,
                Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>,
            >,
        ),
        DbError,
    > {
        use futures::StreamExt;
        let failed = |e: tokio_postgres::Error| DbError::Connect {
            url: self.shown.clone(),
            why: super::describe(&e),
        };
        match &self.tls {
            Tls::Off => {
                let (client, mut connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                let stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                Ok((client, stream.boxed()))
            }
            tls => {
                let config = rustls_config(tls)?;
                let maker = tokio_postgres_rustls::MakeRustlsConnect::new(config);
                let (client, mut connection) = self.config.connect(maker).await.map_err(failed)?;
                let stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                Ok((client, stream.boxed()))
            }
        }
    }
}

/// `postgres://app:***@db:5432/releases`: the URL without its password, for messages.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(_) => crate::support::escape::passwords(text).into_owned(),
        // Not a URL: show nothing of it, since it may hold a secret anywhere.
        Err(_) => format!("${URL_ENV} (not a valid URL)"),
    }
}

fn rustls_config(tls: &Tls) -> Result<rustls::ClientConfig, DbError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls(e.to_string()))?;
    let roots = match tls {
        Tls::Off => None,
        Tls::Encrypt { roots, .. } => roots.as_ref(),
        Tls::Verify { roots } => Some(roots),
    };
    let config = match roots {
        Some(path) => builder
            .with_root_certificates(root_store(path)?)
            .with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

fn root_store(path: &std::path::Path) -> Result<rustls::RootCertStore, DbError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |why: String| {
        DbError::Tls(format!(
            "sslrootcert={}: {why}; give a PEM file with the server's root certificate",
            path.display()
        ))
    };
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        store.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(store)
}

/// `sslmode=require` without a root certificate: the link is encrypted and the
/// certificate is not checked, which is what libpq does and what users of that mode expect.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = DbUrl::parse("postgres://app:s3cret@db.internal:5432/releases").unwrap();
        assert_eq!(url.shown(), "postgres://app:***@db.internal:5432/releases");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            redact("nonsense s3cret"),
            "$SHIPDECK_DATABASE_URL (not a valid URL)"
        );
    }

    #[test]
    fn tls_follows_the_url() {
        let plain = DbUrl::parse("postgres://a@h/db").unwrap();
        assert_eq!(plain.tls, Tls::Off);
        let req = DbUrl::parse("postgresql://a@h/db?sslmode=require").unwrap();
        assert!(matches!(
            req.tls,
            Tls::Encrypt {
                mode: SslMode::Require,
                roots: None
            }
        ));
        let full =
            DbUrl::parse("postgres://a@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(
            full.tls,
            Tls::Verify {
                roots: "/etc/ca.pem".into()
            }
        );
    }

    #[test]
    fn a_bad_url_says_what_to_write() {
        for (url, says) in [
            ("mysql://a@h/db", "not postgres://"),
            ("postgres://a@h/db?sslmode=verify-full", "sslrootcert="),
            ("postgres://a@h/db?sslmode=always", "is not one of"),
        ] {
            let e = DbUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
