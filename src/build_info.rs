//! Facts fixed at build time: what `/healthz`, `serverInfo` and the `mkit://about` resource
//! report as the running version.

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit baked in by `build.rs` (`MKIT_COMMIT`), or `unknown`.
pub const COMMIT: &str = match option_env!("MKIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
