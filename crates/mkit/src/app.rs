//! The seller's server as the kit sees it: its `serverInfo` and its registry, installed once per
//! isolate by [`crate::start`] from the seller's `#[event(start)]`, before any request or Durable
//! Object runs. Everything that serves MCP (the Worker's fetch, held sessions, tasks) reads it here.

use std::cell::OnceCell;
use std::rc::Rc;

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

struct Installed {
    info: &'static ServerInfo,
    registry: Rc<Registry>,
}

thread_local! {
    static INSTALLED: OnceCell<Installed> = const { OnceCell::new() };
}

/// Kept when nothing was installed (a seller's lib without `mkit::start`): the standard items
/// only, under the kit's name, so the mistake shows in `tools/list` rather than as a crash.
static UNSTARTED: ServerInfo = ServerInfo {
    name: "mkit",
    title: "mKit",
    version: crate::build_info::VERSION,
    description: "mkit::start was not called in #[event(start)]: only the kit's standard tools are served.",
    website_url: None,
    instructions: "",
};

/// Installs the seller's server for this isolate; a second call is ignored.
pub(crate) fn install(server: &'static Server) {
    INSTALLED.with(|cell| {
        cell.get_or_init(|| Installed { info: &server.info, registry: Rc::new(with_fixtures((server.registry)())) });
    });
}

fn with_fixtures(r: Registry) -> Registry {
    #[cfg(feature = "fixtures")]
    let r = {
        let mut r = r;
        crate::tools::add_fixtures(&mut r);
        r
    };
    r
}

fn installed<T>(f: impl FnOnce(&Installed) -> T) -> T {
    INSTALLED.with(|cell| {
        f(cell
            .get_or_init(|| Installed { info: &UNSTARTED, registry: Rc::new(with_fixtures(crate::tools::standard())) }))
    })
}

/// The seller's `serverInfo`.
pub fn info() -> &'static ServerInfo {
    installed(|i| i.info)
}

/// The seller's registry, built once per isolate.
pub fn registry() -> Rc<Registry> {
    installed(|i| i.registry.clone())
}
