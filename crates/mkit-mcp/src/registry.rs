//! Everything a server offers: tools, resources, resource templates and prompts, plus the
//! scopes each method needs. Built once per isolate.

use serde_json::{json, Map, Value};

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::RpcError;
use super::tool::{RegisteredTool, Tool, ToolError, ToolInfo};

/// What reading a resource gives.
pub enum ResourceBody {
    /// Text content.
    Text(String),
    /// Base64-encoded bytes.
    Blob(String),
}

/// A static resource (`resources/list`, `resources/read`).
pub struct Resource {
    /// The resource's URI, e.g. `mkit://about`.
    pub uri: &'static str,
    /// Its name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// What it holds.
    pub description: &'static str,
    /// Its media type.
    pub mime_type: &'static str,
    /// How it is read.
    pub read: ResourceRead,
}

/// How a resource is read.
pub enum ResourceRead {
    /// From the request alone (static text, the build's version).
    Now(fn(&ToolContext<'_>) -> ResourceBody),
    /// With I/O, e.g. the caller's ledger rows; fails like a tool (an unreadable ledger).
    Live(LiveRead),
}

/// An async resource read: a named `fn` returning `Box::pin(async move { … })`.
pub type LiveRead = for<'a> fn(&'a ToolContext<'a>) -> LocalFuture<'a, Result<ResourceBody, ToolError>>;

/// A resource template (`resources/templates/list`); `read` returns `None` for a URI it does
/// not serve.
pub struct ResourceTemplate {
    /// An RFC 6570 URI template, e.g. `mkit://tools/{name}`.
    pub uri_template: &'static str,
    /// Its name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// What its resources hold.
    pub description: &'static str,
    /// Their media type.
    pub mime_type: &'static str,
    /// Reads one URI that matches the template; `None`: not found.
    pub read: fn(&str, &Registry) -> Option<ResourceBody>,
}

/// One argument of a prompt.
pub struct PromptArgument {
    /// Its name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Whether a `prompts/get` must give it.
    pub required: bool,
    /// Values offered by `completion/complete`, given the registry's tool names.
    pub complete: Option<fn(&Registry) -> Vec<String>>,
}

/// A prompt template (`prompts/list`, `prompts/get`).
pub struct Prompt {
    /// Its name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// What it asks the model to do.
    pub description: &'static str,
    /// Its arguments.
    pub arguments: Vec<PromptArgument>,
    /// Renders the whole `prompts/get` result from the (string) arguments.
    pub render: PromptRenderer,
}

/// Renders the whole `prompts/get` result from the (string) arguments.
pub type PromptRenderer = fn(&Map<String, Value>, &Registry, &ToolContext<'_>) -> Result<Value, RpcError>;

/// A `prompts/get` result with one user text message.
pub fn user_prompt(description: &str, text: String) -> Value {
    json!({ "description": description, "messages": [{ "role": "user", "content": { "type": "text", "text": text } }] })
}

/// Everything the server offers. Built once per isolate.
#[derive(Default)]
pub struct Registry {
    /// The tools, in registration order.
    pub tools: Vec<RegisteredTool>,
    /// The resources.
    pub resources: Vec<Resource>,
    /// The resource templates.
    pub templates: Vec<ResourceTemplate>,
    /// The prompts.
    pub prompts: Vec<Prompt>,
    /// OAuth scopes an MCP method needs, e.g. `("resources/read", &["docs:read"])`.
    method_scopes: Vec<(&'static str, &'static [&'static str])>,
    /// List answers already rendered in this isolate (`mcp::rendered`).
    pub(crate) rendered: super::rendered::RenderedLists,
    /// Resource URIs whose changes are announced (`ToolContext::resource_updated`), so clients
    /// on a held session may `resources/subscribe` to them.
    pub subscribable: Vec<&'static str>,
}

impl Registry {
    /// Requires `scopes` for every call of `method` (403 `insufficient_scope` without them).
    pub fn require_scopes(&mut self, method: &'static str, scopes: &'static [&'static str]) -> &mut Self {
        self.method_scopes.push((method, scopes));
        self
    }

    /// Announces changes of the resource `uri` to subscribed sessions.
    pub fn announces_updates(&mut self, uri: &'static str) -> &mut Self {
        self.subscribable.push(uri);
        self
    }

    /// Whether handshake-era clients get held sessions: a tool asks the client, or a resource
    /// announces its changes. Otherwise mKit stays stateless for every client.
    pub fn holds_sessions(&self) -> bool {
        !self.subscribable.is_empty() || self.tools.iter().any(|t| t.info.asks_client)
    }

    /// Whether any tool runs as a task (then the Tasks extension is announced).
    pub fn runs_tasks(&self) -> bool {
        self.tools.iter().any(|t| t.info.task_support != super::tasks::TaskSupport::Forbidden)
    }

    /// Every scope a call of `method` needs.
    pub fn scopes_for(&self, method: &str) -> Vec<&'static str> {
        self.method_scopes.iter().filter(|(m, _)| *m == method).flat_map(|(_, s)| s.iter().copied()).collect()
    }

    /// Every scope the registry names, for `scopes_supported`.
    pub fn scopes(&self) -> Vec<&'static str> {
        let tools = self.tools.iter().flat_map(|t| t.info.scopes.iter().copied());
        let mut all: Vec<&'static str> =
            tools.chain(self.method_scopes.iter().flat_map(|(_, s)| s.iter().copied())).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Registers a tool (its schemas are derived once, here).
    pub fn tool<T: Tool>(&mut self, tool: T) -> &mut Self {
        self.tools.push(RegisteredTool::new(tool));
        self
    }
    /// A tool that builds its whole result itself (`RegisteredTool::raw`).
    pub fn raw_tool<F>(&mut self, info: ToolInfo, input_schema: Value, handler: F) -> &mut Self
    where
        F: for<'c, 'd> AsyncFn(&'c ToolContext<'d>, Value) -> Result<Value, RpcError> + 'static,
    {
        self.tools.push(RegisteredTool::raw(info, input_schema, handler));
        self
    }
    /// Registers a resource.
    pub fn resource(&mut self, r: Resource) -> &mut Self {
        self.resources.push(r);
        self
    }
    /// Registers a resource template.
    pub fn template(&mut self, t: ResourceTemplate) -> &mut Self {
        self.templates.push(t);
        self
    }
    /// Registers a prompt.
    pub fn prompt(&mut self, p: Prompt) -> &mut Self {
        self.prompts.push(p);
        self
    }
    /// The tool called `name`, if registered.
    pub fn find_tool(&self, name: &str) -> Option<&RegisteredTool> {
        self.tools.iter().find(|t| t.info.name == name && t.param_headers.is_ok())
    }

    /// How many list answers this isolate keeps rendered (`mcp::rendered`).
    #[doc(hidden)]
    pub fn rendered_lists(&self) -> usize {
        self.rendered.len()
    }

    /// Tools left out for invalid `x-mcp-header` annotations, with the reason: a kit's own test
    /// asserts there are none (tools/mod.rs).
    pub fn invalid_tools(&self) -> Vec<(&'static str, &str)> {
        self.tools.iter().filter_map(|t| t.param_headers.as_ref().err().map(|e| (t.info.name, e.as_str()))).collect()
    }
}
