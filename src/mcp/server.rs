//! MCP method dispatch for both eras. The transport has already checked the envelope, the
//! version and the headers; this module turns (method, params) into a result or an error.

use serde_json::{json, Map, Value};

use super::jsonrpc::{self, RpcError, INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND_LEGACY};
use super::tool::{LogLevel, RegisteredTool, Registry, ResourceBody, ToolContext, ToolError, ToolOutcome};
use super::version::{Era, ProtocolVersion};

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
}

impl Server<'_> {
    pub fn capabilities(&self, v: ProtocolVersion) -> Value {
        // No listChanged or subscribe: a stateless server has no stream to announce changes on.
        let mut caps = json!({ "tools": {}, "resources": {}, "prompts": {}, "completions": {} });
        if v.era() == Era::Handshake {
            caps["logging"] = json!({});
        }
        caps
    }

    /// Answers one request. `params` is `{}` when the request had none.
    pub async fn dispatch(
        &self,
        ctx: &ToolContext<'_>,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let v = ctx.protocol_version;
        let handshake = v.era() == Era::Handshake;
        let needed: Vec<&str> = self
            .registry
            .method_scopes
            .iter()
            .filter(|(m, _)| *m == method)
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        if !has_scopes(ctx, &needed) {
            let mut e = RpcError::new(jsonrpc::INVALID_REQUEST, format!("{method} needs scopes the token lacks"));
            e.insufficient_scope = needed.iter().map(|s| (*s).to_owned()).collect();
            return Err(e);
        }
        match method {
            "initialize" if handshake => Ok(self.initialize(params)),
            "ping" if handshake => Ok(json!({})),
            "logging/setLevel" if handshake => set_level(params),
            "server/discover" if !handshake => Ok(json!({
                "supportedVersions": ProtocolVersion::all_supported(),
                "capabilities": self.capabilities(v),
                "instructions": self.info.instructions,
            })),
            "tools/list" => self.list_tools(ctx, params),
            "tools/call" => self.call_tool(ctx, params).await,
            "resources/list" => self.page(params, "resources", self.registry.resources.iter().map(|r| {
                let mut m = json!({ "uri": r.uri, "name": r.name, "description": r.description, "mimeType": r.mime_type });
                if let (Some(t), true) = (r.title, v.has_structured_output()) {
                    m["title"] = t.into();
                }
                m
            })),
            "resources/templates/list" => self.page(params, "resourceTemplates", self.registry.templates.iter().map(|t| {
                let mut m = json!({ "uriTemplate": t.uri_template, "name": t.name, "description": t.description, "mimeType": t.mime_type });
                if let (Some(title), true) = (t.title, v.has_structured_output()) {
                    m["title"] = title.into();
                }
                m
            })),
            "resources/read" => self.read_resource(ctx, params),
            "prompts/list" => self.page(params, "prompts", self.registry.prompts.iter().map(|p| {
                let args: Vec<Value> = p.arguments.iter().map(|a| json!({ "name": a.name, "description": a.description, "required": a.required })).collect();
                let mut m = json!({ "name": p.name, "description": p.description, "arguments": args });
                if let (Some(t), true) = (p.title, v.has_structured_output()) {
                    m["title"] = t.into();
                }
                m
            })),
            "prompts/get" => self.get_prompt(ctx, params),
            "completion/complete" => self.complete(params),
            _ => Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}"))),
        }
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

    /// One page of a list; the cursor is the offset as decimal text, opaque to clients.
    fn page(
        &self,
        params: &Map<String, Value>,
        key: &str,
        items: impl Iterator<Item = Value>,
    ) -> Result<Value, RpcError> {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) if s.is_empty() => 0,
            Some(Value::String(s)) => s.parse::<usize>().map_err(|_| RpcError::invalid_params("invalid cursor"))?,
            Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
        };
        let all: Vec<Value> = items.collect();
        if start > all.len() {
            return Err(RpcError::invalid_params("invalid cursor"));
        }
        let end = (start + self.page_size.max(1)).min(all.len());
        let mut out = Map::new();
        out.insert(key.into(), Value::Array(all[start..end].to_vec()));
        if end < all.len() {
            out.insert("nextCursor".into(), end.to_string().into());
        }
        Ok(Value::Object(out))
    }

    fn visible<'t>(&'t self, ctx: &'t ToolContext<'_>) -> impl Iterator<Item = &'t RegisteredTool> + 't {
        self.registry.tools.iter().filter(move |t| has_scopes(ctx, t.info.scopes))
    }

    fn list_tools(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let v = ctx.protocol_version;
        self.page(params, "tools", self.visible(ctx).map(|t| render_tool(t, v)))
    }

    async fn call_tool(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("tools/call needs a string name"))?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object")),
        };
        let tool =
            self.registry.find_tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        if !has_scopes(ctx, tool.info.scopes) {
            let mut e = RpcError::new(jsonrpc::INVALID_REQUEST, format!("tool {name} needs scopes the token lacks"));
            e.insufficient_scope = tool.info.scopes.iter().map(|s| (*s).to_owned()).collect();
            return Err(e);
        }
        let structured = ctx.protocol_version.has_structured_output();
        if let Some(key) = tool.info.entitlement {
            let held = match ctx.entitlements.keys().await {
                Ok(held) => held,
                Err(e) => return Ok(error_result(e, structured)),
            };
            if !crate::billing::ledger::grants(held, key) {
                return Ok(error_result(payment_required(name, key, ctx.entitlements.upgrade_url), structured));
            }
        }
        Ok(match tool.call(ctx, args).await {
            ToolOutcome::Ok(out) => {
                let text = serde_json::to_string(&out).unwrap_or_default();
                let mut r = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
                if structured {
                    r["structuredContent"] = out;
                }
                r
            }
            ToolOutcome::InvalidInput(msg) => json!({
                "content": [{ "type": "text", "text": format!("Invalid arguments for tool {name}: {msg}") }],
                "isError": true,
            }),
            ToolOutcome::Raw(result) => result,
            ToolOutcome::Protocol(e) => return Err(e),
            ToolOutcome::Failed(err) => error_result(err, structured),
        })
    }

    fn read_resource(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let uri = params
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("resources/read needs a string uri"))?;
        let found =
            self.registry.resources.iter().find(|r| r.uri == uri).map(|r| (r.mime_type, (r.read)(ctx))).or_else(|| {
                self.registry.templates.iter().find_map(|t| (t.read)(uri, self.registry).map(|b| (t.mime_type, b)))
            });
        match found {
            Some((mime, body)) => {
                let mut contents = json!({ "uri": uri, "mimeType": mime });
                match body {
                    ResourceBody::Text(text) => contents["text"] = text.into(),
                    ResourceBody::Blob(blob) => contents["blob"] = blob.into(),
                }
                Ok(json!({ "contents": [contents] }))
            }
            None => {
                let code = if ctx.protocol_version.era() == Era::Stateless {
                    INVALID_PARAMS
                } else {
                    RESOURCE_NOT_FOUND_LEGACY
                };
                Err(RpcError::new(code, "resource not found").with_data(json!({ "uri": uri })))
            }
        }
    }

    fn prompt(&self, name: &str) -> Result<&super::tool::Prompt, RpcError> {
        self.registry
            .prompts
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))
    }

    fn get_prompt(&self, ctx: &ToolContext<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("prompts/get needs a string name"))?;
        let prompt = self.prompt(name)?;
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

    fn complete(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let bad = || RpcError::invalid_params("completion/complete needs ref and argument {name, value}");
        let reference = params.get("ref").and_then(Value::as_object).ok_or_else(bad)?;
        let argument = params.get("argument").and_then(Value::as_object).ok_or_else(bad)?;
        let arg_name = argument.get("name").and_then(Value::as_str).ok_or_else(bad)?;
        let prefix = argument.get("value").and_then(Value::as_str).ok_or_else(bad)?;
        let values: Vec<String> = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = reference.get("name").and_then(Value::as_str).ok_or_else(bad)?;
                self.prompt(name)?
                    .arguments
                    .iter()
                    .find(|a| a.name == arg_name)
                    .and_then(|a| a.complete)
                    .map(|f| f(self.registry))
                    .unwrap_or_default()
            }
            Some("ref/resource") => {
                reference.get("uri").and_then(Value::as_str).ok_or_else(bad)?;
                Vec::new()
            }
            _ => return Err(bad()),
        };
        let matching: Vec<String> = values.into_iter().filter(|s| s.starts_with(prefix)).collect();
        let total = matching.len();
        let shown: Vec<String> = matching.into_iter().take(100).collect();
        Ok(json!({ "completion": { "values": shown, "total": total, "hasMore": total > 100 } }))
    }
}

