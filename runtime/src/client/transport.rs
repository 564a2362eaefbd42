//! How a device reaches its server: a [`Transport`] sends one HTTP request and returns the
//! response. [`HttpTransport`] is the real one; tests and simulations implement the trait (or
//! pass a closure) to run devices against a server in process, with faults of their choosing.

use std::fmt;
use std::time::Duration;

/// The two methods the sync protocol uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET /sync/pull`.
    Get,
    /// `POST /sync/push`.
    Post,
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

    /// This transport, if it may send a request from another thread while the sync loop
    /// works: the loop then asks for the next pull page while it applies the current one.
    /// `None` (the default) sends every request from the loop's thread, each when the loop
    /// needs its answer, in an order that depends on nothing else (simulations rely on it).
    fn concurrent(&self) -> Option<&(dyn Transport + Sync)> {
        None
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

impl Transport for HttpTransport {
    fn concurrent(&self) -> Option<&(dyn Transport + Sync)> {
        Some(self)
    }

    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let url = format!("{}{}", self.base, request.path);
        let fail = |e: ureq::Error| TransportError {
            message: e.to_string(),
        };
        let mut response = match request.method {
            Method::Get => {
                let mut builder = self.agent.get(&url);
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.call().map_err(fail)?
            }
            Method::Post => {
                let mut builder = self.agent.post(&url);
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.send(&request.body[..]).map_err(fail)?
            }
        };
        let status = response.status().as_u16();
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
