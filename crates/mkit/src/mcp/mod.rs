//! The MCP protocol: JSON-RPC framing, versions and eras, dispatch, the tool API and the
//! Streamable HTTP transport. Pure: nothing here touches the `worker` crate, the billing ledger
//! or a shipped tool.

pub mod admission;
mod annotations;
mod answer;
pub mod batch;
pub mod completion;
pub mod context;
pub mod cors;
pub mod framing;
pub mod jsonrpc;
pub mod listen;
pub mod log_level;
pub mod logline;
pub mod mrtr;
pub mod paid;
pub mod param_headers;
pub mod platform;
pub mod registry;
pub mod render;
mod rendered;
mod resources;
pub mod rounds;
pub mod schema;
pub mod server;
pub mod session;
pub mod stateless;
pub mod task;
pub mod tasks;
pub mod tasks_2025;
pub mod tool;
pub mod transport;
pub mod version;

pub use context::{Denial, Entitlements, LocalFuture, LogLevel, MeterUsage, PayLink, ToolContext};
pub use registry::Registry;
pub use server::{Server, ServerInfo};
pub use tool::{Annotations, Tool, ToolError, ToolInfo};
pub use version::{Era, ProtocolVersion};

#[cfg(test)]
mod param_headers_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod task_2025_tests;
#[cfg(test)]
mod task_billing_tests;
#[cfg(test)]
pub(crate) mod task_tests;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
