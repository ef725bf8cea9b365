//! The per-isolate state the composition root (`isolate`) holds, as types: caches of the token
//! path, `/healthz`, the ledger reader and the authorization server. Built from the pure crates'
//! types only, so the modules that use them and the root both point here, never at each other.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
#[cfg(feature = "auth-server")]
use std::rc::Rc;

use worker::wasm_bindgen::JsValue;

use crate::auth::cache::{JwksCache, TokenCache};
use crate::auth::jwk::Alg;
#[cfg(feature = "auth-server")]
use crate::auth::jwk::JwkSet;
use crate::health::{Backlog, Probe, Recent};

/// Verified tokens kept per isolate.
const TOKEN_CACHE_ENTRIES: usize = 1024;

/// Keys WebCrypto imported, by algorithm and JWK (`webcrypto`).
pub type ImportedKeys = HashMap<(Alg, String), JsValue>;

/// The token path's state (`keys`, `key_refresh`, `introspect`, `webcrypto`).
pub struct TokenPath {
    pub(super) jwks: RefCell<JwksCache>,
    pub(super) tokens: RefCell<TokenCache>,
    /// The JWKS URL discovered from the issuer's metadata: (issuer, URL, when), kept as long as keys.
    pub(super) discovered: RefCell<Option<(String, String, u64)>>,
    /// When (ms) the key refresh in flight started, if one is.
    pub(super) in_flight: Cell<Option<u64>>,
    /// Keys WebCrypto imported, reused across requests.
    pub(super) imported: RefCell<ImportedKeys>,
    /// `/healthz`'s introspection probe, reused like the other checks.
    pub(super) introspection: RefCell<Recent<Probe>>,
}

impl Default for TokenPath {
    fn default() -> Self {
        TokenPath {
            jwks: RefCell::default(),
            tokens: RefCell::new(TokenCache::new(TOKEN_CACHE_ENTRIES)),
            discovered: RefCell::default(),
            in_flight: Cell::default(),
            imported: RefCell::default(),
            introspection: RefCell::default(),
        }
    }
}

/// D1's answers for `/healthz`, reused for `health::CHECK_REUSE_MS`: (the probe, the last
/// processed event, the meter outbox's backlog).
pub type StoreChecks = (Probe, Option<i64>, Option<Backlog>);

/// Callers' non-empty entitlement keys as last read, with when they go stale (`ledger`).
#[cfg(feature = "billing")]
pub type RecentKeys = HashMap<String, (u64, Vec<String>)>;

/// What the authorization server keeps (`oauth`).
#[cfg(feature = "auth-server")]
#[derive(Default)]
pub struct OAuthState {
    /// The signing keys derived from the deployment secrets: derivation costs a scalar
    /// multiplication per key, and the secrets only change with a new isolate.
    pub(super) derived: RefCell<Option<Derived>>,
    /// Client metadata documents fetched lately, with when.
    pub(super) documents: RefCell<HashMap<String, (crate::oauth::client::Client, u64)>>,
    /// Enterprise identity providers' keys as last fetched: issuer → (keys, when).
    pub(super) provider_keys: RefCell<HashMap<String, (Rc<JwkSet>, u64)>>,
}

/// The keys derived from a list of deployment secrets, and their public set.
#[cfg(feature = "auth-server")]
pub struct Derived {
    pub(super) secrets: Vec<String>,
    pub(super) keys: Rc<Vec<crate::oauth::token::Key>>,
    pub(super) set: JwkSet,
}