/// Accepted and validated; a stateless server cannot remember it, so log notifications use the
/// default level (info) in the handshake era.
fn set_level(params: &Map<String, Value>) -> Result<Value, RpcError> {
    match params.get("level").and_then(Value::as_str).and_then(LogLevel::parse) {
        Some(_) => Ok(json!({})),
        None => Err(RpcError::invalid_params(
            "level must be one of debug, info, notice, warning, error, critical, alert, emergency",
        )),
    }
}

fn has_scopes(ctx: &ToolContext<'_>, needed: &[&str]) -> bool {
    needed.is_empty() || ctx.principal.is_some_and(|p| needed.iter().all(|s| p.scopes.iter().any(|h| h == s)))
}

/// A tool result with `isError: true`; the structured part where the version has one.
fn error_result(err: ToolError, structured: bool) -> Value {
    let mut r = json!({ "content": [{ "type": "text", "text": err.message }], "isError": true });
    if let (Some(s), true) = (err.structured, structured) {
        r["structuredContent"] = s;
    }
    r
}

/// Design: not a 403 (re-authorizing cannot fix a missing payment) but a result the model can
/// act on, naming the entitlement and where to get it.
fn payment_required(tool: &str, key: &str, upgrade_url: Option<&str>) -> ToolError {
    let mut text = format!("The tool {tool} needs the \"{key}\" entitlement, which this account does not have.");
    if let Some(url) = upgrade_url {
        text.push_str(&format!(" Upgrade at {url}"));
    }
    ToolError::new(text)
        .with_structured(json!({ "error": "payment_required", "entitlement": key, "upgrade_url": upgrade_url }))
}

/// A tool as `tools/list` shows it to a client of version `v`.
fn render_tool(t: &RegisteredTool, v: ProtocolVersion) -> Value {
    let i = &t.info;
    let mut m = json!({ "name": i.name, "description": i.description, "inputSchema": t.input_schema });
    if i.annotations != Default::default() {
        m["annotations"] = serde_json::to_value(&i.annotations).unwrap_or_default();
    }
    if v.has_structured_output() {
        if let Some(title) = i.title {
            m["title"] = title.into();
        }
        if let Some(schema) = &t.output_schema {
            m["outputSchema"] = schema.clone();
        }
    }
    if v.has_icons() && !i.icons.is_empty() {
        m["icons"] = serde_json::to_value(&i.icons).unwrap_or_default();
    }
    if let Some(key) = i.entitlement {
        m["_meta"] = json!({ "mkit/entitlement": key });
    }
    m
}
