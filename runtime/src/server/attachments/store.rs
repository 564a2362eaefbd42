//! Where attachment bytes live: an object store chosen by URL, through the `object_store`
//! crate. The local filesystem by default (embedded, nothing to install); any S3-compatible
//! store with feature `s3`; memory for tests.
//!
//! Files are stored once per content, as `objects/<sha256>`: a retried or duplicated upload
//! of the same bytes writes the same object again, never a second one.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

/// Largest file the server takes unless configured otherwise (`OFFGEN_ATTACHMENT_MAX_BYTES`):
/// a phone's photo is a few MiB, a scanned document a few tens.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The store attachment bytes are kept in, and the largest file it takes.
#[derive(Clone)]
pub struct AttachmentStore {
    store: Arc<dyn ObjectStore>,
    max_bytes: u64,
    label: String,
}

impl std::fmt::Debug for AttachmentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentStore")
            .field("store", &self.label)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

impl AttachmentStore {
    /// A store from its URL:
    ///
    /// - `file:<dir>` (or `file:///<absolute dir>`): files under a directory, made if missing;
    /// - `s3://<bucket>[/<prefix>][?endpoint=<url>&region=<region>]` (feature `s3`): any
    ///   S3-compatible store; credentials from `AWS_ACCESS_KEY_ID` and
    ///   `AWS_SECRET_ACCESS_KEY` (or the other `AWS_*` variables `object_store` reads);
    /// - `memory:`: in this process's memory, gone when it ends (tests).
    pub fn open(url: &str) -> Result<AttachmentStore, String> {
        let (store, label): (Arc<dyn ObjectStore>, String) = if url == "memory:" {
            (
                Arc::new(object_store::memory::InMemory::new()),
                url.to_owned(),
            )
        } else if let Some(dir) = url.strip_prefix("file:") {
            let dir = dir.strip_prefix("//").unwrap_or(dir);
            if dir.is_empty() {
                return Err("a file: store needs a directory (file:attachments)".to_owned());
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make the attachment directory {dir}: {e}"))?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| format!("cannot use the attachment directory {dir}: {e}"))?;
            (Arc::new(local), format!("file:{dir}"))
        } else if let Some(rest) = url.strip_prefix("s3://") {
            s3(rest)?
        } else {
            return Err(format!(
                "`{url}` is not an attachment store (file:<dir>, s3://<bucket>, memory:)"
            ));
        };
        Ok(AttachmentStore {
            store,
            max_bytes: DEFAULT_MAX_BYTES,
            label,
        })
    }

    /// The same store, taking files of at most `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> AttachmentStore {
        self.max_bytes = max_bytes;
        self
    }

    /// The largest file the server takes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The store's URL without credentials, for logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The underlying store.
    pub(crate) fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Every file the store holds, as (SHA-256, size), by hash: what an upload left visible.
    pub async fn stored(&self) -> Result<Vec<(String, u64)>, String> {
        use futures_util::StreamExt;
        let mut listing = self.store.list(Some(&Path::from("objects")));
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| e.to_string())?;
            let name = meta.location.filename().unwrap_or_default().to_owned();
            out.push((name, meta.size));
        }
        out.sort();
        Ok(out)
    }

    /// Where the file with this content is kept.
    pub(crate) fn object(sha256: &str) -> Path {
        Path::from(format!("objects/{sha256}"))
    }
}

#[cfg(feature = "s3")]
fn s3(rest: &str) -> Result<(Arc<dyn ObjectStore>, String), String> {
    use object_store::aws::AmazonS3Builder;

    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.is_empty() {
        return Err("an s3:// store needs a bucket (s3://<bucket>)".to_owned());
    }
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_crypto_provider(Arc::new(rust_crypto::RustCrypto));
    let mut endpoint = std::env::var("AWS_ENDPOINT").unwrap_or_default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        builder = match key {
            "endpoint" => {
                endpoint = value.to_owned();
                builder.with_endpoint(value)
            }
            "region" => builder.with_region(value),
            other => {
                return Err(format!(
                    "unknown s3:// store parameter `{other}` (endpoint, region)"
                ));
            }
        };
    }
    if endpoint.starts_with("http://") {
        builder = builder
            .with_allow_http(true)
            .with_http_connector(plain_http::PlainHttp);
    } else if !cfg!(feature = "s3-tls") {
        return Err(format!(
            "s3://{location} is reached over HTTPS, and this server was built without TLS for S3: build offgen-runtime with feature `s3-tls`, or give an http:// endpoint"
        ));
    }
    let s3 = builder
        .build()
        .map_err(|e| format!("cannot use the S3 store s3://{location}: {e}"))?;
    let label = format!("s3://{location}");
    if prefix.is_empty() {
        Ok((Arc::new(s3), label))
    } else {
        let prefixed = object_store::prefix::PrefixStore::new(s3, prefix.trim_end_matches('/'));
        Ok((Arc::new(prefixed), label))
    }
}

