//! Machine clients: the MCP extension `io.modelcontextprotocol/oauth-client-credentials`, the
//! client credentials grant (OAuth 2.1 §4.2) for clients an operator registered out of band
//! (`make client-create`), with no user present. A client authenticates with a JWT assertion
//! (RFC 7523 §2.2, `private_key_jwt`, recommended) or a client secret (OAuth 2.1 §2.4.1), which
//! is stored only as its SHA-256. Pure: the edge fetches the client's keys, checks the
//! assertion's signature and keeps the replay cache in D1 (`store`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::grant::secret_hash;
use crate::OAuthError;

/// The extension's identifier, announced in `initialize` and `server/discover`.
pub const EXTENSION: &str = "io.modelcontextprotocol/oauth-client-credentials";
/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live (`exp` past now): a captured one is worthless soon after.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;
/// Every machine client's id starts so; people's subjects never may (`reserved_subject`).
pub const CLIENT_ID_PREFIX: &str = "mkit_m_";
const MAX_JTI_BYTES: usize = 256;

/// A registered machine client, as its row in `machine_clients` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineClient {
    /// Its `client_id`, which is also the `sub` of its tokens.
    pub client_id: String,
    /// What the operator named it.
    pub name: String,
    /// The scopes it may be granted.
    pub scopes: Vec<String>,
    /// How it proves who it is.
    pub credential: Credential,
    /// Set once revoked: nothing is issued to it again.
    pub revoked: bool,
}

/// A machine client's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret, as its hex SHA-256.
    Secret(String),
    /// A JWK Set URL the client publishes its keys at.
    JwksUri(String),
    /// One public key, a JWK Set document stored with the client.
    Keys(String),
}

/// How a token request authenticates its client (RFC 6749 §2.3: exactly one way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_assertion`: a JWT whose `iss` and `sub` name the client.
    Assertion(String),
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        /// The client it names.
        client_id: String,
        /// The secret presented.
        secret: String,
    },
}

/// The client authentication of a token request: the form's parameters (read by `param`) and
/// the `Authorization: Basic` credentials, if any.
pub fn client_auth(
    param: impl Fn(&str) -> Option<String>,
    basic: Option<(String, String)>,
) -> Result<ClientAuth, OAuthError> {
    let assertion = param("client_assertion");
    let secret = param("client_secret");
    let methods = [assertion.is_some(), secret.is_some(), basic.is_some()].iter().filter(|m| **m).count();
    if methods > 1 {
        return Err(OAuthError::invalid_request("use exactly one client authentication method"));
    }
    if let Some(jwt) = assertion {
        if param("client_assertion_type").as_deref() != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(format!("client_assertion_type must be {ASSERTION_TYPE}")));
        }
        return Ok(ClientAuth::Assertion(jwt));
    }
    match (basic, secret, param("client_id")) {
        (Some((client_id, secret)), _, _) => Ok(ClientAuth::Secret { client_id, secret }),
        (None, Some(secret), Some(client_id)) => Ok(ClientAuth::Secret { client_id, secret }),
        _ => Err(OAuthError::invalid_client("this grant needs client authentication: a client assertion or secret")),
    }
}

/// The client an assertion claims to be (its `sub`), read before its signature is checked, only
/// to find the keys to check it with.
pub fn assertion_client(jwt: &str) -> Result<String, OAuthError> {
    let bad = || OAuthError::invalid_client("client_assertion is not a JWT naming its client in sub");
    let claims = unverified_claims(jwt).ok_or_else(bad)?;
    claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(bad)
}

/// A compact JWS's claims, unverified: only to choose the keys that will verify it.
pub fn unverified_claims(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// A verified assertion's `jti` and `exp`, for the replay cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's unique id.
    pub jti: String,
    /// When it expires; the replay cache keeps its `jti` until then.
    pub exp: u64,
}

/// RFC 7523 §3 on an assertion whose signature verified: `iss` and `sub` are the client, `aud`
/// is this authorization server — its issuer identifier (RFC 7523bis, what the official SDKs
/// send) or its token endpoint (RFC 7523) — as one string, `exp` is near, and `jti` is present.
pub fn check_assertion(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[&str],
    now: u64,
) -> Result<Assertion, OAuthError> {
    let refuse = |why: &str| Err(OAuthError::invalid_client(format!("client_assertion refused: {why}")));
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let time = |k: &str| claims.get(k).and_then(Value::as_u64);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return refuse("iss and sub must both be the client_id");
    }
    if !text("aud").is_some_and(|a| audiences.contains(&a)) {
        return refuse("aud must be this authorization server's issuer identifier");
    }
    let Some(exp) = time("exp") else { return refuse("exp is required") };
    if exp + LEEWAY_SECS <= now {
        return refuse("it has expired");
    }
    if exp > now + MAX_ASSERTION_LIFETIME_SECS + LEEWAY_SECS {
        return refuse("exp is more than 5 minutes away");
    }
    if time("nbf").is_some_and(|t| t > now + LEEWAY_SECS) || time("iat").is_some_and(|t| t > now + LEEWAY_SECS) {
        return refuse("it is not valid yet");
    }
    match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_BYTES => Ok(Assertion { jti: jti.to_owned(), exp }),
        _ => refuse("jti is required (at most 256 bytes)"),
    }
}

/// Whether `presented` is the secret whose SHA-256 is `stored` (compared in constant time).
pub fn secret_matches(stored: &str, presented: &str) -> bool {
    mkit_kernel::mac::ct_eq(secret_hash(presented).as_bytes(), stored.as_bytes())
}

/// The scopes to grant: those requested that are registered to the client (RFC 6749 §3.3 lets
/// the server narrow a request, and the token response names what was granted; the official SDKs
/// ask for everything the resource lists), else every registered one. A request of which nothing
/// is registered is refused.
pub fn granted_scope(requested: Option<&str>, registered: &[String]) -> Result<String, OAuthError> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else { return Ok(registered.join(" ")) };
    let mut out: Vec<&str> = Vec::new();
    for s in requested.split_whitespace().filter(|s| registered.iter().any(|r| r == s)) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(OAuthError::invalid_scope(format!("none of the scopes {requested} is registered to this client")));
    }
    Ok(out.join(" "))
}

/// Whether a person's subject would pass for a machine client's: such a sign-in is refused.
pub fn reserved_subject(sub: &str) -> bool {
    sub.starts_with(CLIENT_ID_PREFIX)
}
