//! The tool API: what a kit user implements. A tool is a typed input, a typed output and an
//! async handler; JSON Schemas come from the Rust types (schemars), never hand-written.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::rc::Rc;

use super::context::{LocalFuture, ToolContext};
use super::jsonrpc::RpcError;
use super::param_headers::{annotations, ParamHeader};

pub use super::annotations::{Annotations, Icon};
pub use super::extension::{Extensions, ToolExtension};
use super::tasks::TaskSupport;

/// A tool failure the model should see: becomes a result with `isError: true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    /// What the model reads.
    pub message: String,
    /// `structuredContent` to send with it, if any.
    pub structured: Option<Value>,
}

impl ToolError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ToolError { message: message.into(), structured: None }
    }
    /// The same error with `structuredContent`.
    pub fn with_structured(mut self, v: Value) -> Self {
        self.structured = Some(v);
        self
    }
}

/// A tool's description, as `tools/list` shows it, plus what mKit enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// The tool's name: what clients call.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// What it does, for the model.
    pub description: &'static str,
    /// Behaviour hints.
    pub annotations: Annotations,
    /// Icons.
    pub icons: Vec<Icon>,
    /// OAuth scopes a caller needs to see and call the tool.
    pub scopes: &'static [&'static str],
    /// The tool may answer `input_required` (elicitation, sampling, roots): on the 2025 wire its
    /// calls are answered as an event stream on a held session (`mcp::rounds`).
    pub asks_client: bool,
    /// Whether the tool runs as a task for clients that take tasks (`mcp::tasks`).
    pub task_support: TaskSupport,
    /// What layers above the protocol core attach to the tool, e.g. its price (`mkit::price`).
    pub extensions: Extensions,
}

/// A tool's description is built in `info()`; a price is one more line there, from the kit's
/// `mkit::price::Priced` (an extension of the description: this crate knows no price):
///
/// ```
/// use mkit_mcp::ToolInfo; // `mkit::mcp::ToolInfo` in a seller's crate
///
/// let report = ToolInfo::new("report", "A monthly report.").title("Report").read_only().scopes(&["reports"]);
/// assert_eq!((report.name, report.annotations.read_only_hint), ("report", Some(true)));
/// assert!(!report.extensions.gated(), "no price: it runs for every caller with the scope");
/// ```
impl ToolInfo {
    /// A free, unscoped tool called `name` that does `description`.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        ToolInfo {
            name,
            title: None,
            description,
            annotations: Annotations::default(),
            icons: Vec::new(),
            scopes: &[],
            asks_client: false,
            task_support: TaskSupport::Forbidden,
            extensions: Extensions::default(),
        }
    }
    /// Long work: for clients that declare the 2026-07-28 Tasks extension, a call is stored as a
    /// task and run in the background, and the client polls it (`Required`: only so).
    pub fn task_support(mut self, support: TaskSupport) -> Self {
        self.task_support = support;
        self
    }
    /// The tool asks the client for input mid-call (it may return `mcp::mrtr::input_required`).
    /// 2026-07-28 clients answer and retry; on the 2025 wire mKit holds a session for clients
    /// that declare sampling, elicitation or roots, and asks them on the call's stream.
    pub fn asks_client(mut self) -> Self {
        self.asks_client = true;
        self
    }
    /// Its human-readable title.
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
    /// Its behaviour hints.
    pub fn annotations(mut self, a: Annotations) -> Self {
        self.annotations = a;
        self
    }
    /// Adds an icon.
    pub fn icon(mut self, src: &str, mime_type: &str) -> Self {
        self.icons.push(Icon { src: src.into(), mime_type: Some(mime_type.into()), sizes: Vec::new() });
        self
    }
    /// OAuth scopes a caller needs to see and call it.
    pub fn scopes(mut self, scopes: &'static [&'static str]) -> Self {
        self.scopes = scopes;
        self
    }
    /// Attaches `extension` (one of each type: a second replaces the first).
    pub fn with<E: ToolExtension>(mut self, extension: E) -> Self {
        self.extensions.insert(extension);
        self
    }
    /// The extension of type `E`, if attached.
    pub fn extension<E: ToolExtension>(&self) -> Option<&E> {
        self.extensions.get::<E>()
    }
}

/// Implement this for each tool (one file in `src/tools/`), then register it in
/// `src/tools/mod.rs` with one line. `mkit::testing::call_tool` calls it natively, as a client
/// would (its example is this one's continuation).
///
/// ```
/// use mkit_mcp::{Registry, Tool, ToolContext, ToolError, ToolInfo}; // `mkit::mcp::…`
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// struct Add;
///
/// #[derive(Deserialize, JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Input {
///     /// The numbers to add.
///     numbers: Vec<i64>,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Output {
///     sum: i64,
/// }
///
/// impl Tool for Add {
///     type Input = Input;
///     type Output = Output;
///
///     fn info(&self) -> ToolInfo {
///         ToolInfo::new("add", "Adds numbers.").read_only()
///     }
///
///     async fn call(&self, _ctx: &ToolContext<'_>, input: Input) -> Result<Output, ToolError> {
///         let sum = input.numbers.iter().try_fold(0i64, |a, n| a.checked_add(*n));
///         sum.map(|sum| Output { sum }).ok_or_else(|| ToolError::new("the sum overflows"))
///     }
/// }
///
/// let mut registry = Registry::default(); // `mkit::tools::standard()` in a seller's crate
/// registry.tool(Add);
/// let add = registry.find_tool("add").expect("registered");
/// assert_eq!(add.input_schema["required"], serde_json::json!(["numbers"]), "the schema, derived");
/// ```
// Workers run one thread, so handler futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Tool: 'static {
    /// The arguments; its JSON Schema is the tool's `inputSchema`. Use
    /// `#[serde(deny_unknown_fields)]` so unexpected arguments are refused.
    type Input: DeserializeOwned + JsonSchema;
    /// The result; its JSON Schema is the tool's `outputSchema`, and a value is returned both as
    /// `structuredContent` and as JSON text.
    type Output: Serialize + JsonSchema;

    /// The tool's name, description, hints, scopes and price.
    fn info(&self) -> ToolInfo;

    /// Runs the tool for the caller in `ctx`.
    async fn call(&self, ctx: &ToolContext<'_>, input: Self::Input) -> Result<Self::Output, ToolError>;
}

