//! JWTs from an identity provider (Keycloak, Auth0, Entra ID, Cognito, ...): the signature,
//! expiry, issuer and audience are checked with `jsonwebtoken`, and the user id and admin role
//! are read from configurable claims.
//!
//! Keys come from a JWKS file (what the provider publishes at its `jwks_uri`, kept current by
//! whatever deploys the server: it is re-read when it changes, so keys rotate without a
//! restart), a PEM public key, or an HMAC secret. Only the algorithms of the configured key's
//! family are accepted, so a token cannot pick `none`, nor have an RSA public key used as an
//! HMAC secret.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::auth::{Authenticate, Identity, admin_list};
use super::config::Vars;

/// Verifies bearer JWTs. Built from the environment by [`Jwt::from_env`], or by hand.
pub struct Jwt {
    keys: Keys,
    /// How often a JWKS file is looked at for changes.
    recheck: Duration,
    algorithms: Option<Vec<Algorithm>>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
    user_claim: String,
    admin_claim: Option<String>,
    admin_value: String,
    admins: HashSet<String>,
}

enum Keys {
    /// One key: a PEM public key or a secret.
    Fixed(DecodingKey),
    /// A JWKS file, re-read when it changes; keys chosen by the token's `kid`.
    Jwks {
        path: PathBuf,
        state: RwLock<JwksState>,
    },
}

struct JwksState {
    set: JwkSet,
    /// The file's bytes when `set` was read from it. A change is told by content, not by
    /// modification time: a file rewritten within the file system's timestamp granularity, or
    /// replaced by a copy that keeps the old time (`cp -p`, a config-management tool), keeps
    /// its mtime. A JWKS is a few kilobytes, read at most once per recheck interval.
    read: Vec<u8>,
    checked: Instant,
}

impl Jwt {
    /// The verifier the `OFFGEN_JWT_*` variables describe, `None` when none of them is set.
    pub fn from_env() -> Result<Option<Jwt>, String> {
        Jwt::from_lookup(&|name| std::env::var(name).ok())
    }

