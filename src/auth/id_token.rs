//! OpenID Connect ID tokens, for mKit's own sign-in on its pay pages (OIDC Core §3.1.3.7): the
//! same signature and header rules as access tokens, then the ID token's claims — `iss`, `aud`
//! naming our web client (and `azp` when there are several audiences), the times, the `nonce`
//! we sent, and a subject.

use serde_json::{Map, Value};

use super::jwk::JwkSet;
use super::validator::{check_audience, check_issuer, check_times, subject, verified_claims, TokenError, TypRule};

pub struct IdTokenValidator<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub leeway_secs: u64,
}

impl IdTokenValidator<'_> {
    /// The signed-in user's `sub`.
    pub fn validate(&self, token: &str, keys: &JwkSet, now_secs: u64, nonce: &str) -> Result<String, TokenError> {
        let claims = self.validate_claims(token, keys, now_secs, nonce)?;
        Ok(subject(&claims)?.to_owned())
    }

    /// Every claim of a valid ID token (which has a subject).
    pub fn validate_claims(
        &self,
        token: &str,
        keys: &JwkSet,
        now_secs: u64,
        nonce: &str,
    ) -> Result<Map<String, Value>, TokenError> {
        let claims = verified_claims(token, keys, TypRule::IdToken)?;
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
