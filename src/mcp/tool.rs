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

/// Log levels of `notifications/message`, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
    pub fn parse(s: &str) -> Option<LogLevel> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// What a tool, resource or prompt handler is given about the request.
pub struct ToolContext<'a> {
    pub protocol_version: ProtocolVersion,
    /// `None` when the request is unauthenticated (only possible in tests and fixtures).
    pub principal: Option<&'a Principal>,
    /// The caller's entitlement keys, read from the billing ledger on first use.
    pub entitlements: Entitlements<'a>,
    /// The platform's bindings: `worker::Env` on Workers, `None` in native tests.
    /// `crate::tools::env(ctx)` gives it typed.
    pub bindings: Option<&'a dyn Any>,
    /// 2026-07-28: the client's declared capabilities (`_meta`). `None` in the handshake era,
    /// where a stateless server does not remember `initialize`.
    pub client_capabilities: Option<&'a Value>,
    /// 2026-07-28 multi-round requests: the client's answers and the state we handed out.
    pub input_responses: Option<&'a Value>,
    pub request_state: Option<&'a str>,
    /// `_meta.progressToken` of the request, if the client wants progress.
    pub progress_token: Option<&'a Value>,
    /// The least severe level the client wants as `notifications/message`; `None`: no logs.
    pub log_level: Option<LogLevel>,
    /// Notifications emitted while handling the request, sent before the response when the
    /// client accepts an event stream.
    pub notifications: std::cell::RefCell<Vec<Value>>,
}

impl<'a> ToolContext<'a> {
    /// A context with nothing but the version: for tests and internal calls.
    pub fn new(protocol_version: ProtocolVersion) -> Self {
        ToolContext {
            protocol_version,
            principal: None,
            entitlements: Entitlements::default(),
            bindings: None,
            client_capabilities: None,
            input_responses: None,
            request_state: None,
            progress_token: None,
            log_level: None,
            notifications: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Reports progress if the client asked for it (`notifications/progress`).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.progress_token else { return };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(t) = total {
            params["total"] = t.into();
        }
        if let Some(m) = message {
            params["message"] = m.into();
        }
        self.notifications
            .borrow_mut()
            .push(json!({ "jsonrpc": "2.0", "method": "notifications/progress", "params": params }));
    }

    /// Sends a log message to the client if it wants that level (`notifications/message`).
    pub fn log(&self, level: LogLevel, logger: &str, data: Value) {
        if self.log_level.is_none_or(|min| level < min) {
            return;
        }
        let params = json!({ "level": level.as_str(), "logger": logger, "data": data });
        self.notifications
            .borrow_mut()
            .push(json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": params }));
    }

    /// Whether the client declared a capability (2026-07-28 `_meta`).
    pub fn client_has(&self, capability: &str) -> bool {
        self.client_capabilities.and_then(|c| c.get(capability)).is_some_and(|c| !c.is_null())
    }
}

/// Where a caller's entitlement keys come from: the billing ledger (D1) on Workers.
pub trait EntitlementSource {
    /// The caller's keys (feature or price lookup keys), or why they cannot be read now.
    fn load(&self) -> LocalFuture<'_, Result<Vec<String>, String>>;
}

/// A caller's entitlements: loaded at most once per request, and only when a paid tool or a tool
/// that reports them asks.
#[derive(Default)]
pub struct Entitlements<'a> {
    source: Option<&'a dyn EntitlementSource>,
    /// Where a caller without the entitlement can pay (`MKIT_UPGRADE_URL`).
    pub upgrade_url: Option<&'a str>,
    loaded: std::cell::OnceCell<Vec<String>>,
}

impl<'a> Entitlements<'a> {
    pub fn new(source: Option<&'a dyn EntitlementSource>, upgrade_url: Option<&'a str>) -> Self {
        Entitlements { source, upgrade_url, loaded: Default::default() }
    }

    /// The caller's keys; none without a source (an unauthenticated caller).
    pub async fn keys(&self) -> Result<&[String], ToolError> {
        if let Some(k) = self.loaded.get() {
            return Ok(k);
        }
        let keys = match self.source {
            None => Vec::new(),
            Some(s) => s.load().await.map_err(|reason| {
                ToolError::new(format!("the billing ledger cannot be read now ({reason}); try again"))
                    .with_structured(json!({ "error": "entitlements_unavailable" }))
            })?,
        };
        Ok(self.loaded.get_or_init(|| keys))
    }
}

/// A tool failure the model should see: becomes a result with `isError: true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub message: String,
    pub structured: Option<Value>,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError { message: message.into(), structured: None }
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
        self.icons.push(Icon { src: src.into(), mime_type: Some(mime_type.into()), sizes: Vec::new() });
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
    /// A complete `CallToolResult` (or 2026-07-28 `InputRequiredResult`) built by a raw tool.
    Raw(Value),
    /// A protocol-level error, e.g. -32021 for a missing client capability.
    Protocol(super::jsonrpc::RpcError),
}

