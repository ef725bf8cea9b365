//! Work the response need not wait for, kept alive past it by the runtime's `waitUntil`, imported
//! from `cloudflare:workers` (workerd, since 2025-08) so that the kit's `fetch(req, env)` needs
//! no execution context handed down. Only work whose loss the ledger already repairs is deferred:
//! a credit call's settle, which the caller's object would otherwise apply by its hour-old sweep.

use std::future::Future;

use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    #[wasm_bindgen(js_name = waitUntil, catch)]
    fn wait_until(promise: &worker::js_sys::Promise) -> Result<(), JsValue>;
}

/// Starts `work` now and lets the response go without it; the runtime keeps the request alive
/// until it ends (up to its `waitUntil` limit).
pub fn defer(work: impl Future<Output = ()> + 'static) {
    let promise = future_to_promise(async move {
        work.await;
        Ok(JsValue::UNDEFINED)
    });
    // Outside a request (none today) the work still runs while the isolate lives.
    let _ = wait_until(&promise);
}
