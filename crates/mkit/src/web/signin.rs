//! mKit as an OpenID Connect client of `OAUTH_ISSUER`, for its pay pages: authorization code
//! with PKCE (S256), `state` bound to a sealed `HttpOnly` cookie, a `nonce` checked in the ID
//! token, and a sealed session cookie naming the signed-in subject.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::form::{encode, encode_component};
use crate::auth::claims::{email_verified, is_email_claim};
use crate::seal::{self, SealError};

/// The redirect path registered with the issuer for the web client.
pub const CALLBACK_PATH: &str = "/billing/callback";
pub const SIGNIN_TTL_SECS: u64 = 10 * 60;
pub const SESSION_TTL_SECS: u64 = 60 * 60;

/// A sign-in in progress, kept in the sign-in cookie until the issuer sends the browser back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go once signed in: a `/billing/…` path, or `/oauth/authorize?…`, with its query.
    pub return_to: String,
}

impl Pending {
    /// From 96 random bytes: state, nonce and the PKCE verifier (43 characters each).
    pub fn new(random: &[u8; 96], return_to: &str) -> Pending {
        let part = |r: &[u8]| URL_SAFE_NO_PAD.encode(r);
        Pending {
            state: part(&random[..32]),
            nonce: part(&random[32..64]),
            verifier: part(&random[64..]),
            return_to: return_to.to_owned(),
        }
    }

    pub fn seal(&self, key: &[u8; 32], issuer: &str, now_secs: u64) -> String {
        let v = json!({ "s": self.state, "n": self.nonce, "v": self.verifier, "r": self.return_to });
        seal::seal(key, &["web-signin", issuer], &v, now_secs + SIGNIN_TTL_SECS)
    }

    pub fn open(keys: &[[u8; 32]], issuer: &str, cookie: &str, now_secs: u64) -> Result<Pending, SealError> {
        let v = seal::open(keys, &["web-signin", issuer], cookie, now_secs)?;
        let f = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(SealError::Integrity);
        let return_to = f("r")?;
        if !return_to.starts_with("/billing/") && !return_to.starts_with("/oauth/authorize?") {
            return Err(SealError::Integrity);
        }
        Ok(Pending { state: f("s")?, nonce: f("n")?, verifier: f("v")?, return_to })
    }

    /// The issuer's authorization URL for this sign-in; `scope` from `signin_scope`.
    pub fn authorization_url(
        &self,
        authorization_endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
    ) -> String {
        let challenge = mkit_kernel::pkce::s256_challenge(&self.verifier);
        let params = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        let query: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let sep = if authorization_endpoint.contains('?') { '&' } else { '?' };
        format!("{authorization_endpoint}{sep}{}", encode(&query))
    }

    /// The token request body (RFC 6749 §4.1.3 with RFC 7636's verifier).
    pub fn token_request(&self, code: &str, redirect_uri: &str) -> String {
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &self.verifier),
        ];
        encode(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>())
    }
}

/// `client_secret_basic` (RFC 6749 §2.3.1: each part form-encoded first).
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let raw = format!("{}:{}", encode_component(client_id), encode_component(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The session cookie's value for a signed-in `sub`.
pub fn seal_session(key: &[u8; 32], issuer: &str, sub: &str, now_secs: u64) -> String {
    seal::seal(key, &["web-session", issuer], &json!({ "sub": sub }), now_secs + SESSION_TTL_SECS)
}

/// Who a session cookie names in authorization-server mode: the subject, the upstream claims it
/// passes on (`carried_claims`), and the scopes the deployment's rules give it
/// (`oauth::scope_policy::eligible_scopes`, decided at sign-in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub claims: Map<String, Value>,
    pub scopes: Vec<String>,
}

/// A session that carries an identity; `open_session` reads its subject like any other.
pub fn seal_identity(key: &[u8; 32], issuer: &str, id: &Identity, now_secs: u64) -> String {
    let v = json!({ "sub": id.sub, "c": id.claims, "g": id.scopes });
    seal::seal(key, &["web-session", issuer], &v, now_secs + SESSION_TTL_SECS)
}

/// The identity of a session cookie, if it is ours and current.
pub fn open_identity(keys: &[[u8; 32]], issuer: &str, cookie: &str, now_secs: u64) -> Option<Identity> {
    let v = seal::open(keys, &["web-session", issuer], cookie, now_secs).ok()?;
    let sub = v.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty())?.to_owned();
    let claims = v.get("c").and_then(Value::as_object).cloned().unwrap_or_default();
    let scopes =
        v.get("g").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    Some(Identity { sub, claims, scopes: scopes.unwrap_or_default() })
}

