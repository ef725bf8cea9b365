//! Values kept as JSON text in a Durable Object's storage, for both of mKit's objects.

use serde::Serialize;
use worker::Result;

/// A value kept as JSON text in an object's storage (not through `Storage::get`/`put`, whose
/// serde_wasm_bindgen conversion costs bundle size for nothing here).
pub(super) async fn get_json<T: serde::de::DeserializeOwned>(storage: &worker::Storage, key: &str) -> Option<T> {
    let promise = storage.as_raw().get(key).ok()?;
    let value = worker::wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    serde_json::from_str(&value.as_string()?).ok()
}

pub(super) async fn put_json<T: Serialize>(storage: &worker::Storage, key: &str, value: &T) -> Result<()> {
    storage.put_raw(key, serde_json::to_string(value)?).await
}
