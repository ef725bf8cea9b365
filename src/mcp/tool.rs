//! The tool API: what a kit user implements. A tool is a typed input, a typed output and an
//! async handler; JSON Schemas come from the Rust types (schemars), never hand-written.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::version::ProtocolVersion;

/// Who is calling: the validated access token's subject, client and scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
}

/// What a tool, resource or prompt handler is given about the request.
pub struct ToolContext<'a> {
    pub protocol_version: ProtocolVersion,
    /// `None` when the request is unauthenticated (only possible in tests and fixtures).
    pub principal: Option<&'a Principal>,
    /// The caller's entitlement keys (feature or price lookup keys).
    pub entitlements: &'a [String],
    /// The platform's bindings: `worker::Env` on Workers, `None` in native tests.
    /// `crate::tools::env(ctx)` gives it typed.
    pub bindings: Option<&'a dyn Any>,
}

/// A tool failure the model should see: becomes a result with `isError: true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub message: String,
    pub structured: Option<Value>,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
            structured: None,
        }
    }
    pub fn with_structured(mut self, v: Value) -> Self {
        self.structured = Some(v);
        self
    }
}

/// Behaviour hints shown to clients (`ToolAnnotations`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Icon {
    pub src: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<String>,
}

/// A tool's description, as `tools/list` shows it, plus what mKit enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub annotations: Annotations,
    pub icons: Vec<Icon>,
    /// OAuth scopes a caller needs to see and call the tool.
    pub scopes: &'static [&'static str],
    /// The entitlement key a caller must hold (a paid tool), if any.
    pub entitlement: Option<&'static str>,
}

impl ToolInfo {
    pub fn new(name: &'static str, description: &'static str) -> Self {
        ToolInfo {
            name,
            title: None,
            description,
            annotations: Annotations::default(),
            icons: Vec::new(),
            scopes: &[],
            entitlement: None,
        }
    }
    pub fn title(mut self, title: &'static str) -> Self {
        self.title = Some(title);
        self
    }
    /// Read-only and idempotent, touching nothing outside mKit.
    pub fn read_only(mut self) -> Self {
        self.annotations.read_only_hint = Some(true);
        self.annotations.idempotent_hint = Some(true);
        self.annotations.open_world_hint = Some(false);
        self
    }
    pub fn annotations(mut self, a: Annotations) -> Self {
        self.annotations = a;
        self
    }
    pub fn icon(mut self, src: &str, mime_type: &str) -> Self {
        self.icons.push(Icon {
            src: src.into(),
            mime_type: Some(mime_type.into()),
            sizes: Vec::new(),
        });
        self
    }
    pub fn scopes(mut self, scopes: &'static [&'static str]) -> Self {
        self.scopes = scopes;
        self
    }
    pub fn entitlement(mut self, key: &'static str) -> Self {
        self.entitlement = Some(key);
        self
    }
}

/// Implement this for each tool (one file in `src/tools/`), then register it in
/// `src/tools/mod.rs` with one line.
// Workers run one thread, so handler futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Tool: 'static {
    /// The arguments; its JSON Schema is the tool's `inputSchema`. Use
    /// `#[serde(deny_unknown_fields)]` so unexpected arguments are refused.
    type Input: DeserializeOwned + JsonSchema;
    /// The result; its JSON Schema is the tool's `outputSchema`, and a value is returned both as
    /// `structuredContent` and as JSON text.
    type Output: Serialize + JsonSchema;

    fn info(&self) -> ToolInfo;

    async fn call(&self, ctx: &ToolContext<'_>, input: Self::Input) -> Result<Self::Output, ToolError>;
}

/// What calling a tool produced, before it is rendered for a protocol version.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    Ok(Value),
    /// The arguments do not fit `inputSchema`: a tool execution error per 2025-11-25.
    InvalidInput(String),
    Failed(ToolError),
}

pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
type CallFn = Box<dyn for<'a> Fn(&'a ToolContext<'a>, Value) -> LocalFuture<'a, ToolOutcome>>;

/// A registered tool with its schemas computed once.
pub struct RegisteredTool {
    pub info: ToolInfo,
    pub input_schema: Value,
    pub output_schema: Value,
    call: CallFn,
}

impl RegisteredTool {
    pub fn new<T: Tool>(tool: T) -> Self {
        let info = tool.info();
        let tool = std::rc::Rc::new(tool);
        RegisteredTool {
            info,
            input_schema: schema_for::<T::Input>(),
            output_schema: schema_for::<T::Output>(),
            call: Box::new(move |ctx, args| {
                let tool = tool.clone();
                Box::pin(async move {
                    let input: T::Input = match serde_json::from_value(args) {
                        Ok(i) => i,
                        Err(e) => return ToolOutcome::InvalidInput(e.to_string()),
                    };
                    match tool.call(ctx, input).await {
                        Ok(out) => match serde_json::to_value(out) {
                            Ok(v) => ToolOutcome::Ok(v),
                            Err(_) => ToolOutcome::Failed(ToolError::new("the tool's output could not be encoded")),
                        },
                        Err(e) => ToolOutcome::Failed(e),
                    }
                })
            }),
        }
    }

    pub fn call<'a>(&'a self, ctx: &'a ToolContext<'a>, args: Value) -> LocalFuture<'a, ToolOutcome> {
        (self.call)(ctx, args)
    }
}

/// A JSON Schema 2020-12 object schema for `T`, as MCP wants it: root `type: "object"`.
fn schema_for<T: JsonSchema>() -> Value {
    let mut v = schemars::schema_for!(T).to_value();
    if let Value::Object(m) = &mut v {
        m.remove("title");
        if !m.contains_key("type") {
            m.insert("type".into(), "object".into());
        }
        if m.get("type") == Some(&json!("object")) && !m.contains_key("properties") {
            m.insert("properties".into(), Value::Object(Map::new()));
        }
    }
    v
}

/// A static resource (`resources/list`, `resources/read`).
pub struct Resource {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub mime_type: &'static str,
    pub read: fn(&ToolContext<'_>) -> String,
}

/// A resource template (`resources/templates/list`); `read` returns `None` for a URI it does
/// not serve.
pub struct ResourceTemplate {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub mime_type: &'static str,
    pub read: fn(&str, &Registry) -> Option<String>,
}

pub struct PromptArgument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Values offered by `completion/complete`, given the registry's tool names.
    pub complete: Option<fn(&Registry) -> Vec<String>>,
}

pub struct Prompt {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub arguments: Vec<PromptArgument>,
    /// Renders the prompt's user message text; `Err` names a bad argument.
    pub render: fn(&Map<String, Value>, &Registry) -> Result<String, String>,
}

/// Everything the server offers. Built once per isolate.
#[derive(Default)]
pub struct Registry {
    pub tools: Vec<RegisteredTool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

impl Registry {
    pub fn tool<T: Tool>(&mut self, tool: T) -> &mut Self {
        self.tools.push(RegisteredTool::new(tool));
        self
    }
    pub fn resource(&mut self, r: Resource) -> &mut Self {
        self.resources.push(r);
        self
    }
    pub fn template(&mut self, t: ResourceTemplate) -> &mut Self {
        self.templates.push(t);
        self
    }
    pub fn prompt(&mut self, p: Prompt) -> &mut Self {
        self.prompts.push(p);
        self
    }
    pub fn find_tool(&self, name: &str) -> Option<&RegisteredTool> {
        self.tools.iter().find(|t| t.info.name == name)
    }
}