#[cfg(not(feature = "s3"))]
fn s3(_rest: &str) -> Result<(Arc<dyn ObjectStore>, String), String> {
    Err(
        "this server was built without S3 support: build offgen-runtime with feature `s3`"
            .to_owned(),
    )
}

/// Plain HTTP to an S3-compatible store on a private network (or loopback) through hyper,
/// which the server links already; HTTPS endpoints go through reqwest (feature `s3-tls`).
#[cfg(feature = "s3")]
mod plain_http {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector as HyperConnector;
    use hyper_util::rt::TokioExecutor;
    use object_store::client::{
        ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest,
        HttpRequestBody, HttpResponse, HttpResponseBody, HttpService,
    };

    #[derive(Debug)]
    pub(super) struct PlainHttp;

    impl HttpConnector for PlainHttp {
        fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
            let client = Client::builder(TokioExecutor::new()).build_http();
            Ok(HttpClient::new(Hyper(client)))
        }
    }

    #[derive(Debug)]
    struct Hyper(Client<HyperConnector, HttpRequestBody>);

    #[async_trait::async_trait]
    impl HttpService for Hyper {
        async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
            let response = self.0.request(request).await.map_err(|e| {
                let kind = if e.is_connect() {
                    HttpErrorKind::Connect
                } else {
                    HttpErrorKind::Request
                };
                HttpError::new(kind, e)
            })?;
            let (parts, body) = response.into_parts();
            let body = body.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e));
            Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
        }
    }
}

/// SHA-256 and HMAC-SHA256 for S3's request signatures from the RustCrypto crates the server
/// already links (sha2, hmac), instead of `object_store`'s choice of ring or aws-lc-rs: both
/// are C builds, for what two small functions do.
#[cfg(feature = "s3")]
mod rust_crypto {
    use hmac::{KeyInit, Mac};
    use object_store::client::{
        CryptoProvider, DigestAlgorithm, DigestContext, HmacContext, Signer, SigningAlgorithm,
    };
    use sha2::{Digest, Sha256};

    #[derive(Debug)]
    pub(super) struct RustCrypto;

    struct Sha(Sha256, Vec<u8>);

    impl DigestContext for Sha {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        fn finish(&mut self) -> object_store::Result<&[u8]> {
            self.1 = std::mem::take(&mut self.0).finalize().to_vec();
            Ok(&self.1)
        }
    }

    struct Hmac(hmac::Hmac<Sha256>, Vec<u8>);

    impl HmacContext for Hmac {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        fn finish(&mut self) -> object_store::Result<&[u8]> {
            self.1 = self.0.clone().finalize().into_bytes().to_vec();
            Ok(&self.1)
        }
    }

    impl CryptoProvider for RustCrypto {
        fn digest(
            &self,
            algorithm: DigestAlgorithm,
        ) -> object_store::Result<Box<dyn DigestContext>> {
            match algorithm {
                DigestAlgorithm::Sha256 => Ok(Box::new(Sha(Sha256::new(), Vec::new()))),
                _ => Err(unsupported("this digest")),
            }
        }

        fn hmac(
            &self,
            algorithm: DigestAlgorithm,
            secret: &[u8],
        ) -> object_store::Result<Box<dyn HmacContext>> {
            match algorithm {
                DigestAlgorithm::Sha256 => {
                    let mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
                        .map_err(|_| unsupported("an HMAC key of this length"))?;
                    Ok(Box::new(Hmac(mac, Vec::new())))
                }
                _ => Err(unsupported("this HMAC")),
            }
        }

        fn sign(
            &self,
            _algorithm: SigningAlgorithm,
            _pem: &[u8],
        ) -> object_store::Result<Box<dyn Signer>> {
            // RSA signatures are for Google Cloud's service accounts, not S3.
            Err(unsupported("RSA signatures"))
        }
    }

    fn unsupported(what: &str) -> object_store::Error {
        object_store::Error::NotSupported {
            source: format!("{what} is not supported").into(),
        }
    }
}
