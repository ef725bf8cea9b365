//! Randomness on Workers (`crypto.getRandomValues`, through getrandom's "js" feature): the one
//! place ids, codes, tokens and nonces come from.

/// `bytes` random bytes as unpadded base64url; `None` if the runtime gave none.
pub(crate) fn random_token(bytes: usize) -> Option<String> {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    getrandom02::getrandom(&mut buf).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// `bytes` random bytes as lowercase hex (a CDP JWT's nonce); `None` if the runtime gave none.
#[cfg(feature = "billing")]
pub(crate) fn random_hex(bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes];
    getrandom02::getrandom(&mut buf).ok()?;
    Some(buf.iter().map(|b| format!("{b:02x}")).collect())
}