/// Claims an access token sets itself: never copied from the upstream identity.
const RESERVED: [&str; 13] =
    ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "azp", "nonce", "at_hash", "c_hash"];
/// The most bytes of carried claims (JSON), so the session cookie stays small.
pub const MAX_CARRIED_BYTES: usize = 1024;

/// The ID token claims named in `MKIT_AUTH_CLAIMS`, in that order, while they fit in
/// `MAX_CARRIED_BYTES`; reserved names are never carried.
pub fn carried_claims(id_token: &Map<String, Value>, names: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut size = 2;
    for name in names.iter().filter(|n| !RESERVED.contains(&n.as_str())) {
        let Some(v) = id_token.get(name) else { continue };
        let cost = name.len() + v.to_string().len() + 4;
        if size + cost <= MAX_CARRIED_BYTES {
            size += cost;
            out.insert(name.clone(), v.clone());
        }
    }
    out
}

/// Why an ID token names no user mKit may trust, as a log code.
pub type SubjectRefusal = &'static str;

/// The prefix of machine clients' ids, which are their tokens' subjects.
pub const MACHINE_SUBJECT_PREFIX: &str = "mkit_m_";

/// The user an ID token names: the `subject_claim` (`sub`, or e.g. `email` in authorization-server
/// mode). An address is an identity only once the provider says it verified it: a claim named like
/// an e-mail needs `email_verified: true` (a bool, or the string some providers send), unless the
/// operator trusts this provider's addresses (`MKIT_AUTH_TRUST_UNVERIFIED_EMAIL`). Without it, a
/// provider with self-service sign-up would let anyone register a victim's address and become them.
pub fn subject_of<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    subject_claim: &str,
    trust_unverified_email: bool,
) -> Result<&'a str, SubjectRefusal> {
    let subject = claims.get(subject_claim).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
    let subject = subject.ok_or("signin_subject_missing")?;
    // Machine clients' ids are their tokens' `sub` (`oauth::machine::CLIENT_ID_PREFIX`): no
    // person may sign in as one and inherit what the ledger grants it.
    if subject.starts_with(MACHINE_SUBJECT_PREFIX) {
        return Err("signin_subject_reserved");
    }
    if is_email_claim(subject_claim) && !trust_unverified_email && !email_verified(claims) {
        return Err("signin_email_unverified");
    }
    Ok(subject)
}

/// The sign-in's scope: `openid`, plus the standard scopes (OIDC Core §5.4) that release the
/// claims to carry; a provider's own claims (`groups`, …) come from its client configuration.
pub fn signin_scope<'a>(claims: impl IntoIterator<Item = &'a String>) -> String {
    let mut scope = vec!["openid"];
    for c in claims {
        let s = match c.as_str() {
            "email" | "email_verified" => "email",
            "name" | "given_name" | "family_name" | "middle_name" | "nickname" | "preferred_username" | "profile"
            | "picture" | "website" | "gender" | "birthdate" | "zoneinfo" | "locale" | "updated_at" => "profile",
            "phone_number" | "phone_number_verified" => "phone",
            "address" => "address",
            _ => continue,
        };
        if !scope.contains(&s) {
            scope.push(s);
        }
    }
    scope.join(" ")
}

