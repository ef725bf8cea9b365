//! JWS signature checks through workerd's WebCrypto (`crypto.subtle`, BoringSSL in the runtime)
//! rather than RSA, ECDSA and Ed25519 compiled to WASM: `make bench` measured a token cache
//! miss 7 to 14 times dearer through the crates, and the bundle carries none of their code.
//! Header and key rules stay in `crate::auth`; only the signature check crosses to JS.

use std::cell::RefCell;

use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Promise, Uint8Array, JSON};
use worker::wasm_bindgen_futures::JsFuture;

use crate::auth::jwk::{Alg, JwkSet, PublicKey};
use crate::auth::jws::{signed, TypRule};
use crate::auth::validator::TokenError;

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
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

/// Imported keys are few (an issuer publishes a handful); past this the map starts over.
const MAX_IMPORTED: usize = 64;

use super::state::ImportedKeys;

/// WebCrypto's parameters for a JWS algorithm (RFC 7518 §3): (import, verify).
pub fn params(alg: Alg) -> (&'static str, &'static str) {
    const PKCS1: &str = r#"{"name":"RSASSA-PKCS1-v1_5"}"#;
    match alg {
        Alg::Rs256 => (r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#, PKCS1),
        Alg::Rs384 => (r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-384"}"#, PKCS1),
        Alg::Rs512 => (r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-512"}"#, PKCS1),
        // RFC 7518 §3.5: MGF1 with the same hash, a salt as long as the hash.
        Alg::Ps256 => (r#"{"name":"RSA-PSS","hash":"SHA-256"}"#, r#"{"name":"RSA-PSS","saltLength":32}"#),
        Alg::Ps384 => (r#"{"name":"RSA-PSS","hash":"SHA-384"}"#, r#"{"name":"RSA-PSS","saltLength":48}"#),
        Alg::Ps512 => (r#"{"name":"RSA-PSS","hash":"SHA-512"}"#, r#"{"name":"RSA-PSS","saltLength":64}"#),
        Alg::Es256 => (r#"{"name":"ECDSA","namedCurve":"P-256"}"#, r#"{"name":"ECDSA","hash":"SHA-256"}"#),
        Alg::EdDsa => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
    }
}

/// The key imported for `alg`, once per isolate; `None` when WebCrypto refuses it.
async fn imported(kept: &RefCell<ImportedKeys>, alg: Alg, key: &PublicKey) -> Option<JsValue> {
    let id = (alg, key.jwk());
    if let Some(k) = kept.borrow().get(&id).cloned() {
        return Some(k);
    }
    let jwk = JSON::parse(&id.1).ok()?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = import_key("jwk", &jwk, &JSON::parse(params(alg).0).ok()?, false, &usages).ok()?;
    let k = JsFuture::from(promise).await.ok()?;
    let mut m = kept.borrow_mut();
    if m.len() >= MAX_IMPORTED {
        m.clear();
    }
    m.insert(id, k.clone());
    Some(k)
}

/// Whether `signature` is `alg` over `message` by `key`. A key WebCrypto will not import, or a
/// rejected promise, is a failed check, never an error.
pub async fn verify(kept: &RefCell<ImportedKeys>, alg: Alg, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Some(k) = imported(kept, alg, key).await else {
        return false;
    };
    let Ok(algorithm) = JSON::parse(params(alg).1) else {
        return false;
    };
    match subtle_verify(&algorithm, &k, &Uint8Array::from(signature), &Uint8Array::from(message)) {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_bool()).unwrap_or(false),
        Err(_) => false,
    }
}

/// WebCrypto's signature of `message` by a private key it imports from `format` (`pkcs8`, `jwk`)
/// with `import` parameters, signing with `algorithm` (both JSON); `None` when it refuses either.
/// ECDSA's signature is `r || s`, the JWS form.
#[cfg(feature = "billing")]
pub async fn sign(format: &str, key: &JsValue, import: &str, algorithm: &str, message: &[u8]) -> Option<Vec<u8>> {
    let usages = Array::of1(&JsValue::from_str("sign"));
    let imported = import_key(format, key, &JSON::parse(import).ok()?, false, &usages).ok()?;
    let k = JsFuture::from(imported).await.ok()?;
    let promise = subtle_sign(&JSON::parse(algorithm).ok()?, &k, &Uint8Array::from(message)).ok()?;
    Some(Uint8Array::new(&JsFuture::from(promise).await.ok()?).to_vec())
}

/// `auth::jws::verified_claims`, with the signature checked by WebCrypto.
pub async fn verified_claims(
    kept: &RefCell<ImportedKeys>,
    token: &str,
    keys: &JwkSet,
    rule: TypRule,
) -> Result<Map<String, Value>, TokenError> {
    let s = signed(token, keys, rule)?;
    let mut ok = false;
    for key in &s.keys {
        if verify(kept, s.alg, key, s.message, &s.signature).await {
            ok = true;
            break;
        }
    }
    s.claims_if(ok)
}

/// Test-only (`fixtures` builds): each case `{alg, jwk, msg, sig}` (base64url) of the body
/// checked the way a token's signature is — `parse_jwk`, then `verify` — answering `true`,
/// `false`, or `"refused"` for a JWK that is not taken. tests/e2e/wycheproof.test.mjs feeds it
/// the Wycheproof vectors.
#[cfg(feature = "fixtures")]
pub async fn fixture_verify(mut req: worker::Request, iso: &super::isolate::Isolate) -> crate::http::HttpReply {
    use crate::auth::jwk::{parse_jwk, B64URL};
    use crate::http::HttpReply;
    use base64::Engine as _;

    let Ok(body) = super::body::read_capped(&mut req, 4 << 20).await else {
        return HttpReply::error(413, "payload_too_large");
    };
    let Ok(Value::Array(cases)) = serde_json::from_slice::<Value>(&body) else {
        return HttpReply::error(400, "invalid_request");
    };
    let mut verdicts = Vec::with_capacity(cases.len());
    for case in &cases {
        let field = |k: &str| case.get(k).and_then(Value::as_str).and_then(|s| B64URL.decode(s).ok());
        let (Some(alg), Some(msg), Some(sig)) =
            (case.get("alg").and_then(Value::as_str).and_then(Alg::parse), field("msg"), field("sig"))
        else {
            return HttpReply::error(400, "invalid_request");
        };
        verdicts.push(match case.get("jwk").map(parse_jwk) {
            Some(Ok(entry)) => Value::Bool(verify(&iso.tokens.imported, alg, &entry.key, &msg, &sig).await),
            _ => Value::from("refused"),
        });
    }
    HttpReply::json(200, &Value::Array(verdicts), None)
}