    /// [`Jwt::from_env`] over any variable lookup. Exactly one key source:
    /// `OFFGEN_JWT_JWKS_FILE`, `OFFGEN_JWT_PUBLIC_KEY_FILE` (PEM: RSA, EC or Ed25519) or
    /// `OFFGEN_JWT_SECRET` (HMAC); then `OFFGEN_JWT_ISSUER`, `OFFGEN_JWT_AUDIENCE` (checked
    /// when set), `OFFGEN_JWT_ALGORITHMS`, `OFFGEN_JWT_LEEWAY_SECS` (60),
    /// `OFFGEN_JWT_USER_CLAIM` (`sub`), `OFFGEN_JWT_ADMIN_CLAIM` and `OFFGEN_JWT_ADMIN_VALUE`
    /// (`admin`), `OFFGEN_JWT_JWKS_RECHECK_SECS` (10), and `OFFGEN_ADMINS`.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Jwt>, String> {
        let vars = Vars(get);
        let sources = [
            vars.opt("OFFGEN_JWT_JWKS_FILE"),
            vars.opt("OFFGEN_JWT_PUBLIC_KEY_FILE"),
            vars.opt("OFFGEN_JWT_SECRET"),
        ];
        let keys = match sources {
            [None, None, None] => return Ok(None),
            [Some(path), None, None] => {
                let path = PathBuf::from(path);
                let read = std::fs::read(&path)
                    .map_err(|e| format!("OFFGEN_JWT_JWKS_FILE={}: {e}", path.display()))?;
                let set = parse_jwks(&read)
                    .map_err(|e| format!("OFFGEN_JWT_JWKS_FILE={}: {e}", path.display()))?;
                Keys::Jwks {
                    path,
                    state: RwLock::new(JwksState {
                        set,
                        read,
                        checked: Instant::now(),
                    }),
                }
            }
            [None, Some(path), None] => {
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("OFFGEN_JWT_PUBLIC_KEY_FILE={path}: {e}"))?;
                Keys::Fixed(
                    public_key(&pem)
                        .map_err(|e| format!("OFFGEN_JWT_PUBLIC_KEY_FILE={path}: {e}"))?,
                )
            }
            [None, None, Some(secret)] => {
                // RFC 7518 3.2: a key at least as long as the hash (32 bytes for HS256).
                if secret.len() < 32 {
                    return Err("OFFGEN_JWT_SECRET must be at least 32 bytes".to_owned());
                }
                Keys::Fixed(
                    DecodingKey::from_secret(secret.as_bytes())
                        .map_err(|e| format!("OFFGEN_JWT_SECRET: {e}"))?,
                )
            }
            _ => {
                return Err(
                    "set only one of OFFGEN_JWT_JWKS_FILE, OFFGEN_JWT_PUBLIC_KEY_FILE and OFFGEN_JWT_SECRET"
                        .to_owned(),
                );
            }
        };
        let algorithms = match vars.opt("OFFGEN_JWT_ALGORITHMS") {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        a.parse::<Algorithm>()
                            .map_err(|_| format!("OFFGEN_JWT_ALGORITHMS: unknown algorithm `{a}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if let (Keys::Fixed(key), Some(algorithms)) = (&keys, &algorithms)
            && let Some(other) = algorithms.iter().find(|a| a.family() != key.family())
        {
            return Err(format!(
                "OFFGEN_JWT_ALGORITHMS: {other:?} does not fit the configured key"
            ));
        }
        Ok(Some(Jwt {
            keys,
            recheck: Duration::from_secs(vars.number(
                "OFFGEN_JWT_JWKS_RECHECK_SECS",
                10,
                0..=86_400,
            )?),
            algorithms,
            issuer: vars.opt("OFFGEN_JWT_ISSUER"),
            audience: vars.opt("OFFGEN_JWT_AUDIENCE"),
            leeway_secs: vars.number("OFFGEN_JWT_LEEWAY_SECS", 60, 0..=3600)?,
            user_claim: vars.text("OFFGEN_JWT_USER_CLAIM", "sub"),
            admin_claim: vars.opt("OFFGEN_JWT_ADMIN_CLAIM"),
            admin_value: vars.text("OFFGEN_JWT_ADMIN_VALUE", "admin"),
            admins: admin_list(&vars.text("OFFGEN_ADMINS", "")),
        }))
    }

    /// The token's claims when its signature and times (and issuer and audience, where
    /// configured) are right; else why not.
    fn verify(&self, token: &str) -> Result<Map<String, Value>, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let key = match &self.keys {
            Keys::Fixed(key) => key.clone(),
            Keys::Jwks { path, state } => {
                self.refresh(path, state);
                let state = state
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let jwk = match &header.kid {
                    Some(kid) => state.set.find(kid),
                    // Without a `kid`, only a set of one key is unambiguous.
                    None if state.set.keys.len() == 1 => state.set.keys.first(),
                    None => None,
                }
                .ok_or_else(|| format!("no key {:?} in the JWKS", header.kid))?;
                if let Some(alg) = jwk.common.key_algorithm
                    && format!("{alg:?}") != format!("{:?}", header.alg)
                {
                    return Err(format!("the key is for {alg:?}, not {:?}", header.alg));
                }
                DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?
            }
        };
        // Only the algorithms the key is for: a token never chooses its own verification.
        let family = key.family();
        let allowed: Vec<Algorithm> = match &self.algorithms {
            Some(list) => list.clone(),
            None => default_algorithms(family),
        };
        if !allowed.contains(&header.alg) || header.alg.family() != family {
            return Err(format!("{:?} is not accepted", header.alg));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = allowed;
        validation.leeway = self.leeway_secs;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// Re-reads the JWKS file if it changed since it was last read (looked at every
    /// `OFFGEN_JWT_JWKS_RECHECK_SECS`). A file that fails to read keeps the keys there were.
    fn refresh(&self, path: &PathBuf, state: &RwLock<JwksState>) {
        {
            let current = state
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if current.checked.elapsed() < self.recheck {
                return;
            }
        }
        let mut current = state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.checked = Instant::now();
        let read = match std::fs::read(path) {
            Ok(read) if read == current.read => return,
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "JWKS not reloaded; keeping the keys there were");
                return;
            }
        };
        match parse_jwks(&read) {
            Ok(set) => {
                tracing::info!(path = %path.display(), keys = set.keys.len(), "JWKS reloaded");
                current.set = set;
                current.read = read;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "JWKS not reloaded; keeping the keys there were");
            }
        }
    }

    /// The user id in `claims`: a string (or an integer) at the user claim.
    fn user(&self, claims: &Map<String, Value>) -> Option<String> {
        match claim(claims, &self.user_claim)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }

    /// Whether the admin claim says admin: `true`, the admin value, or a list holding it
    /// (`roles: ["admin", ...]`).
    fn claims_admin(&self, claims: &Map<String, Value>) -> bool {
        let Some(name) = &self.admin_claim else {
            return false;
        };
        match claim(claims, name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => *s == self.admin_value,
            Some(Value::Array(items)) => items
                .iter()
                .any(|i| i.as_str() == Some(self.admin_value.as_str())),
            _ => false,
        }
    }
}

