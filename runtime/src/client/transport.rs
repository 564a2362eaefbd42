//! How a device reaches its server: a [`Transport`] sends one HTTP request and returns the
//! response. [`HttpTransport`] is the real one; tests and simulations implement the trait (or
//! pass a closure) to run devices against a server in process, with faults of their choosing.

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

/// The methods the sync protocol uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET /sync/pull`, and an attachment's download.
    Get,
    /// `POST /sync/push`.
    Post,
    /// An attachment's upload.
    Put,
    /// Whether the server holds an attachment already.
    Head,
}

/// One request, as the client builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Get or post.
    pub method: Method,
    /// Path and query, from the server's base: `/sync/pull?cursor=&limit=500`.
    pub path: String,
    /// Headers (`Authorization` among them when the token provider gave a token).
    pub headers: Vec<(String, String)>,
    /// The body (empty for a GET).
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// One response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// No response: the request may or may not have reached the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// What happened, for the log.
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no response: {}", self.message)
    }
}

impl std::error::Error for TransportError {}

/// Sends requests to the server. Implementations must not retry on their own: the sync loop
/// decides what a failure means for the queue.
pub trait Transport {
    /// Sends one request and waits for its response.
    fn send(&self, request: Request) -> Result<Response, TransportError>;

    /// Sends a request whose body (`len` bytes) is read from `body` as it goes: an attachment's
    /// upload. The default reads it into memory and calls [`Transport::send`]; a real
    /// transport streams it. An error reading `body` is a [`TransportError`] (the request did
    /// not go whole).
    fn upload(
        &self,
        mut request: Request,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Response, TransportError> {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 20));
        body.read_to_end(&mut bytes).map_err(|e| TransportError {
            message: format!("reading the body: {e}"),
        })?;
        request.body = bytes;
        self.send(request)
    }

    /// Sends a request and writes a successful (2xx) response's body into `sink` as it comes,
    /// returning the response without it: an attachment's download. Other responses come
    /// back whole. The default calls [`Transport::send`]; a real transport streams.
    fn download(&self, request: Request, sink: &mut dyn Write) -> Result<Response, TransportError> {
        let mut response = self.send(request)?;
        if (200..300).contains(&response.status) {
            sink.write_all(&response.body).map_err(|e| TransportError {
                message: format!("writing the body: {e}"),
            })?;
            response.body.clear();
        }
        Ok(response)
    }
}

impl<F> Transport for F
where
    F: Fn(Request) -> Result<Response, TransportError>,
{
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        self(request)
    }
}

/// HTTP over a blocking [`ureq`] agent (plain HTTP; HTTPS with the feature `client-tls`).
#[derive(Clone, Debug)]
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
    max_response_bytes: u64,
}

impl HttpTransport {
    /// A transport to the server at `base` (`http://127.0.0.1:8080`), with a 60 s timeout per
    /// request and responses up to 64 MiB.
    pub fn new(base: &str) -> HttpTransport {
        HttpTransport::with_timeout(base, Duration::from_secs(60))
    }

    /// As [`HttpTransport::new`], with another timeout for a whole request and its response.
    pub fn with_timeout(base: &str, timeout: Duration) -> HttpTransport {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Every status is an answer the sync loop handles; only no answer is an error.
            .http_status_as_error(false)
            .build()
            .into();
        HttpTransport {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

fn fail(e: ureq::Error) -> TransportError {
    TransportError {
        message: e.to_string(),
    }
}

/// The status and headers of a ureq response.
fn head_of(response: &ureq::http::Response<ureq::Body>) -> (u16, Vec<(String, String)>) {
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (response.status().as_u16(), headers)
}

impl HttpTransport {
    fn url(&self, request: &Request) -> String {
        format!("{}{}", self.base, request.path)
    }

    fn finish(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<Response, TransportError> {
        let (status, headers) = head_of(&response);
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .read_to_vec()
            .map_err(fail)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A file transfer takes as long as the link needs: no overall timeout, only one on
/// connecting and on waiting for the answer once the body is sent.
fn transfer_config<B>(builder: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
    builder
        .config()
        .timeout_global(None)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .build()
}

impl Transport for HttpTransport {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let url = self.url(&request);
        let response = match request.method {
            Method::Get | Method::Head => {
                let mut builder = if request.method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.head(&url)
                };
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.call().map_err(fail)?
            }
            Method::Post | Method::Put => {
                let mut builder = if request.method == Method::Post {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.send(&request.body[..]).map_err(fail)?
            }
        };
        self.finish(response)
    }

    fn upload(
        &self,
        request: Request,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Response, TransportError> {
        let url = self.url(&request);
        let mut builder = transfer_config(self.agent.put(&url));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // Said up front, so the server can refuse a body of the wrong size before it comes.
        let builder = builder.header("Content-Length", len.to_string());
        let response = builder
            .send(ureq::SendBody::from_reader(body))
            .map_err(fail)?;
        self.finish(response)
    }

    fn download(&self, request: Request, sink: &mut dyn Write) -> Result<Response, TransportError> {
        let url = self.url(&request);
        let mut builder = transfer_config(self.agent.get(&url));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.call().map_err(fail)?;
        if !(200..300).contains(&response.status().as_u16()) {
            return self.finish(response);
        }
        let (status, headers) = head_of(&response);
        let mut reader = response.body_mut().as_reader();
        std::io::copy(&mut reader, sink).map_err(|e| TransportError {
            message: format!("the download broke off: {e}"),
        })?;
        Ok(Response {
            status,
            headers,
            body: Vec::new(),
        })
    }
}
