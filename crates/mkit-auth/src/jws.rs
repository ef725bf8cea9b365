//! Compact JWS (RFC 7515) under RFC 8725's rules: the parts decoded, the header checked, the
//! keys that may verify it picked. The signature check itself is `auth::signature` natively and
//! `edge::webcrypto` on Workers; the claims are `validator`'s and `id_token`'s.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::json::parse_strict;
use super::jwk::{Alg, JwkSet, PublicKey, B64URL};
use super::validator::{TokenError, MAX_TOKEN_BYTES};

/// The parts of a compact JWS, decoded but not yet trusted.
struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input_len: usize,
    signature: Vec<u8>,
}

fn decode_json_part(part: &str, what: &'static str) -> Result<Map<String, Value>, TokenError> {
    let bytes = B64URL.decode(part).map_err(|_| TokenError::Malformed(what))?;
    match parse_strict(&bytes).map_err(|_| TokenError::Malformed(what))? {
        Value::Object(m) => Ok(m),
        _ => Err(TokenError::Malformed(what)),
    }
}

fn split(token: &str) -> Result<Parts, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(TokenError::Malformed("compact JWS has three parts"));
    };
    if s.is_empty() {
        return Err(TokenError::Malformed("signature"));
    }
    Ok(Parts {
        header: decode_json_part(h, "header")?,
        claims: decode_json_part(c, "claims")?,
        signing_input_len: h.len() + 1 + c.len(),
        signature: B64URL.decode(s).map_err(|_| TokenError::Malformed("signature"))?,
    })
}

/// Which `typ` a token may carry (RFC 8725 §3.11: explicit typing keeps token kinds apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypRule {
    /// `at+jwt` (RFC 9068); `JWT` or none too when the issuer does not type its tokens.
    AccessToken {
        /// Whether `JWT`, or no `typ`, is accepted too.
        accept_jwt: bool,
    },
    /// An OpenID Connect ID token: `JWT` or none, never `at+jwt`. Also an RFC 7523 client
    /// assertion, which has no type of its own.
    IdToken,
    /// An Identity Assertion JWT Authorization Grant: `oauth-id-jag+jwt` only (RFC 8725 §3.11).
    IdJag,
    /// An RFC 7523 client assertion: `JWT`, none, or RFC 7523bis's `client-authentication+jwt`;
    /// never an access token's or an ID-JAG's type.
    ClientAssertion,
}

impl TypRule {
    fn allows(self, typ: Option<&str>) -> bool {
        // RFC 7515 §4.1.9: the `application/` prefix of a media type may be left out.
        match (self, typ.map(|t| t.strip_prefix("application/").unwrap_or(t))) {
            (TypRule::AccessToken { .. }, Some("at+jwt")) => true,
            (TypRule::AccessToken { accept_jwt }, Some("jwt") | None) => accept_jwt,
            (TypRule::IdToken, Some("jwt") | None) => true,
            (TypRule::IdJag, Some("oauth-id-jag+jwt")) => true,
            (TypRule::ClientAssertion, Some("jwt" | "client-authentication+jwt") | None) => true,
            _ => false,
        }
    }
}

/// A compact JWS whose header follows the rules, with the keys that may verify it; its
/// signature is not checked yet (`verify` natively, `edge::webcrypto` on Workers) and nothing
/// about its claims either.
pub struct Signed<'t, 'k> {
    /// The header's `alg`.
    pub alg: Alg,
    /// The keys that may verify the signature (by `kid`, and fitting `alg`).
    pub keys: Vec<&'k PublicKey>,
    /// The signing input: `header.claims` as sent.
    pub message: &'t [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
    claims: Map<String, Value>,
}

impl Signed<'_, '_> {
    /// The claims, once one of `keys` verified the signature.
    pub fn claims_if(self, verified: bool) -> Result<Map<String, Value>, TokenError> {
        verified.then_some(self.claims).ok_or(TokenError::BadSignature)
    }

    /// Checks the signature with the crates (`auth::signature`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn verify(self) -> Result<Map<String, Value>, TokenError> {
        let ok =
            self.keys.iter().any(|k| super::signature::verify_signature(self.alg, k, self.message, &self.signature));
        self.claims_if(ok)
    }
}

/// Reads a compact JWS and picks the keys that may verify it, under RFC 8725's header rules.
pub fn signed<'t, 'k>(token: &'t str, keys: &'k JwkSet, typ_rule: TypRule) -> Result<Signed<'t, 'k>, TokenError> {
    let parts = split(token)?;
    let header = &parts.header;
    let alg = header.get("alg").and_then(Value::as_str).and_then(Alg::parse).ok_or(TokenError::UnsupportedAlg)?;
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.to_ascii_lowercase()),
        Some(_) => return Err(TokenError::Malformed("typ")),
    };
    if !typ_rule.allows(typ.as_deref()) {
        return Err(TokenError::WrongType);
    }
    // jku, x5u, jwk and x5c are never consulted: keys come only from the configured JWKS.
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(TokenError::Malformed("kid")),
    };
    let candidates: Vec<_> = match kid {
        Some(k) => keys.keys.iter().filter(|e| e.kid.as_deref() == Some(k)).collect(),
        None => keys.keys.iter().filter(|e| e.allows(alg)).collect(),
    };
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    let fitting: Vec<_> = candidates.into_iter().filter(|e| e.allows(alg)).map(|e| &e.key).collect();
    if fitting.is_empty() {
        return Err(TokenError::KeyMismatch);
    }
    let Parts { claims, signing_input_len, signature, .. } = parts;
    Ok(Signed { alg, keys: fitting, message: &token.as_bytes()[..signing_input_len], signature, claims })
}

/// The claims of a compact JWS whose header follows the rules and whose signature one of
/// `keys` verifies; nothing about the claims is checked yet.
#[cfg(not(target_arch = "wasm32"))]
pub fn verified_claims(token: &str, keys: &JwkSet, typ_rule: TypRule) -> Result<Map<String, Value>, TokenError> {
    signed(token, keys, typ_rule)?.verify()
}

#[cfg(test)]
mod typ_tests {
    use super::TypRule;

    /// Each kind of JWT is told apart by its `typ` (RFC 8725 §3.11): an ID-JAG only as
    /// `oauth-id-jag+jwt`, which no other rule takes.
    #[test]
    fn each_rule_takes_its_own_types_only() {
        let jag = TypRule::IdJag;
        assert!(jag.allows(Some("oauth-id-jag+jwt")) && jag.allows(Some("application/oauth-id-jag+jwt")));
        assert!(!jag.allows(Some("jwt")) && !jag.allows(None) && !jag.allows(Some("at+jwt")));
        assert!(!TypRule::IdToken.allows(Some("oauth-id-jag+jwt")));
        assert!(!TypRule::AccessToken { accept_jwt: true }.allows(Some("oauth-id-jag+jwt")));
        let client = TypRule::ClientAssertion;
        assert!(client.allows(None) && client.allows(Some("jwt")) && client.allows(Some("client-authentication+jwt")));
        assert!(!client.allows(Some("at+jwt")) && !client.allows(Some("oauth-id-jag+jwt")));
    }
}
