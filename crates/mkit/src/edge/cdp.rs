//! The CDP facilitator's per-request JWT (`crate::billing::cdp`), signed by WebCrypto (BoringSSL
//! in the runtime), so the bundle carries no ECDSA or Ed25519 signer of its own.

use wasm_bindgen::JsValue;
use worker::js_sys::{Uint8Array, JSON};

use super::webcrypto;
use crate::billing::cdp::{compact, CdpKey, FacilitatorAuth};

/// `Authorization: Bearer …` for a POST to the facilitator's `/{endpoint}` at `now`; `None` when
/// the runtime cannot sign (the call then fails closed, as an unreachable facilitator does).
pub async fn authorization(auth: &FacilitatorAuth, endpoint: &str, now: i64) -> Option<String> {
    let nonce = super::random::random_hex(16)?;
    let input = auth.post(endpoint, now, &nonce);
    let signature = sign(&auth.credentials.key, input.as_bytes()).await?;
    Some(format!("Bearer {}", compact(&input, &signature)))
}

/// The key's signature of `message` (ES256: PKCS#8 DER; EdDSA: the private JWK).
async fn sign(key: &CdpKey, message: &[u8]) -> Option<Vec<u8>> {
    match key {
        CdpKey::Es256 { pkcs8 } => {
            let der: JsValue = Uint8Array::from(pkcs8.as_slice()).into();
            let (import, algorithm) =
                (r#"{"name":"ECDSA","namedCurve":"P-256"}"#, r#"{"name":"ECDSA","hash":"SHA-256"}"#);
            webcrypto::sign("pkcs8", &der, import, algorithm, message).await
        }
        CdpKey::Ed25519 { .. } => {
            let jwk = JSON::parse(&key.ed25519_jwk()?).ok()?;
            webcrypto::sign("jwk", &jwk, r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#, message).await
        }
    }
}
