//! What this server is and what it offers: the part you edit.
//!
//! Adding a tool: write `src/tools/my_tool.rs` implementing `mkit::mcp::Tool`, declare it below
//! with `pub mod my_tool;`, and add one line to `registry()`.

pub mod notes;
pub mod text_stats;

use mkit::mcp::{Registry, ServerInfo};

pub const SERVER_INFO: ServerInfo = ServerInfo {
    name: "mkit",
    title: "mKit",
    version: env!("CARGO_PKG_VERSION"),
    description: "A paid, remote MCP server on Cloudflare Workers.",
    website_url: None,
    instructions: "Call whoami to see your identity and entitlements. Paid tools list their entitlement \
                   in _meta[\"mkit/entitlement\"].",
};

/// Everything this server offers: the kit's standard items (`whoami`, `mkit://about`, your billing
/// usage, each tool's documentation) and your tools. Built once per isolate.
pub fn registry() -> Registry {
    let mut r = mkit::tools::standard();
    r.tool(notes::Remember).tool(text_stats::TextStats);
    r
}

#[cfg(test)]
mod notes_tests;

#[cfg(test)]
mod tests {
    /// A tool with invalid `x-mcp-header` annotations is left out of the registry's answers.
    #[test]
    fn every_tool_is_valid() {
        assert_eq!(super::registry().invalid_tools(), Vec::<(&str, &str)>::new());
    }
}