/// What calling a tool produced, before it is rendered for a protocol version.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    /// The result value.
    Ok(Value),
    /// The arguments do not fit `inputSchema`: a tool execution error per 2025-11-25.
    InvalidInput(String),
    /// The tool failed.
    Failed(ToolError),
    /// A complete `CallToolResult` (or 2026-07-28 `InputRequiredResult`) built by a raw tool.
    Raw(Value),
    /// A protocol-level error, e.g. -32021 for a missing client capability.
    Protocol(RpcError),
}

impl ToolOutcome {
    /// A raw tool's 2026-07-28 `input_required` round.
    pub fn asks_for_input(&self) -> bool {
        matches!(self, ToolOutcome::Raw(r) if r.get("resultType").and_then(Value::as_str) == Some("input_required"))
    }

    /// The output of a run that finished (a typed tool's value, a raw tool's `structuredContent`
    /// or whole result), or `None` for one that failed or waits for input.
    pub fn finished(&self) -> Option<&Value> {
        if self.asks_for_input() {
            return None;
        }
        match self {
            ToolOutcome::Ok(v) => Some(v),
            ToolOutcome::Raw(r) if r.get("isError") == Some(&Value::Bool(true)) => None,
            ToolOutcome::Raw(r) => Some(r.get("structuredContent").unwrap_or(r)),
            _ => None,
        }
    }
}

type CallFn = Box<dyn for<'a> Fn(&'a ToolContext<'a>, Value) -> LocalFuture<'a, ToolOutcome>>;

/// A registered tool with its schemas computed once.
pub struct RegisteredTool {
    /// What the tool said of itself.
    pub info: ToolInfo,
    /// `inputSchema`.
    pub input_schema: Value,
    /// `outputSchema`, if the output is an object.
    pub output_schema: Option<Value>,
    /// `x-mcp-header` parameters, or why they are invalid (the tool is then neither listed nor callable).
    pub param_headers: Result<Vec<ParamHeader>, String>,
    call: CallFn,
}

impl RegisteredTool {
    /// Wraps `tool`, deriving its schemas.
    pub fn new<T: Tool>(tool: T) -> Self {
        let info = tool.info();
        let tool = Rc::new(tool);
        let input_schema = schema_for::<T::Input>();
        RegisteredTool {
            info,
            param_headers: annotations(&input_schema),
            input_schema,
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
    /// resources) or multi-round results. Its arguments are not validated for it. `handler` is
    /// any `async fn(&ToolContext<'_>, Value) -> Result<Value, RpcError>`.
    pub fn raw<F>(info: ToolInfo, input_schema: Value, handler: F) -> Self
    where
        F: for<'c, 'd> AsyncFn(&'c ToolContext<'d>, Value) -> Result<Value, RpcError> + 'static,
    {
        let handler = Rc::new(handler);
        RegisteredTool {
            info,
            param_headers: annotations(&input_schema),
            input_schema,
            output_schema: None,
            call: Box::new(move |ctx, args| {
                let handler = handler.clone();
                Box::pin(async move {
                    match handler(ctx, args).await {
                        Ok(v) => ToolOutcome::Raw(v),
                        Err(e) => ToolOutcome::Protocol(e),
                    }
                })
            }),
        }
    }

    /// Calls the tool with raw JSON arguments.
    pub fn call<'a>(&'a self, ctx: &'a ToolContext<'a>, args: Value) -> LocalFuture<'a, ToolOutcome> {
        (self.call)(ctx, args)
    }
}

/// A JSON Schema 2020-12 object schema for `T`, as MCP wants it: root `type: "object"`, and
/// only the standard formats.
fn schema_for<T: JsonSchema>() -> Value {
    let mut v = schemars::schema_for!(T).to_value();
    super::schema::standard_formats_only(&mut v);
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
            "upgrade_url": { "type": ["string", "null"], "description": "A page where it can be bought." },
            "checkout_url": { "type": ["string", "null"],
                "description": "The caller's own pay link: open it, sign in as yourself, pay, then call again." },
            "quota": { "type": "string", "description": "The free quota used up (quota_exceeded)." },
            "resets_at": { "type": "string", "description": "When that quota resets (RFC 3339, UTC)." } } }),
    );
    let mut schema = json!({ "type": "object", "anyOf": [output, { "$ref": "#/$defs/ToolError" }], "$defs": defs });
    if let Some(d) = dialect {
        schema["$schema"] = d;
    }
    schema
}
