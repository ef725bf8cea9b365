//! The MCP protocol: JSON-RPC framing, versions and eras, dispatch, the tool API and the
//! Streamable HTTP transport. Pure: nothing here touches the `worker` crate.

pub mod jsonrpc;
pub mod mrtr;
pub mod server;
pub mod tool;
pub mod transport;
pub mod version;

pub use server::{Server, ServerInfo};
pub use tool::{
    Annotations, EntitlementSource, Entitlements, LogLevel, Principal, Registry, Tool, ToolContext, ToolError, ToolInfo,
};
pub use version::{Era, ProtocolVersion};

#[cfg(test)]
mod tests;
