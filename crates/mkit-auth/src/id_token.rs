//! OpenID Connect ID tokens, for mKit's own sign-in on its pay pages (OIDC Core §3.1.3.7): the
//! same signature and header rules as access tokens, then the ID token's claims — `iss`, `aud`
//! naming our web client (and `azp` when there are several audiences), the times, the `nonce`
//! we sent, and a subject.

use serde_json::{Map, Value};

#[cfg(not(target_arch = "wasm32"))]
use super::jwk::JwkSet;
#[cfg(not(target_arch = "wasm32"))]
use super::jws::{verified_claims, TypRule};
use super::validator::{check_audience, check_issuer, check_times, subject, TokenError};

/// The rules an ID token from the operator's OpenID provider must meet for mKit's own web client.
pub struct IdTokenValidator<'a> {
    /// The expected `iss`, compared exactly.
    pub issuer: &'a str,
    /// mKit's web client: the `aud` required (and the `azp` when there are several audiences).
    pub client_id: &'a str,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, at most `MAX_LEEWAY_SECS`.
    pub leeway_secs: u64,
}

impl IdTokenValidator<'_> {
    /// The signed-in user's `sub`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn validate(&self, token: &str, keys: &JwkSet, now_secs: u64, nonce: &str) -> Result<String, TokenError> {
        let claims = self.validate_claims(token, keys, now_secs, nonce)?;
        Ok(subject(&claims)?.to_owned())
    }

    /// Every claim of a valid ID token (which has a subject).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn validate_claims(
        &self,
        token: &str,
        keys: &JwkSet,
        now_secs: u64,
        nonce: &str,
    ) -> Result<Map<String, Value>, TokenError> {
        self.check_claims(verified_claims(token, keys, TypRule::IdToken)?, now_secs, nonce)
    }

    /// The claims of an ID token whose signature verified (OIDC Core §3.1.3.7).
    pub fn check_claims(
        &self,
        claims: Map<String, Value>,
        now_secs: u64,
        nonce: &str,
    ) -> Result<Map<String, Value>, TokenError> {
        check_issuer(&claims, self.issuer)?;
        check_audience(&claims, &[self.client_id.to_owned()])?;
        let several = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
        if several && claims.get("azp").and_then(Value::as_str) != Some(self.client_id) {
            return Err(TokenError::WrongAudience);
        }
        check_times(&claims, now_secs, self.leeway_secs)?;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(TokenError::MissingClaim("nonce"));
        }
        subject(&claims)?;
        Ok(claims)
    }
}