impl Authenticate for Jwt {
    fn authenticate(&self, token: &str) -> Option<String> {
        self.identify(token).map(|identity| identity.user)
    }

    fn is_admin(&self, user: &str) -> bool {
        self.admins.contains(user)
    }

    fn identify(&self, token: &str) -> Option<Identity> {
        let claims = match self.verify(token) {
            Ok(claims) => claims,
            Err(why) => {
                tracing::info!(reason = %why, "bearer token refused");
                return None;
            }
        };
        let Some(user) = self.user(&claims) else {
            tracing::info!(
                claim = %self.user_claim,
                "bearer token refused: no user id in its user claim"
            );
            return None;
        };
        Some(Identity {
            admin: self.claims_admin(&claims) || self.is_admin(&user),
            user,
        })
    }
}

/// A claim by name, or by a dotted path into nested objects (`realm_access.roles`, as
/// Keycloak writes roles). A name that exists as it is wins over a path.
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// What a key of `family` accepts when `OFFGEN_JWT_ALGORITHMS` does not say.
fn default_algorithms(family: AlgorithmFamily) -> Vec<Algorithm> {
    match family {
        AlgorithmFamily::Hmac => vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
        AlgorithmFamily::Rsa => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmFamily::Ec => vec![Algorithm::ES256, Algorithm::ES384],
        AlgorithmFamily::Ed => vec![Algorithm::EdDSA],
    }
}

/// A PEM public key of any family jsonwebtoken verifies.
fn public_key(pem: &[u8]) -> Result<DecodingKey, String> {
    DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .map_err(|_| "not a PEM RSA, EC or Ed25519 public key".to_owned())
}