/// The signed-in subject of a session cookie, if it is ours and current.
pub fn open_session(keys: &[[u8; 32]], issuer: &str, cookie: &str, now_secs: u64) -> Option<String> {
    let v = seal::open(keys, &["web-session", issuer], cookie, now_secs).ok()?;
    v.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::form::query_param;

    const KEY: [u8; 32] = [4; 32];
    const ISS: &str = "https://issuer/";
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn pkce_state_and_nonce_travel_the_right_ways() {
        let mut random = [0u8; 96];
        random.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let p = Pending::new(&random, "/billing/checkout?t=x");
        assert!(p.state != p.nonce && p.nonce != p.verifier);
        let url = p.authorization_url("https://issuer/auth", "web", "https://mkit/billing/callback", "openid");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(query_param(query, "state").as_deref(), Some(p.state.as_str()));
        assert_eq!(query_param(query, "code_challenge_method").as_deref(), Some("S256"));
        // RFC 7636 Appendix B's example: this verifier's S256 challenge.
        let b = Pending { verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(), ..p.clone() };
        let url = b.authorization_url("https://issuer/auth", "web", "https://mkit/billing/callback", "openid");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(
            query_param(query, "code_challenge").as_deref(),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert!(!url.contains(&p.verifier), "the verifier never leaves the cookie");
        let body = p.token_request("c0de", "https://mkit/billing/callback");
        assert_eq!(query_param(&body, "code_verifier").as_deref(), Some(p.verifier.as_str()));
        assert_eq!(basic_auth("web", "s e"), "Basic d2ViOnMlMjBl");
    }

    #[test]
    fn the_sign_in_cookie_opens_once_and_only_for_billing_paths() {
        let p = Pending::new(&[1; 96], "/billing/portal?t=y");
        let c = p.seal(&KEY, ISS, NOW);
        assert_eq!(Pending::open(&[KEY], ISS, &c, NOW + 1), Ok(p));
        assert_eq!(Pending::open(&[KEY], ISS, &c, NOW + SIGNIN_TTL_SECS), Err(SealError::Expired));
        let away = Pending::new(&[1; 96], "https://evil.example/").seal(&KEY, ISS, NOW);
        assert_eq!(Pending::open(&[KEY], ISS, &away, NOW), Err(SealError::Integrity), "no open redirect");
    }

    #[test]
    fn sessions() {
        let c = seal_session(&KEY, ISS, "alice", NOW);
        assert_eq!(open_session(&[KEY], ISS, &c, NOW + 10).as_deref(), Some("alice"));
        assert_eq!(open_session(&[KEY], "https://other/", &c, NOW), None);
        assert_eq!(open_session(&[KEY], ISS, &c, NOW + SESSION_TTL_SECS), None);
        assert_eq!(open_session(&[[0; 32]], ISS, &c, NOW), None);
    }

    #[test]
    fn identities_carry_only_named_unreserved_claims_within_the_cap() {
        let id_token = json!({ "sub": "ada", "iss": "https://issuer/", "email": "ada@example.com", "groups": ["eng"],
            "aud": "web", "big": "x".repeat(2000) });
        let names: Vec<String> = ["email", "sub", "aud", "groups", "missing", "big"].map(String::from).to_vec();
        let carried = carried_claims(id_token.as_object().expect("object"), &names);
        assert_eq!(Value::Object(carried.clone()), json!({ "email": "ada@example.com", "groups": ["eng"] }));
        let id = Identity { sub: "ada".into(), claims: carried, scopes: vec!["admin".into()] };
        let c = seal_identity(&KEY, ISS, &id, NOW);
        assert_eq!(open_identity(&[KEY], ISS, &c, NOW), Some(id));
        assert_eq!(open_session(&[KEY], ISS, &c, NOW).as_deref(), Some("ada"), "the pay pages read it as any session");
        let plain = seal_session(&KEY, ISS, "bob", NOW);
        assert_eq!(
            open_identity(&[KEY], ISS, &plain, NOW),
            Some(Identity { sub: "bob".into(), ..Identity::default() })
        );
        assert_eq!(signin_scope(&Vec::<String>::new()), "openid");
        let names: Vec<String> = ["email", "name", "groups", "email_verified", "locale"].map(String::from).to_vec();
        assert_eq!(signin_scope(&names), "openid email profile");
    }

    #[test]
    fn an_email_is_an_identity_only_when_verified() {
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let verified = claims(serde_json::json!({"sub": "u1", "email": "a@x.test", "email_verified": true}));
        let as_text = claims(serde_json::json!({"sub": "u1", "email": "a@x.test", "email_verified": "true"}));
        let unverified = claims(serde_json::json!({"sub": "u1", "email": "a@x.test", "email_verified": false}));
        let silent = claims(serde_json::json!({"sub": "u1", "email": "a@x.test"}));
        assert_eq!(subject_of(&verified, "email", false), Ok("a@x.test"));
        assert_eq!(subject_of(&as_text, "email", false), Ok("a@x.test"), "Cognito sends a string");
        assert_eq!(subject_of(&unverified, "email", false), Err("signin_email_unverified"));
        assert_eq!(subject_of(&silent, "email", false), Err("signin_email_unverified"));
        let work = claims(serde_json::json!({"Work_Email": "a@x.test"}));
        assert_eq!(subject_of(&work, "Work_Email", false), Err("signin_email_unverified"), "any case");
        assert_eq!(subject_of(&silent, "email", true), Ok("a@x.test"), "the operator trusts this provider");
        assert_eq!(subject_of(&unverified, "sub", false), Ok("u1"), "sub needs no proof");
        assert_eq!(subject_of(&silent, "oid", false), Err("signin_subject_missing"));
        let mail = claims(serde_json::json!({"mail": "a@x.test"}));
        assert_eq!(subject_of(&mail, "mail", false), Err("signin_email_unverified"), "named like an address");
        let machine = claims(serde_json::json!({"sub": "mkit_m_abc"}));
        assert_eq!(subject_of(&machine, "sub", false), Err("signin_subject_reserved"), "a machine client's subject");
    }
}
