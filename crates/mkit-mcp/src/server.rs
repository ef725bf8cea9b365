//! MCP method dispatch for both eras. The transport has already checked the envelope, the
//! version and the headers; this module turns (method, params) into a result or an error.

use serde_json::{json, Map, Value};

use super::completion;
use super::context::{LogLevel, ToolContext};
use super::gate::{self, Call};
use super::jsonrpc::{RpcError, METHOD_NOT_FOUND};
use super::method::Method;
use super::registry::{Prompt, Registry};
use super::render::{render_prompt, render_resource, render_template, render_tool};
use super::rendered::{list_key, ListKey};
use super::resources;
use super::tasks;
use super::tasks_2025;
use super::tool::RegisteredTool;
use super::version::{Era, ProtocolVersion};

/// Why a request was not answered with a result.
#[derive(Debug, Clone, PartialEq)]
pub enum DispatchError {
    /// A JSON-RPC error response.
    Rpc(RpcError),
    /// The token lacks `scopes`: HTTP 403 with an `insufficient_scope` challenge (step-up).
    Forbidden { scopes: Vec<String> },
}

impl From<RpcError> for DispatchError {
    fn from(e: RpcError) -> Self {
        DispatchError::Rpc(e)
    }
}

type Dispatched = Result<Value, DispatchError>;

/// `serverInfo` / `io.modelcontextprotocol/serverInfo`.
pub struct ServerInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub website_url: Option<&'static str>,
    pub instructions: &'static str,
}

impl ServerInfo {
    pub fn to_value(&self, v: ProtocolVersion) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.into());
        m.insert("version".into(), self.version.into());
        if v.has_structured_output() {
            m.insert("title".into(), self.title.into());
        }
        if v.has_icons() {
            m.insert("description".into(), self.description.into());
            if let Some(url) = self.website_url {
                m.insert("websiteUrl".into(), url.into());
            }
        }
        Value::Object(m)
    }
}

pub struct Server<'r> {
    pub registry: &'r Registry,
    pub info: &'r ServerInfo,
    pub page_size: usize,
    /// Extensions the deployment serves beside the protocol (e.g. the authorization server's
    /// `io.modelcontextprotocol/oauth-client-credentials`), announced in `capabilities.extensions`.
    pub extensions: &'r [&'static str],
}

