//! Facts fixed at build time: what `/healthz`, `serverInfo` and the `mkit://about` resource
//! report as the running version.

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit baked in by `build.rs` (`MKIT_COMMIT`), or `unknown`.
pub const COMMIT: &str = match option_env!("MKIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// Set only in `make dev`'s build (`local-checkout`): shown in `/healthz`, and the words the deploy
/// gate looks for in a bundle to refuse it (scripts/deploy-gate.mjs, `LOCAL_MARKER`).
pub const LOCAL_CHECKOUT: Option<&str> = if cfg!(feature = "local-checkout") {
    Some("mkit-local-checkout-simulation: make dev only, never deployable")
} else {
    None
};
