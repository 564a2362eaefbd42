//! Who is calling: `Authorization: Bearer <token>`, checked by a pluggable [`Authenticate`].
//!
//! Two come with the runtime: [`StaticTokens`], a fixed list compared in constant time, and
//! [`Jwt`], tokens signed by an identity provider. [`from_env`] builds what the environment
//! asks for (both at once, if both are configured).

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::problem::Problem;

pub use super::jwt::Jwt;

/// Maps a bearer token to a user id. Implement it over your identity provider; owner scoping
/// compares owner fields with the user id it returns.
pub trait Authenticate: Send + Sync + 'static {
    /// The user behind `token`, or `None` if the token is unknown.
    fn authenticate(&self, token: &str) -> Option<String>;

    /// Whether `user` may use the admin endpoints (audit, restore). Nobody, unless said so.
    fn is_admin(&self, user: &str) -> bool {
        let _ = user;
        false
    }

    /// The caller behind `token` and whether they are an admin, from one look at the token.
    /// By default [`Authenticate::authenticate`], then [`Authenticate::is_admin`]; tokens that
    /// carry roles themselves (JWTs) answer from the token.
    fn identify(&self, token: &str) -> Option<Identity> {
        let user = self.authenticate(token)?;
        Some(Identity {
            admin: self.is_admin(&user),
            user,
        })
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user id: what owner fields are compared with.
    pub user: String,
    /// Whether the admin endpoints are open to them.
    pub admin: bool,
}

/// Fixed tokens, e.g. from `OFFGEN_TOKENS="alice=s3cret,bob=t0ken"`, and the admins among
/// their users (`OFFGEN_ADMINS`).
///
/// Tokens are kept as SHA-256 digests and a presented token is compared with every one of
/// them in constant time, so neither the time of a lookup nor of a comparison tells an
/// attacker how much of a guess was right, nor how long the real tokens are.
#[derive(Clone, Default)]
pub struct StaticTokens {
    digests: Vec<([u8; 32], String)>,
    admins: HashSet<String>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the digests: a log line is no place for anything derived from a secret.
        f.debug_struct("StaticTokens")
            .field("tokens", &self.digests.len())
            .field("admins", &self.admins)
            .finish()
    }
}

impl StaticTokens {
    /// Parses `user=token` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<StaticTokens, String> {
        let mut digests: Vec<([u8; 32], String)> = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (user, token) = pair
                .split_once('=')
                .ok_or_else(|| "an entry is not user=token".to_owned())?;
            let (user, token) = (user.trim(), token.trim());
            if user.is_empty() || token.is_empty() {
                return Err("an entry has an empty user or token".to_owned());
            }
            let digest = digest(token);
            // One token for two users would make one of them the other.
            if digests.iter().any(|(d, _)| *d == digest) {
                return Err(format!(
                    "two entries share a token (the second is {user}'s)"
                ));
            }
            digests.push((digest, user.to_owned()));
        }
        Ok(StaticTokens {
            digests,
            admins: HashSet::new(),
        })
    }

    /// One token, for one purpose (the metrics scraper's).
    pub(crate) fn single(token: String) -> StaticTokens {
        StaticTokens {
            digests: vec![(digest(&token), "metrics".to_owned())],
            admins: HashSet::new(),
        }
    }

    /// The same tokens, with `users` (comma-separated user ids) as admins.
    pub fn with_admins(mut self, users: &str) -> StaticTokens {
        self.admins = admin_list(users);
        self
    }
}

impl Authenticate for StaticTokens {
    fn authenticate(&self, token: &str) -> Option<String> {
        let presented = digest(token);
        let mut found = None;
        // Every entry is compared, whatever matched: the loop takes the same time for a
        // right token, a wrong one and a nearly right one.
        for (candidate, user) in &self.digests {
            if bool::from(candidate.ct_eq(&presented)) {
                found = Some(user);
            }
        }
        found.cloned()
    }

    fn is_admin(&self, user: &str) -> bool {
        self.admins.contains(user)
    }
}

