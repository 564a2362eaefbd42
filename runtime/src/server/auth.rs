//! Who is calling: `Authorization: Bearer <token>`, checked by a pluggable [`Authenticate`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, header};

use super::problem::Problem;

/// Maps a bearer token to a user id. Implement it over your identity provider; owner scoping
/// compares owner fields with the user id it returns.
pub trait Authenticate: Send + Sync + 'static {
    /// The user behind `token`, or `None` if the token is unknown.
    fn authenticate(&self, token: &str) -> Option<String>;
}

/// Fixed tokens, e.g. from `OFFGEN_TOKENS="alice=s3cret,bob=t0ken"`.
#[derive(Clone, Debug, Default)]
pub struct StaticTokens {
    users: HashMap<String, String>,
}

impl StaticTokens {
    /// Parses `user=token` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<StaticTokens, String> {
        let mut users = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (user, token) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not user=token"))?;
            if user.is_empty() || token.is_empty() {
                return Err(format!("`{pair}` has an empty user or token"));
            }
            users.insert(token.to_owned(), user.to_owned());
        }
        Ok(StaticTokens { users })
    }
}

impl Authenticate for StaticTokens {
    fn authenticate(&self, token: &str) -> Option<String> {
        self.users.get(token).cloned()
    }
}

/// The authentication the environment configures: `OFFGEN_TOKENS` (`user=token` pairs).
pub(crate) fn from_env() -> Result<Arc<dyn Authenticate>, String> {
    let Some(tokens) = std::env::var("OFFGEN_TOKENS")
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        return Err(
            "no way to authenticate devices: set OFFGEN_TOKENS to user=token pairs, e.g. OFFGEN_TOKENS=ana=s3cret"
                .to_owned(),
        );
    };
    let tokens = StaticTokens::parse(&tokens).map_err(|e| format!("OFFGEN_TOKENS: {e}"))?;
    Ok(Arc::new(tokens))
}

/// The caller's user id, or 401.
pub(crate) fn user(headers: &HeaderMap, auth: &dyn Authenticate) -> Result<String, Problem> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <token>"))?;
    let text = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| Problem::unauthorized("only Bearer tokens are accepted"))?;
    let user = auth
        .authenticate(token)
        .ok_or_else(|| Problem::unauthorized("unknown token"))?;
    // Every later log line of this request says whose it is.
    tracing::Span::current().record("user", user.as_str());
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_map_to_users() {
        let tokens = StaticTokens::parse("alice=a1, bob=b2,").unwrap();
        assert_eq!(tokens.authenticate("b2").as_deref(), Some("bob"));
        assert_eq!(tokens.authenticate("nope"), None);
        assert!(StaticTokens::parse("alice").is_err());
        assert!(StaticTokens::parse("=x").is_err());
    }
}
