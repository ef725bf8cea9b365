//! PKCE (RFC 7636) with S256 only: OAuth 2.1 and the MCP authorization spec require it, and
//! `plain` protects nothing against a code seen in transit.

pub use mkit_kernel::pkce::s256_challenge;

use super::OAuthError;

/// The authorization request's `code_challenge` and `code_challenge_method`.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, OAuthError> {
    let challenge = challenge.ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE, S256)"))?;
    if method != Some("S256") {
        return Err(OAuthError::invalid_request("code_challenge_method must be S256"));
    }
    // A SHA-256 digest in unpadded base64url is exactly 43 characters.
    let ok = challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(OAuthError::invalid_request("code_challenge is not a base64url SHA-256 digest"));
    }
    Ok(challenge.to_owned())
}

/// The token request's `code_verifier` against the stored challenge (RFC 7636 §4.6).
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), OAuthError> {
    let v = verifier.ok_or_else(|| OAuthError::invalid_grant("code_verifier is required"))?;
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    let syntax = (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !syntax {
        return Err(OAuthError::invalid_grant("code_verifier must be 43 to 128 unreserved characters"));
    }
    if !mkit_kernel::mac::ct_eq(s256_challenge(v).as_bytes(), challenge.as_bytes()) {
        return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
    }
    Ok(())
}
