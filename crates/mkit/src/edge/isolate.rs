//! The composition root: what one isolate builds once — the seller's server, the validated
//! configuration and every cache — handed to each handler as `&Isolate`. It is the kit's only
//! per-isolate state: no other module keeps a `thread_local!` (`tests/layers.rs` holds that).

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use worker::Env;

use super::respond::{misconfigured, EnvVars};
#[cfg(feature = "auth-server")]
use super::state::OAuthState;
#[cfg(feature = "billing")]
use super::state::RecentKeys;
use super::state::{StoreChecks, TokenPath};
use crate::app::Server;
use crate::config::{Config, Needs};
use crate::http::HttpReply;
use crate::mcp::{Registry, ServerInfo};

/// Everything this isolate keeps between requests.
pub struct Isolate {
    /// The seller's `serverInfo`.
    pub info: &'static ServerInfo,
    /// The seller's registry (with the kit's fixtures in a `fixtures` build).
    pub registry: Rc<Registry>,
    /// The configuration once it validated: an isolate runs one version of the Worker with one
    /// set of vars and secrets (changing either deploys a new version), so it is read from `Env`
    /// once; a configuration with errors is read again on every request.
    config: RefCell<Option<Rc<Config>>>,
    /// The issuer's keys, verified tokens, imported WebCrypto keys, the introspection probe.
    pub tokens: TokenPath,
    /// `/healthz`'s D1 checks, reused for `health::CHECK_REUSE_MS`.
    pub store_checks: RefCell<crate::health::Recent<StoreChecks>>,
    /// Callers' entitlement keys last read (`MKIT_ENTITLEMENT_CACHE_SECONDS`).
    #[cfg(feature = "billing")]
    pub entitlements: RefCell<RecentKeys>,
    /// mKit's own signing keys and the client metadata documents it fetched.
    #[cfg(feature = "auth-server")]
    pub oauth: OAuthState,
}

thread_local! {
    static CURRENT: OnceCell<Rc<Isolate>> = const { OnceCell::new() };
}

/// Builds this isolate's root from the seller's server; a second call is ignored.
pub fn install(server: &'static Server) {
    CURRENT.with(|cell| {
        cell.get_or_init(|| Rc::new(Isolate::new(&server.info, (server.registry)())));
    });
}

/// This isolate's root (an empty registry, under a name saying so, when the seller's
/// `#[event(start)]` never called `mkit::start`: the mistake shows in `tools/list`, not as a crash).
pub fn current() -> Rc<Isolate> {
    CURRENT.with(|cell| cell.get_or_init(|| Rc::new(Isolate::new(&crate::app::UNSTARTED, Registry::default()))).clone())
}

impl Isolate {
    fn new(info: &'static ServerInfo, registry: Registry) -> Isolate {
        Isolate {
            info,
            registry: Rc::new(crate::app::with_fixtures(registry)),
            config: RefCell::new(None),
            tokens: TokenPath::default(),
            store_checks: RefCell::default(),
            #[cfg(feature = "billing")]
            entitlements: RefCell::default(),
            #[cfg(feature = "auth-server")]
            oauth: Default::default(),
        }
    }

    /// The validated configuration, or the 503 that names every problem (never a value).
    pub fn config(&self, env: &Env) -> Result<Rc<Config>, HttpReply> {
        if let Some(c) = self.config.borrow().clone() {
            return Ok(c);
        }
        let c = Rc::new(Config::load_for(&EnvVars(env), self.needs()).map_err(|errors| misconfigured(&errors))?);
        *self.config.borrow_mut() = Some(c.clone());
        Ok(c)
    }

    /// What this build serves: billing settings are required once anything is sold (an
    /// entitlement or a price in credits), so a credit pack bought through the pay link is always
    /// granted.
    pub fn needs(&self) -> Needs {
        Needs { paid_tools: crate::price::sells(&self.registry) }
    }
}
