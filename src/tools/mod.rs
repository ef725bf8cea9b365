//! The shipped tools, resources and prompts: the part a kit user edits.
//!
//! Adding a tool: write `src/tools/my_tool.rs` implementing `crate::mcp::Tool`, declare it
//! below with `mod my_tool;`, and add one line to `registry()`.

pub mod billing_usage;
#[cfg(feature = "fixtures")]
mod fixtures;
#[cfg(feature = "fixtures")]
mod fixtures_asking;
#[cfg(feature = "fixtures")]
mod fixtures_tasks;
pub mod notes;
pub mod text_stats;
pub mod whoami;

use serde_json::{Map, Value};

use crate::mcp::jsonrpc::RpcError;
use crate::mcp::registry::{
    user_prompt, Prompt, PromptArgument, Resource, ResourceBody, ResourceRead, ResourceTemplate,
};
use crate::mcp::{Registry, ServerInfo, ToolContext};

pub const SERVER_INFO: ServerInfo = ServerInfo {
    name: "mkit",
    title: "mKit",
    version: crate::build_info::VERSION,
    description: "A paid, remote MCP server on Cloudflare Workers.",
    website_url: None,
    instructions: "Call whoami to see your identity and entitlements. Paid tools list their entitlement \
                   in _meta[\"mkit/entitlement\"].",
};

/// Everything this server offers. Built once per isolate.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.tool(whoami::WhoAmI).tool(notes::Remember).tool(text_stats::TextStats);
    r.resource(Resource {
        uri: "mkit://about",
        name: "about",
        title: Some("About this server"),
        description: "What this server is and which version is running.",
        mime_type: "text/markdown",
        read: ResourceRead::Now(|_| {
            ResourceBody::Text(format!(
                "# mKit {}\n\nA paid, remote MCP server on Cloudflare Workers (commit {}).\n",
                crate::build_info::VERSION,
                crate::build_info::COMMIT
            ))
        }),
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
    #[cfg(feature = "fixtures")]
    fixtures::register(&mut r);
    #[cfg(feature = "fixtures")]
    fixtures_asking::register(&mut r);
    #[cfg(feature = "fixtures")]
    fixtures_tasks::register(&mut r);
    r
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

thread_local! {
    /// One registry per isolate: schemas are generated once, not per request.
    pub static REGISTRY: std::rc::Rc<Registry> = std::rc::Rc::new(registry());
}

/// The README's "Adding a tool" example, compiled exactly as the README says to write it: as a
/// file in `src/tools/` (`build.rs` copies it out of README.md), registered with one line. Not
/// named `shout`: a kit user who follows the README adds `pub mod shout;` beside it.
#[cfg(test)]
mod readme_example {
    include!(concat!(env!("OUT_DIR"), "/readme_tool.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_tool_registers_with_one_line() {
        let mut r = Registry::default();
        r.tool(readme_example::Shout);
        let t = r.find_tool("shout").expect("registered");
        // Free and unscoped, so `make dev`'s user sees and calls it at once.
        assert_eq!((t.info.entitlement, t.info.scopes), (None, &[][..]));
        assert_eq!(t.input_schema["required"], serde_json::json!(["text"]));
    }

    /// A tool with invalid `x-mcp-header` annotations is left out of the registry's answers.
    #[test]
    fn every_shipped_tool_is_valid() {
        assert_eq!(registry().invalid_tools(), Vec::<(&str, &str)>::new());
    }
}