fn parse_jwks(read: &[u8]) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_slice(read).map_err(|e| format!("not a JWKS: {e}"))?;
    if set.keys.is_empty() {
        return Err("the JWKS holds no keys".to_owned());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "a-shared-secret-of-thirty-two-bytes!";

    fn jwt(vars: &[(&str, &str)]) -> Jwt {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Jwt::from_lookup(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .unwrap()
            .unwrap()
    }

    fn sign(claims: Value, alg: Algorithm, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn exp(from_now: i64) -> i64 {
        super::super::now_ms() / 1000 + from_now
    }

    #[test]
    fn signature_expiry_issuer_and_audience_are_checked() {
        let auth = jwt(&[
            ("OFFGEN_JWT_SECRET", SECRET),
            ("OFFGEN_JWT_ISSUER", "https://idp.example"),
            ("OFFGEN_JWT_AUDIENCE", "ranger"),
            ("OFFGEN_JWT_LEEWAY_SECS", "0"),
        ]);
        let good =
            json!({"sub": "ana", "iss": "https://idp.example", "aud": "ranger", "exp": exp(60)});
        let token = sign(good.clone(), Algorithm::HS256, SECRET);
        assert_eq!(auth.authenticate(&token).as_deref(), Some("ana"));
        for (name, bad) in [
            ("expired", json!({"exp": exp(-5)})),
            ("other issuer", json!({"iss": "https://evil.example"})),
            ("other audience", json!({"aud": "billing"})),
        ] {
            let mut claims = good.clone();
            claims
                .as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            let token = sign(claims, Algorithm::HS256, SECRET);
            assert_eq!(auth.authenticate(&token), None, "{name}");
        }
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            auth.authenticate(&sign(no_exp, Algorithm::HS256, SECRET)),
            None,
            "exp is required"
        );
        let forged = sign(
            good.clone(),
            Algorithm::HS256,
            "another-secret-of-thirty-two-bytes!!",
        );
        assert_eq!(auth.authenticate(&forged), None);
        // alg `none`: an unsigned token with a valid-looking payload.
        let unsigned = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(auth.authenticate(&unsigned), None);
    }

    /// A JWKS of HMAC keys, one per `kid`, all with the test's secret.
    fn oct_jwks(kids: &[&str]) -> String {
        // SECRET in base64url, as a JWK writes an HMAC key.
        let k = "YS1zaGFyZWQtc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXMh";
        let keys: Vec<Value> = kids
            .iter()
            .map(|kid| json!({"kty": "oct", "kid": kid, "alg": "HS256", "k": k}))
            .collect();
        json!({ "keys": keys }).to_string()
    }

    #[test]
    fn a_rotated_jwks_is_read_again_even_when_its_modification_time_did_not_change() {
        let path = std::env::temp_dir().join(format!(
            "offgen-jwks-{}-{}.json",
            std::process::id(),
            exp(0)
        ));
        std::fs::write(&path, oct_jwks(&["before"])).unwrap();
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        let auth = jwt(&[
            ("OFFGEN_JWT_JWKS_FILE", path.to_str().unwrap()),
            ("OFFGEN_JWT_JWKS_RECHECK_SECS", "0"),
        ]);
        let signed_by = |kid: &str| {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.to_owned());
            let claims = json!({"sub": "ana", "exp": exp(60)});
            encode(
                &header,
                &claims,
                &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            auth.authenticate(&signed_by("before")).as_deref(),
            Some("ana")
        );
        // The provider rotates within one tick of the file system's clock (or copies the new
        // file keeping the old time): the same mtime, other keys.
        std::fs::write(&path, oct_jwks(&["after"])).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(written)
            .unwrap();
        let rotated = auth.authenticate(&signed_by("after"));
        let retired = auth.authenticate(&signed_by("before"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(rotated.as_deref(), Some("ana"), "the new key is used");
        assert_eq!(retired, None, "the retired key is not");
    }

    #[test]
    fn the_user_and_admin_come_from_configured_claims() {
        let auth = jwt(&[
            ("OFFGEN_JWT_SECRET", SECRET),
            ("OFFGEN_JWT_USER_CLAIM", "preferred_username"),
            ("OFFGEN_JWT_ADMIN_CLAIM", "realm_access.roles"),
            ("OFFGEN_ADMINS", "carl"),
        ]);
        let token = |claims: Value| sign(claims, Algorithm::HS512, SECRET);
        let admin = token(
            json!({"sub": "x1", "preferred_username": "ana", "exp": exp(60),
                                 "realm_access": {"roles": ["ranger", "admin"]}}),
        );
        assert_eq!(
            auth.identify(&admin),
            Some(Identity {
                user: "ana".into(),
                admin: true
            })
        );
        let ranger = token(json!({"preferred_username": "ben", "exp": exp(60),
                                  "realm_access": {"roles": ["ranger"]}}));
        assert!(!auth.identify(&ranger).unwrap().admin);
        let listed = token(json!({"preferred_username": "carl", "exp": exp(60)}));
        assert!(auth.identify(&listed).unwrap().admin, "OFFGEN_ADMINS too");
        let nameless = token(json!({"sub": "x1", "exp": exp(60)}));
        assert_eq!(auth.identify(&nameless), None, "no user claim, no user");
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let refused = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Jwt::from_lookup(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
                .err()
                .unwrap()
        };
        assert!(refused(&[("OFFGEN_JWT_SECRET", "short")]).contains("32 bytes"));
        assert!(
            refused(&[
                ("OFFGEN_JWT_SECRET", SECRET),
                ("OFFGEN_JWT_PUBLIC_KEY_FILE", "/k.pem")
            ])
            .contains("only one")
        );
        assert!(
            refused(&[
                ("OFFGEN_JWT_SECRET", SECRET),
                ("OFFGEN_JWT_ALGORITHMS", "RS256")
            ])
            .contains("does not fit")
        );
        assert!(refused(&[("OFFGEN_JWT_JWKS_FILE", "/nonexistent.json")]).contains("nonexistent"));
    }
}
