//! The CDP facilitator's per-request JWT (`crate::billing::cdp`), signed by WebCrypto: the key
//! never becomes WASM code's to hold longer than one signature, and the bundle carries no signer.

use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Object, Promise, Uint8Array, JSON};
use worker::wasm_bindgen_futures::JsFuture;

use crate::billing::cdp::{compact, CdpKey, FacilitatorAuth};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        key: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign, catch)]
    fn subtle_sign(algorithm: &JsValue, key: &JsValue, data: &Uint8Array) -> Result<Promise, JsValue>;
}

/// `Authorization: Bearer …` for a POST to the facilitator's `/{endpoint}` at `now`; `None` when
/// the runtime cannot sign (the call then fails closed, as an unreachable facilitator does).
pub async fn authorization(auth: &FacilitatorAuth, endpoint: &str, now: i64) -> Option<String> {
    let nonce = super::random::random_hex(16)?;
    let input = auth.post(endpoint, now, &nonce);
    let signature = sign(&auth.credentials.key, input.as_bytes()).await?;
    Some(format!("Bearer {}", compact(&input, &signature)))
}

/// WebCrypto's signature of `message` (ECDSA P-256 gives `r || s`, the JWS form).
async fn sign(key: &CdpKey, message: &[u8]) -> Option<Vec<u8>> {
    let usages = Array::of1(&JsValue::from_str("sign"));
    let (imported, algorithm) = match key {
        CdpKey::Es256 { pkcs8 } => {
            let params = JSON::parse(r#"{"name":"ECDSA","namedCurve":"P-256"}"#).ok()?;
            let der: JsValue = Uint8Array::from(pkcs8.as_slice()).into();
            (import_key("pkcs8", &der, &params, false, &usages).ok()?, r#"{"name":"ECDSA","hash":"SHA-256"}"#)
        }
        CdpKey::Ed25519 { .. } => {
            let jwk: Object = JSON::parse(&key.ed25519_jwk()?).ok()?.into();
            let params = JSON::parse(r#"{"name":"Ed25519"}"#).ok()?;
            (import_key("jwk", &jwk, &params, false, &usages).ok()?, r#"{"name":"Ed25519"}"#)
        }
    };
    let k = JsFuture::from(imported).await.ok()?;
    let promise = subtle_sign(&JSON::parse(algorithm).ok()?, &k, &Uint8Array::from(message)).ok()?;
    let signature = JsFuture::from(promise).await.ok()?;
    Some(Uint8Array::new(&signature).to_vec())
}