/// A raw tool's handler: gets the arguments, returns the whole result.
pub type RawHandler =
    for<'a> fn(&'a ToolContext<'a>, Value) -> LocalFuture<'a, Result<Value, super::jsonrpc::RpcError>>;

pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
type CallFn = Box<dyn for<'a> Fn(&'a ToolContext<'a>, Value) -> LocalFuture<'a, ToolOutcome>>;

/// A registered tool with its schemas computed once.
pub struct RegisteredTool {
    pub info: ToolInfo,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    call: CallFn,
}

impl RegisteredTool {
    pub fn new<T: Tool>(tool: T) -> Self {
        let info = tool.info();
        let tool = std::rc::Rc::new(tool);
        RegisteredTool {
            info,
            input_schema: schema_for::<T::Input>(),
            output_schema: Some(output_schema::<T::Output>()),
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

    /// A tool that builds its whole result itself: rich content (images, audio, embedded
    /// resources) or multi-round results. Its arguments are not validated for it.
    pub fn raw(info: ToolInfo, input_schema: Value, handler: RawHandler) -> Self {
        RegisteredTool {
            info,
            input_schema,
            output_schema: None,
            call: Box::new(move |ctx, args| {
                Box::pin(async move {
                    match handler(ctx, args).await {
                        Ok(v) => ToolOutcome::Raw(v),
                        Err(e) => ToolOutcome::Protocol(e),
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

/// The `outputSchema` of a typed tool: its output, or the structured content of an error result
/// (`{"error": "payment_required", …}`). Clients (the TS SDK among them) validate every
/// `structuredContent` against it, error results included.
fn output_schema<T: JsonSchema>() -> Value {
    let mut output = schema_for::<T>();
    let Value::Object(o) = &mut output else { return output };
    let dialect = o.remove("$schema");
    let mut defs = match o.remove("$defs") {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    defs.insert(
        "ToolError".into(),
        json!({ "type": "object", "required": ["error"], "properties": {
            "error": { "type": "string", "description": "A machine-readable code, e.g. payment_required." },
            "entitlement": { "type": "string", "description": "The entitlement a paid tool needs." },
            "upgrade_url": { "type": ["string", "null"], "description": "Where to get it." } } }),
    );
    let mut schema = json!({ "type": "object", "anyOf": [output, { "$ref": "#/$defs/ToolError" }], "$defs": defs });
    if let Some(d) = dialect {
        schema["$schema"] = d;
    }
    schema
}

/// What reading a resource gives.
pub enum ResourceBody {
    Text(String),
    /// Base64-encoded bytes.
    Blob(String),
}

/// A static resource (`resources/list`, `resources/read`).
pub struct Resource {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub mime_type: &'static str,
    pub read: fn(&ToolContext<'_>) -> ResourceBody,
}

/// A resource template (`resources/templates/list`); `read` returns `None` for a URI it does
/// not serve.
pub struct ResourceTemplate {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub mime_type: &'static str,
    pub read: fn(&str, &Registry) -> Option<ResourceBody>,
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
    /// Renders the whole `prompts/get` result from the (string) arguments.
    pub render: PromptRenderer,
}

/// Renders the whole `prompts/get` result from the (string) arguments.
pub type PromptRenderer =
    fn(&Map<String, Value>, &Registry, &ToolContext<'_>) -> Result<Value, super::jsonrpc::RpcError>;

/// A `prompts/get` result with one user text message.
pub fn user_prompt(description: &str, text: String) -> Value {
    json!({ "description": description, "messages": [{ "role": "user", "content": { "type": "text", "text": text } }] })
}

/// Everything the server offers. Built once per isolate.
#[derive(Default)]
pub struct Registry {
    pub tools: Vec<RegisteredTool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
    /// OAuth scopes an MCP method needs, e.g. `("resources/read", &["docs:read"])`.
    pub method_scopes: Vec<(&'static str, &'static [&'static str])>,
}

impl Registry {
    /// Requires `scopes` for every call of `method` (403 `insufficient_scope` without them).
    pub fn require_scopes(&mut self, method: &'static str, scopes: &'static [&'static str]) -> &mut Self {
        self.method_scopes.push((method, scopes));
        self
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

    pub fn tool<T: Tool>(&mut self, tool: T) -> &mut Self {
        self.tools.push(RegisteredTool::new(tool));
        self
    }
    pub fn raw_tool(&mut self, info: ToolInfo, input_schema: Value, handler: RawHandler) -> &mut Self {
        self.tools.push(RegisteredTool::raw(info, input_schema, handler));
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