impl Server<'_> {
    pub fn capabilities(&self, v: ProtocolVersion) -> Value {
        // No listChanged: the lists do not change while a deployment runs.
        let mut caps = json!({ "tools": {}, "resources": {}, "prompts": {}, "completions": {} });
        if v.era() == Era::Handshake {
            caps["logging"] = json!({});
            if v.has_tasks() && self.registry.runs_tasks() {
                caps["tasks"] = tasks_2025::capability();
            }
        } else if self.registry.runs_tasks() {
            caps["extensions"] = json!({ (tasks::EXTENSION): {} });
        }
        for id in self.extensions {
            caps["extensions"][*id] = json!({});
        }
        // `subscriptions/listen` carries updates of the resources that announce them.
        if v.era() != Era::Handshake && !self.registry.subscribable.is_empty() {
            caps["resources"]["subscribe"] = true.into();
        }
        caps
    }

    /// Answers one request. `params` is `{}` when the request had none.
    pub async fn dispatch(&self, ctx: &ToolContext<'_>, method: Method<'_>, params: &Map<String, Value>) -> Dispatched {
        let v = ctx.protocol_version;
        let handshake = v.era() == Era::Handshake;
        let name = method.name();
        require_scopes(ctx, &self.registry.scopes_for(name))?;
        let reg = self.registry;
        let not_found = || Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {name}")).into());
        match method {
            Method::Initialize if handshake => Ok(self.initialize(params)),
            Method::Ping if handshake => Ok(json!({})),
            Method::SetLevel if handshake => Ok(set_level(params)?),
            Method::Discover if !handshake => Ok(self.discover(v)),
            Method::Initialize | Method::Ping | Method::SetLevel | Method::Discover => not_found(),
            Method::ToolsList => Ok(self.page(params, "tools", self.visible(ctx), |t| render_tool(t, v))?),
            Method::ToolsCall => self.call_tool(ctx, params).await,
            Method::ResourcesList => {
                Ok(self.page(params, "resources", reg.resources.iter(), |r| render_resource(r, v))?)
            }
            Method::TemplatesList => {
                Ok(self.page(params, "resourceTemplates", reg.templates.iter(), |t| render_template(t, v))?)
            }
            Method::ResourcesRead => Ok(resources::read(reg, ctx, params).await?),
            Method::Subscribe if handshake => Ok(resources::subscribe(reg, ctx, params, true).await?),
            Method::Unsubscribe if handshake => Ok(resources::subscribe(reg, ctx, params, false).await?),
            Method::Subscribe | Method::Unsubscribe => not_found(),
            Method::PromptsList => Ok(self.page(params, "prompts", reg.prompts.iter(), |p| render_prompt(p, v))?),
            Method::PromptsGet => Ok(self.get_prompt(ctx, params)?),
            Method::Complete => Ok(completion::complete(reg, params)?),
            Method::TasksGet | Method::TasksUpdate | Method::TasksCancel if !handshake => {
                Ok(tasks::handle(ctx, name, params).await?)
            }
            Method::TasksGet | Method::TasksResult | Method::TasksList | Method::TasksCancel if handshake => {
                Ok(tasks_2025::handle(ctx, name, params).await?)
            }
            Method::TasksGet | Method::TasksUpdate | Method::TasksCancel | Method::TasksResult | Method::TasksList => {
                not_found()
            }
            Method::Unknown(_) => not_found(),
        }
    }

    /// A list request's memo key, once the caller may make it (else the normal dispatch answers
    /// 403), with its text when this isolate rendered it already.
    pub fn rendered_list(
        &self,
        ctx: &ToolContext<'_>,
        method: &str,
        params: &Map<String, Value>,
    ) -> Option<(ListKey, Option<std::rc::Rc<str>>)> {
        require_scopes(ctx, &self.registry.scopes_for(method)).ok()?;
        let key = list_key(self.registry, self.page_size, ctx, method, params)?;
        let text = self.registry.rendered.get(&key);
        Some((key, text))
    }

    fn discover(&self, v: ProtocolVersion) -> Value {
        json!({
            "supportedVersions": ProtocolVersion::all_supported(),
            "capabilities": self.capabilities(v),
            "instructions": self.info.instructions,
        })
    }

    fn initialize(&self, params: &Map<String, Value>) -> Value {
        // Echo a supported handshake version; otherwise offer our latest and let the client decide.
        let negotiated = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(ProtocolVersion::parse)
            .filter(|v| v.era() == Era::Handshake)
            .unwrap_or(ProtocolVersion::LATEST_HANDSHAKE);
        json!({
            "protocolVersion": negotiated.as_str(),
            "capabilities": self.capabilities(negotiated),
            "serverInfo": self.info.to_value(negotiated),
            "instructions": self.info.instructions,
        })
    }

    /// One page of `items`, rendering only those on it; the cursor is the offset as decimal
    /// text, opaque to clients.
    fn page<T>(
        &self,
        params: &Map<String, Value>,
        key: &str,
        items: impl Iterator<Item = T>,
        render: impl Fn(T) -> Value,
    ) -> Result<Value, RpcError> {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) if s.is_empty() => 0,
            Some(Value::String(s)) => s.parse::<usize>().map_err(|_| RpcError::invalid_params("invalid cursor"))?,
            Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
        };
        let all: Vec<T> = items.collect();
        let total = all.len();
        if start > total {
            return Err(RpcError::invalid_params("invalid cursor"));
        }
        let end = (start + self.page_size.max(1)).min(total);
        let mut out = Map::new();
        out.insert(key.into(), all.into_iter().skip(start).take(end - start).map(render).collect());
        if end < total {
            out.insert("nextCursor".into(), end.to_string().into());
        }
        Ok(Value::Object(out))
    }

    fn visible<'t>(&'t self, ctx: &'t ToolContext<'_>) -> impl Iterator<Item = &'t RegisteredTool> + 't {
        self.registry.tools.iter().filter(move |t| t.param_headers.is_ok() && ctx.principal.has_scopes(t.info.scopes))
    }

    async fn call_tool(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Dispatched {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("tools/call needs a string name"))?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object").into()),
        };
        let tool =
            self.registry.find_tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        require_scopes(ctx, tool.info.scopes)?;
        let as_task = tasks::as_task(ctx, &tool.info, params)?;
        Ok(gate::dispatch(ctx, Call { tool, args, params, as_task }).await?)
    }

    fn get_prompt(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("prompts/get needs a string name"))?;
        let prompt = prompt(self.registry, name)?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) if m.values().all(Value::is_string) => m.clone(),
            Some(_) => return Err(RpcError::invalid_params("prompt arguments must be an object of strings")),
        };
        if let Some(missing) = prompt.arguments.iter().find(|a| a.required && !args.contains_key(a.name)) {
            return Err(RpcError::invalid_params(format!("missing required argument: {}", missing.name)));
        }
        (prompt.render)(&args, self.registry, ctx)
    }
}

/// The registry's prompt `name`, or -32602.
pub(super) fn prompt<'r>(registry: &'r Registry, name: &str) -> Result<&'r Prompt, RpcError> {
    registry
        .prompts
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))
}

/// Validated, not remembered: handshake-era log notifications use the default level (info).
fn set_level(params: &Map<String, Value>) -> Result<Value, RpcError> {
    match params.get("level").and_then(Value::as_str).and_then(LogLevel::parse) {
        Some(_) => Ok(json!({})),
        None => Err(RpcError::invalid_params(
            "level must be one of debug, info, notice, warning, error, critical, alert, emergency",
        )),
    }
}

/// The 403 outcome when the token lacks any of `needed`.
fn require_scopes(ctx: &ToolContext<'_>, needed: &[&str]) -> Result<(), DispatchError> {
    if ctx.principal.has_scopes(needed) {
        return Ok(());
    }
    Err(DispatchError::Forbidden { scopes: needed.iter().map(|s| (*s).to_owned()).collect() })
}
