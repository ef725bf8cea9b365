//! What every mKit server offers beside the seller's own tools: `whoami`, the caller's billing
//! usage, an `about` resource, each tool's documentation and a prompt that explains a tool.
//! A seller's `registry()` starts from [`standard`] and adds their tools to it.

pub mod billing_usage;
#[cfg(feature = "billing")]
pub mod buy_credits;
#[cfg(feature = "fixtures")]
mod fixtures;
#[cfg(feature = "fixtures")]
mod fixtures_asking;
#[cfg(feature = "fixtures")]
mod fixtures_tasks;
pub mod whoami;

use serde_json::{Map, Value};

use crate::mcp::jsonrpc::RpcError;
use crate::mcp::registry::{
    user_prompt, Prompt, PromptArgument, Resource, ResourceBody, ResourceRead, ResourceTemplate,
};
use crate::mcp::{Registry, ServerInfo, ToolContext};

#[cfg(feature = "billing")]
pub use buy_credits::BuyCredits;

/// A registry holding the kit's standard tool, resources and prompt; add yours to it.
///
/// ```
/// let mut registry = mkit::tools::standard();
/// assert!(registry.find_tool("whoami").is_some());
/// # let _ = &mut registry;
/// ```
pub fn standard() -> Registry {
    let mut r = Registry::default();
    r.tool(whoami::WhoAmI);
    r.resource(Resource {
        uri: "mkit://about",
        name: "about",
        title: Some("About this server"),
        description: "What this server is and which version is running.",
        mime_type: "text/markdown",
        read: ResourceRead::Now(|ctx| about(ctx.server)),
    });
    r.resource(billing_usage::resource());
    r.template(ResourceTemplate {
        uri_template: "mkit://tools/{name}",
        name: "tool-docs",
        title: Some("Tool documentation"),
        description: "The description and input schema of one tool.",
        mime_type: "application/json",
        read: tool_doc,
    });
    r.prompt(Prompt {
        name: "explain_tool",
        title: Some("Explain a tool"),
        description: "Asks the model to explain how to use one of this server's tools.",
        arguments: vec![PromptArgument {
            name: "tool",
            description: "The tool's name",
            required: true,
            complete: Some(|reg| reg.tools.iter().map(|t| t.info.name.to_owned()).collect()),
        }],
        render: explain_tool,
    });
    r
}

/// The kit's test-only tools, added to the seller's registry in a `fixtures` build (e2e only).
#[cfg(feature = "fixtures")]
pub(crate) fn add_fixtures(r: &mut Registry) {
    fixtures::register(r);
    #[cfg(feature = "billing")]
    r.tool(BuyCredits);
    fixtures_asking::register(r);
    fixtures_tasks::register(r);
}

/// "# <title> <version>", then what runs: the seller's server and the mKit beneath it.
fn about(info: &ServerInfo) -> ResourceBody {
    ResourceBody::Text(format!(
        "# {} {}\n\n{}\n\nBuilt on mKit {}, a paid, remote MCP server on Cloudflare Workers (commit {}).\n",
        info.title,
        info.version,
        info.description,
        crate::build_info::VERSION,
        crate::build_info::COMMIT
    ))
}

fn tool_doc(uri: &str, reg: &Registry) -> Option<ResourceBody> {
    let t = reg.find_tool(uri.strip_prefix("mkit://tools/")?)?;
    let doc =
        serde_json::json!({ "name": t.info.name, "description": t.info.description, "inputSchema": t.input_schema });
    Some(ResourceBody::Text(doc.to_string()))
}

fn explain_tool(args: &Map<String, Value>, reg: &Registry, _ctx: &ToolContext<'_>) -> Result<Value, RpcError> {
    let name = args.get("tool").and_then(Value::as_str).unwrap_or_default();
    let tool = reg.find_tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
    let text = format!(
        "Explain how to use the MCP tool `{}` ({}). Its input schema is:\n{}",
        tool.info.name, tool.info.description, tool.input_schema
    );
    Ok(user_prompt("Asks the model to explain how to use one of this server's tools.", text))
}

#[cfg(test)]
mod tests {
    /// A tool with invalid `x-mcp-header` annotations is left out of the registry's answers.
    #[test]
    fn every_standard_tool_is_valid() {
        assert_eq!(super::standard().invalid_tools(), Vec::<(&str, &str)>::new());
    }
}
