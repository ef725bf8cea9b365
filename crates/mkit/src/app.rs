//! The seller's server as the kit sees it: its `serverInfo` and its registry, handed to
//! [`crate::start`] from the seller's `#[event(start)]`, which builds the isolate's composition
//! root from it before any request or Durable Object runs.

use crate::mcp::{Registry, ServerInfo};

/// A seller's server: what it is called and what it offers.
///
/// ```
/// use mkit::mcp::ServerInfo;
///
/// static SERVER: mkit::Server = mkit::Server {
///     info: ServerInfo {
///         name: "acme-search",
///         title: "Acme Search",
///         version: "1.0.0",
///         description: "Searches Acme's catalogue.",
///         website_url: None,
///         instructions: "Call search with a query.",
///     },
///     registry: mkit::tools::standard,
/// };
/// assert_eq!(SERVER.info.name, "acme-search");
/// ```
pub struct Server {
    /// The MCP `serverInfo`; its title is also the OAuth protected resource's `resource_name`.
    pub info: ServerInfo,
    /// Builds everything the server offers; called once per isolate.
    pub registry: fn() -> Registry,
}

/// Kept when nothing was installed (a seller's lib without `mkit::start`): an empty registry
/// under the kit's name, so the mistake shows in `tools/list` and `serverInfo` rather than as a
/// crash. (Empty, not `tools::standard()`: a server that never serves them would still carry
/// the standard items' code and schemas.)
pub(crate) static UNSTARTED: ServerInfo = ServerInfo {
    name: "mkit",
    title: "mKit",
    version: crate::build_info::VERSION,
    description: "mkit::start was not called in #[event(start)]: no tools are served.",
    website_url: None,
    instructions: "",
};

/// The seller's registry, with the kit's test-only tools in a `fixtures` build.
pub(crate) fn with_fixtures(r: Registry) -> Registry {
    #[cfg(feature = "fixtures")]
    let r = {
        let mut r = r;
        crate::tools::add_fixtures(&mut r);
        r
    };
    r
}