/// Comma-separated user ids.
pub(crate) fn admin_list(users: &str) -> HashSet<String> {
    users
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Several authenticators, asked in order: static tokens for service accounts beside JWTs
/// for people, say.
struct Chain(Vec<Arc<dyn Authenticate>>);

impl Authenticate for Chain {
    fn authenticate(&self, token: &str) -> Option<String> {
        self.identify(token).map(|identity| identity.user)
    }

    fn is_admin(&self, user: &str) -> bool {
        self.0.iter().any(|a| a.is_admin(user))
    }

    fn identify(&self, token: &str) -> Option<Identity> {
        self.0.iter().find_map(|a| a.identify(token))
    }
}

/// The authentication the environment configures: `OFFGEN_TOKENS` (static `user=token`
/// pairs), `OFFGEN_JWT_*` (an identity provider's tokens), or both; `OFFGEN_ADMINS` names
/// admins by user id for either. At least one must be set.
pub(crate) fn from_env() -> Result<Arc<dyn Authenticate>, String> {
    from_lookup(&|name| std::env::var(name).ok())
}

/// [`from_env`] over any variable lookup.
pub(crate) fn from_lookup(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Authenticate>, String> {
    let vars = super::config::Vars(get);
    let admins = vars.text("OFFGEN_ADMINS", "");
    let mut chain: Vec<Arc<dyn Authenticate>> = Vec::new();
    if let Some(tokens) = vars.opt("OFFGEN_TOKENS") {
        let tokens = StaticTokens::parse(&tokens).map_err(|e| format!("OFFGEN_TOKENS: {e}"))?;
        chain.push(Arc::new(tokens.with_admins(&admins)));
    }
    if let Some(jwt) = Jwt::from_lookup(get)? {
        chain.push(Arc::new(jwt));
    }
    match chain.len() {
        0 => Err(
            "no way to authenticate devices: set OFFGEN_TOKENS to user=token pairs (e.g. \
             OFFGEN_TOKENS=ana=s3cret), or OFFGEN_JWT_JWKS_FILE, OFFGEN_JWT_PUBLIC_KEY_FILE or \
             OFFGEN_JWT_SECRET for an identity provider's tokens"
                .to_owned(),
        ),
        1 => Ok(chain.remove(0)),
        _ => Ok(Arc::new(Chain(chain))),
    }
}

/// The bearer token of a request, or 401.
fn bearer(headers: &HeaderMap) -> Result<&str, Problem> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <token>"))?;
    let text = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not text"))?;
    // The scheme is case-insensitive (RFC 9110, section 11.1).
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Problem::unauthorized("only Bearer tokens are accepted"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Problem::unauthorized("the Bearer token is empty"));
    }
    Ok(token)
}

/// The caller, or 401.
fn identity(headers: &HeaderMap, auth: &dyn Authenticate) -> Result<Identity, Problem> {
    let identity = auth
        .identify(bearer(headers)?)
        .ok_or_else(|| Problem::unauthorized("the token is unknown, expired or not valid here"))?;
    // Every later log line of this request says whose it is.
    tracing::Span::current().record("user", identity.user.as_str());
    Ok(identity)
}

/// The caller's user id, or 401.
pub(crate) fn user(headers: &HeaderMap, auth: &dyn Authenticate) -> Result<String, Problem> {
    identity(headers, auth).map(|identity| identity.user)
}

/// The caller's user id if they are an admin; 401 (problem+json) for no or a bad token, 403
/// for a user who is not an admin. For the admin endpoints, the runtime's and your own.
pub fn require_admin(headers: &HeaderMap, auth: &dyn Authenticate) -> Result<String, Problem> {
    let identity = identity(headers, auth)?;
    if identity.admin {
        Ok(identity.user)
    } else {
        Err(Problem::forbidden(
            "this endpoint is for admins; your user is not one",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_parse_and_map_to_users() {
        let tokens = StaticTokens::parse("alice=a1, bob=b2,").unwrap();
        assert_eq!(tokens.authenticate("b2").as_deref(), Some("bob"));
        assert_eq!(tokens.authenticate("b"), None);
        assert_eq!(tokens.authenticate("b22"), None);
        assert_eq!(tokens.authenticate("nope"), None);
        assert!(StaticTokens::parse("alice").is_err());
        assert!(StaticTokens::parse("=x").is_err());
        assert!(StaticTokens::parse("a=same,b=same").is_err());
        // A parse error never repeats a token.
        assert!(!StaticTokens::parse("alice").unwrap_err().contains("alice"));
        assert!(!format!("{tokens:?}").contains("a1"));
    }

    #[test]
    fn admins_are_named_users_only() {
        let tokens = StaticTokens::parse("alice=a1,bob=b2")
            .unwrap()
            .with_admins(" alice ,");
        assert_eq!(
            tokens.identify("a1"),
            Some(Identity {
                user: "alice".into(),
                admin: true
            })
        );
        assert!(!tokens.identify("b2").unwrap().admin);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer b2"));
        let refused = require_admin(&headers, &tokens).unwrap_err();
        assert_eq!(refused.status, 403);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bEaReR a1"));
        assert_eq!(require_admin(&headers, &tokens).unwrap(), "alice");
        for bad in ["Basic a1", "Bearer ", "Bearer", "a1"] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(user(&headers, &tokens).unwrap_err().status, 401, "{bad}");
        }
    }

    #[test]
    fn the_environment_must_name_a_way_to_authenticate() {
        let none = from_lookup(&|_| None).err().unwrap();
        assert!(none.contains("OFFGEN_TOKENS"), "{none}");
        let both = from_lookup(&|name| match name {
            "OFFGEN_TOKENS" => Some("svc=s1".into()),
            "OFFGEN_JWT_SECRET" => Some("a-shared-secret-of-enough-length".into()),
            "OFFGEN_ADMINS" => Some("svc".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            both.identify("s1"),
            Some(Identity {
                user: "svc".into(),
                admin: true
            })
        );
        assert_eq!(both.identify("not-a-jwt"), None);
    }
}
