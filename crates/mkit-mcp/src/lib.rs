//! mKit's MCP protocol core: JSON-RPC framing, versions and eras, dispatch, the tool API and the
//! Streamable HTTP transport. Pure: nothing here touches the `worker` crate, a price, the billing
//! ledger or a shipped tool. Whether a `tools/call` runs is the caller's `Gate` (`gate`), which a
//! layer above hands in (the kit's paywall); a price is an extension of a tool's description.
//! The `mkit` crate re-exports this one as `mkit::mcp`.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod http;
#[doc(hidden)]
pub mod log;

mod annotations;
mod answer;
#[doc(hidden)]
pub mod batch;
#[doc(hidden)]
pub mod completion;
pub mod context;
#[doc(hidden)]
pub mod cors;
mod extension;
#[doc(hidden)]
pub mod framing;
pub mod gate;
pub mod jsonrpc;
#[doc(hidden)]
pub mod listen;
pub mod log_level;
#[doc(hidden)]
pub mod logline;
#[doc(hidden)]
pub mod method;
pub mod mrtr;
#[doc(hidden)]
pub mod param_headers;
pub mod platform;
pub mod registry;
#[doc(hidden)]
pub mod render;
mod rendered;
mod resources;
#[doc(hidden)]
pub mod rounds;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod server;
#[doc(hidden)]
pub mod session;
#[doc(hidden)]
pub mod stateless;
#[doc(hidden)]
pub mod task;
pub mod tasks;
#[doc(hidden)]
pub mod tasks_2025;
pub mod tool;
#[doc(hidden)]
pub mod transport;
pub mod version;

pub use context::{LocalFuture, LogLevel, ToolContext};
pub use gate::{Call, Gate};
pub use registry::Registry;
pub use server::{Server, ServerInfo};
pub use tool::{Annotations, Tool, ToolError, ToolExtension, ToolInfo, ToolOutcome};
pub use version::{Era, ProtocolVersion};

#[cfg(test)]
mod param_headers_tests;
// Held sessions and tasks are compiled out without their features (`cfg`, not a `None`).
#[cfg(all(test, feature = "sessions"))]
mod session_tests;
#[cfg(all(test, feature = "tasks"))]
mod task_2025_tests;
#[cfg(all(test, feature = "tasks"))]
mod task_tests;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod test_support;
