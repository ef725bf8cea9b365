//! Transport and dispatch tests of the protocol core (`mkit-mcp`) with the kit's paywall as its
//! gate and the shipped tools: every branch and error code of both eras, natively.

use serde_json::{json, Value};
use std::future::Future;
use std::task::{Context, Poll, Waker};

use crate::auth::prm::Challenge;
use crate::auth::Principal;
use crate::http::HttpReply;
use crate::mcp::cors;
use crate::mcp::jsonrpc::*;
use crate::mcp::mrtr::Sealing;
use crate::mcp::param_headers::decode_header_value;
use crate::mcp::transport::{self, Caller, HttpRequest};
use crate::mcp::ServerInfo;
use crate::mcp::{Registry, Server, Tool, ToolContext, ToolError, ToolInfo};
use crate::paywall::{Denial, Entitlements, Gatekeeper, MeterUsage, PayLink};
use crate::price::Priced;

/// The template's example tools (the repository's root crate, `src/tools/`), compiled here as its
/// sellers start with them: a D1 tool and a paid tool for these tests.
#[path = "../../../src/tools/notes.rs"]
mod example_notes;
#[path = "../../../src/tools/text_stats.rs"]
mod example_text_stats;
mod examples {
    pub(super) use super::example_notes::Remember;
    pub(super) use super::example_text_stats::TextStats;
}

const SERVER_INFO: ServerInfo = ServerInfo {
    name: "mkit",
    title: "mKit",
    version: crate::build_info::VERSION,
    description: "A paid, remote MCP server on Cloudflare Workers.",
    website_url: None,
    instructions: "Call whoami to see your identity and entitlements.",
};

/// Drives a future that never waits on real I/O (the tools under test do not).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

struct Req {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest for Req {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

/// A tool only callers with the `notes:admin` scope may see.
struct Admin;
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Empty {}
impl Tool for Admin {
    type Input = Empty;
    type Output = Value;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("admin_only", "needs a scope").scopes(&["notes:admin"])
    }
    async fn call(&self, _: &ToolContext<'_>, _: Empty) -> Result<Value, ToolError> {
        Ok(json!({"ok": true}))
    }
}

/// A tool that reports progress and logs, as long-running tools do.
struct Chatty;
impl Tool for Chatty {
    type Input = Empty;
    type Output = Value;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("chatty", "progress and logs")
    }
    async fn call(&self, ctx: &ToolContext<'_>, _: Empty) -> Result<Value, ToolError> {
        ctx.log(crate::mcp::LogLevel::Debug, "chatty", json!("too detailed"));
        for i in 0..3 {
            ctx.progress(f64::from(i * 50), Some(100.0), None);
            ctx.log(crate::mcp::LogLevel::Info, "chatty", json!(format!("step {i}")));
        }
        Ok(json!({"done": true}))
    }
}

/// A tool with two free calls a day (and one paid tool with one), failing when asked.
struct Metered(&'static str, Option<&'static str>, u32);
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct FailInput {
    #[serde(default)]
    fail: bool,
}
impl Tool for Metered {
    type Input = FailInput;
    type Output = Value;
    fn info(&self) -> ToolInfo {
        let info = ToolInfo::new(self.0, "metered").free_quota(self.2, crate::quota::Window::Day);
        match self.1 {
            Some(e) => info.entitlement(e),
            None => info,
        }
    }
    async fn call(&self, _: &ToolContext<'_>, input: FailInput) -> Result<Value, ToolError> {
        if input.fail {
            return Err(ToolError::new("failed as asked"));
        }
        Ok(json!({"ran": self.0}))
    }
}

/// The shipped registry's resources and prompts with only the kit's example tools: a seller's own
/// tool (the README's `shout`, added as shown) must not change what these tests expect.
fn registry() -> Registry {
    let mut r = crate::tools::standard();
    r.tool(examples::Remember).tool(examples::TextStats);
    r.tool(Admin).tool(Chatty).tool(Metered("metered", None, 2)).tool(Metered("paid_metered", Some("gold"), 1));
    r
}

struct Harness {
    registry: Registry,
    page_size: usize,
    principal: Principal,
    entitlements: Ledger,
    /// What a handshake-era client's `Mcp-Session-Id` declared.
    session: Option<Value>,
    /// Per-call machine payments, where a test takes them.
    machine_pay: Option<Box<dyn crate::paywall::x402::MachinePay>>,
    /// No gate at all (the paywall left out): what the core does on its own.
    ungated: bool,
}

/// A settle the ledger stand-in was asked for: the debit, and the meter's name and value.
type Settled = (Option<String>, Option<(String, i64)>);

/// A ledger stand-in that counts its reads (`crate::paywall` tests the real answers).
struct Ledger {
    keys: Result<Vec<String>, String>,
    reads: std::cell::Cell<usize>,
    /// A pay link to offer, as the paywall does when the pay pages are configured.
    pay: Option<PayLink>,
    /// Free calls left per quota key, and the calls given back.
    free: std::cell::RefCell<std::collections::HashMap<String, u32>>,
    given_back: std::cell::Cell<usize>,
    /// Prepaid credits, and each settle (debit, metered usage) and refund asked for.
    credits: std::cell::Cell<i64>,
    settled: std::cell::RefCell<Vec<Settled>>,
    refunded: std::cell::RefCell<Vec<String>>,
}

impl Ledger {
    fn new(keys: Result<&[&str], &str>) -> Ledger {
        let keys = keys.map(|k| k.iter().map(|s| (*s).to_owned()).collect()).map_err(str::to_owned);
        Ledger {
            keys,
            reads: Default::default(),
            pay: None,
            free: Default::default(),
            given_back: Default::default(),
            credits: Default::default(),
            settled: Default::default(),
            refunded: Default::default(),
        }
    }
}

impl Entitlements for Ledger {
    async fn keys(&self) -> Result<Vec<String>, ToolError> {
        self.reads.set(self.reads.get() + 1);
        self.keys.clone().map_err(|e| ToolError::new(e).with_structured(json!({"error": "entitlements_unavailable"})))
    }
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), Denial> {
        match self.keys().await.map_err(Denial::Unavailable)?.iter().any(|k| k == entitlement) {
            true => Ok(()),
            false => Err(Denial::PaymentRequired {
                result: ToolError::new(format!("{tool} needs {entitlement}"))
                    .with_structured(json!({"error": "payment_required", "entitlement": entitlement})),
                pay: self.pay.clone(),
            }),
        }
    }
    async fn take_free_call(&self, key: &str, q: &crate::quota::FreeQuota) -> Result<i64, Denial> {
        match self.left(key, q) {
            0 => Err(Denial::QuotaExceeded(
                ToolError::new("quota used up").with_structured(json!({"error": "quota_exceeded", "quota": key})),
            )),
            n => {
                self.free.borrow_mut().insert(key.to_owned(), n - 1);
                Ok(0)
            }
        }
    }
    async fn give_back_free_call(&self, key: &str, q: &crate::quota::FreeQuota, _window_start: i64) {
        let n = self.left(key, q);
        self.free.borrow_mut().insert(key.to_owned(), n + 1);
        self.given_back.set(self.given_back.get() + 1);
    }
    async fn reserve_credits(&self, tool: &str, credits: u32) -> Result<String, Denial> {
        if self.credits.get() < i64::from(credits) {
            let result = ToolError::new(format!("{tool} costs {credits}"))
                .with_structured(json!({"error": "payment_required", "credits": credits}));
            return Err(Denial::PaymentRequired { result, pay: None });
        }
        self.credits.set(self.credits.get() - i64::from(credits));
        Ok(format!("debit{}", self.credits.get()))
    }
    async fn settle_call(&self, debit: Option<&str>, usage: Option<MeterUsage<'_>>) {
        let usage = usage.map(|u| (u.event_name.to_owned(), u.value));
        self.settled.borrow_mut().push((debit.map(str::to_owned), usage));
    }
    async fn refund_credits(&self, debit: &str) {
        self.refunded.borrow_mut().push(debit.to_owned());
    }
}

impl Ledger {
    fn left(&self, key: &str, q: &crate::quota::FreeQuota) -> u32 {
        *self.free.borrow_mut().entry(key.to_owned()).or_insert(q.calls)
    }
}

/// A caller with no scopes, as most tests use.
fn user(scopes: &[&str]) -> Principal {
    Principal::new("u1", None, scopes.iter().map(|s| (*s).to_owned()).collect())
}

impl Harness {
    fn new() -> Self {
        Harness {
            registry: registry(),
            page_size: 50,
            principal: user(&[]),
            entitlements: Ledger::new(Ok(&["pro"])),
            session: None,
            machine_pay: None,
            ungated: false,
        }
    }

    fn post(&self, headers: &[(&str, &str)], body: &str) -> HttpReply {
        let req = Req {
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        };
        let server =
            Server { registry: &self.registry, info: &SERVER_INFO, page_size: self.page_size, extensions: &[] };
        let sealing =
            Sealing { keys: vec![[7; 32]], issuer: "https://issuer.example/".into(), now_secs: 1_800_000_000 };
        let gate = Gatekeeper { access: &self.entitlements, machine: self.machine_pay.as_deref() };
        let caller = Caller {
            principal: &self.principal,
            gate: if self.ungated { None } else { Some(&gate) },
            platform: None,
            sealing: Some(&sealing),
            session_capabilities: self.session.as_ref(),
            hub: None,
            held: false,
            tasks: None,
            task_ticket: None,
        };
        let r = block_on(transport::handle_post(&server, &req, transport::parse_body(&req.body), &caller));
        assert!(r.header("Mcp-Session-Id").is_none(), "no session unless a client declares URL elicitation");
        r
    }

    /// A handshake-era request at `version` (None: no header).
    fn rpc(&self, version: Option<&str>, method: &str, params: Value) -> (u16, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut headers = vec![("Accept", "application/json, text/event-stream"), ("Content-Type", "application/json")];
        if let Some(v) = version {
            headers.push(("MCP-Protocol-Version", v));
        }
        let r = self.post(&headers, &body);
        (r.status, serde_json::from_str(&r.body).expect("json body"))
    }

    /// A stateless-era request with every header set right, unless `tweak` changes them.
    fn stateless(
        &self,
        method: &str,
        mut params: Value,
        tweak: impl FnOnce(&mut Vec<(String, String)>),
    ) -> (u16, Value) {
        // Keep `_meta` fields a test set (e.g. client capabilities); fill in the required ones.
        let meta = params.get("_meta").cloned().unwrap_or_else(|| json!({}));
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        if let Value::Object(m) = meta {
            for (k, v) in m {
                params["_meta"][k] = v;
            }
        }
        let mut headers = vec![
            ("Accept".to_string(), "application/json, text/event-stream".to_string()),
            ("MCP-Protocol-Version".into(), "2026-07-28".into()),
            ("Mcp-Method".into(), method.into()),
        ];
        if let Some(name) = params.get("name").or(params.get("uri")).and_then(Value::as_str) {
            headers.push(("Mcp-Name".into(), name.into()));
        }
        tweak(&mut headers);
        let body = json!({"jsonrpc": "2.0", "id": "s1", "method": method, "params": params}).to_string();
        let hs: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let r = self.post(&hs, &body);
        (r.status, serde_json::from_str(&r.body).expect("json body"))
    }
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or(0)
}

const V1: &str = "2025-03-26";
const V2: &str = "2025-06-18";
const V3: &str = "2025-11-25";

#[test]
fn initialize_echoes_supported_versions_and_offers_latest_otherwise() {
    let h = Harness::new();
    for v in [V1, V2, V3] {
        let (s, r) = h.rpc(
            None,
            "initialize",
            json!({"protocolVersion": v, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        assert_eq!(s, 200);
        assert_eq!(r["result"]["protocolVersion"], v);
        assert_eq!(r["result"]["serverInfo"]["name"], "mkit");
        assert!(r["result"]["capabilities"]["tools"].is_object());
        assert!(r["result"]["capabilities"]["logging"].is_object());
    }
    let (_, r) = h.rpc(None, "initialize", json!({"protocolVersion": "2024-11-05"}));
    assert_eq!(r["result"]["protocolVersion"], V3);
    let (_, r) = h.rpc(None, "initialize", json!({"protocolVersion": "2026-07-28"}));
    assert_eq!(r["result"]["protocolVersion"], V3, "2026-07-28 has no handshake");
    let (_, r) = h.rpc(None, "initialize", json!({}));
    assert_eq!(r["result"]["protocolVersion"], V3);
    // Fields by version: title from 2025-06-18, description from 2025-11-25.
    let (_, r) = h.rpc(None, "initialize", json!({"protocolVersion": V1}));
    assert!(r["result"]["serverInfo"].get("title").is_none());
    let (_, r) = h.rpc(None, "initialize", json!({"protocolVersion": V3}));
    assert_eq!(r["result"]["serverInfo"]["title"], "mKit");
    assert!(r["result"]["serverInfo"]["description"].is_string());
}

#[test]
fn notifications_and_responses_get_202_with_no_body() {
    let h = Harness::new();
    for body in [
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
        r#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
    ] {
        let r = h.post(&[("Accept", "application/json")], body);
        assert_eq!((r.status, r.body.as_str()), (202, ""), "{body}");
    }
}

#[test]
fn protocol_version_header_rules() {
    let h = Harness::new();
    // Absent: 2025-03-26, which knows no outputSchema.
    let (s, r) = h.rpc(None, "tools/list", json!({}));
    assert_eq!(s, 200);
    assert!(r["result"]["tools"][0].get("outputSchema").is_none());
    let (_, r) = h.rpc(Some(V2), "tools/list", json!({}));
    assert!(r["result"]["tools"][0]["outputSchema"].is_object());
    // Unsupported: 400 listing what is supported.
    let (s, r) = h.rpc(Some("2024-01-01"), "tools/list", json!({}));
    assert_eq!(s, 400);
    assert_eq!(code(&r), INVALID_REQUEST);
    assert_eq!(r["id"], 1);
    assert_eq!(r["error"]["data"]["supported"], json!(["2026-07-28", V3, V2, V1]));
    assert_eq!(r["error"]["data"]["requested"], "2024-01-01");
    // 2026-07-28 without its _meta fields is malformed.
    let (s, r) = h.rpc(Some("2026-07-28"), "tools/list", json!({}));
    assert_eq!((s, code(&r)), (400, INVALID_PARAMS));
    // A notification with a bad header is refused too.
    let r = h.post(&[("MCP-Protocol-Version", "bogus")], r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert_eq!(r.status, 400);
}

#[test]
fn bad_input_gets_the_specified_status_and_code() {
    let h = Harness::new();
    let r = h.post(&[], "{not json");
    assert_eq!(r.status, 400);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((code(&v), v["id"].clone()), (PARSE_ERROR, Value::Null));
    for body in [
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#""hello""#,
        r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
    ] {
        let r = h.post(&[], body);
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!((r.status, code(&v)), (400, INVALID_REQUEST), "{body}");
    }
    let (s, r) = h.rpc(Some(V3), "no/such/method", json!({}));
    assert_eq!((s, code(&r)), (200, METHOD_NOT_FOUND));
    let (s, r) = h.rpc(Some(V3), "tools/call", json!({}));
    assert_eq!((s, code(&r)), (200, INVALID_PARAMS));
    // The edge stops reading at the cap (tests/e2e: "oversize body"); this is its answer.
    let r = transport::too_large();
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((r.status, code(&v)), (413, INVALID_REQUEST));
}

#[test]
fn batches_follow_the_version() {
    let h = Harness::new();
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"initialize","params":{}},{"jsonrpc":"2.0","id":3}]"#;
    // 2025-03-26 (also the default without a header) must accept batches.
    let r = h.post(&[], batch);
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0], json!({"jsonrpc":"2.0","id":1,"result":{}}));
    assert_eq!((arr[1]["id"].clone(), code(&arr[1])), (json!(2), INVALID_REQUEST), "initialize is not batchable");
    assert_eq!(code(&arr[2]), INVALID_REQUEST);
    let r = h.post(&[], r#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#);
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    // Later versions removed batching.
    for v in [V2, V3] {
        let r = h.post(&[("MCP-Protocol-Version", v)], batch);
        let body: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!((r.status, code(&body)), (400, INVALID_REQUEST), "{v}");
    }
    let r = h.post(&[], "[]");
    assert_eq!(r.status, 400);
}

#[test]
fn batches_are_bounded() {
    let h = Harness::new();
    let call =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"text_stats","arguments":{"text":"a b"}}}"#;
    let batch = |n: usize| format!("[{}]", vec![call; n].join(","));
    let r = h.post(&[], &batch(crate::mcp::batch::MAX_BATCH_ITEMS));
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(crate::mcp::batch::MAX_BATCH_ITEMS));
    let r = h.post(&[], &batch(crate::mcp::batch::MAX_BATCH_ITEMS + 1));
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((r.status, code(&v), r.error), (400, INVALID_REQUEST, Some("batch_too_large")));
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("at most 32")));
}

#[test]
fn accept_and_content_type() {
    let h = Harness::new();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for accept in ["application/json", "application/json, text/event-stream", "*/*", ""] {
        let r = h.post(&[("Accept", accept)], ping);
        assert_eq!((r.status, r.header("Content-Type")), (200, Some("application/json")), "{accept}");
    }
    let r = h.post(&[("Accept", "text/event-stream")], ping);
    assert_eq!((r.status, r.header("Content-Type")), (200, Some("text/event-stream")));
    assert_eq!(r.body, "event: message\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{}}\n\n");
    let r = h.post(&[("Accept", "application/json;q=0, text/event-stream")], ping);
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let r = h.post(&[("Accept", "text/html")], ping);
    assert_eq!(r.status, 406);
    let r = h.post(&[("Content-Type", "text/plain")], ping);
    assert_eq!(r.status, 415);
    let r = h.post(&[("Content-Type", "application/json; charset=utf-8")], ping);
    assert_eq!(r.status, 200);
}

#[test]
fn origins_and_cors() {
    let allowed = vec!["https://app.example.com".to_string()];
    assert!(matches!(cors::check_origin(Some("https://evil.example".into()), &allowed), cors::OriginCheck::Denied));
    assert!(matches!(cors::check_origin(None, &allowed), cors::OriginCheck::Absent));
    let cors::OriginCheck::Allowed(o) = cors::check_origin(Some("https://app.example.com".into()), &allowed) else {
        panic!("allowed origin refused");
    };
    let r = cors::allow(HttpReply::empty(200), &o);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
    assert_eq!(r.header("Access-Control-Expose-Headers"), Some(cors::EXPOSE_HEADERS));
    assert_eq!(cors::forbidden_origin().status, 403);
    let p = cors::preflight(Some("https://app.example.com".into()), &allowed);
    assert_eq!(p.status, 204);
    assert_eq!(p.header("Access-Control-Allow-Headers"), Some(cors::ALLOW_HEADERS));
    assert!(cors::ALLOW_HEADERS.contains("Mcp-Name") && cors::ALLOW_HEADERS.contains("Last-Event-ID"));
    assert_eq!(cors::preflight(Some("https://evil.example".into()), &allowed).status, 403);
    assert_eq!(cors::preflight(None, &allowed).status, 204);
}

#[test]
fn stateless_era_results_carry_result_type_cache_hints_and_server_info() {
    let h = Harness::new();
    let (s, r) = h.stateless("server/discover", json!({}), |_| {});
    assert_eq!(s, 200);
    let res = &r["result"];
    assert_eq!(res["resultType"], "complete");
    assert_eq!(res["supportedVersions"], json!(["2026-07-28", V3, V2, V1]));
    assert_eq!((res["ttlMs"].as_u64().is_some(), res["cacheScope"].as_str()), (true, Some("public")));
    assert_eq!(res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "mkit");
    assert!(res["capabilities"].get("logging").is_none(), "logging/setLevel is gone in 2026-07-28");
    let (_, r) = h.stateless("tools/list", json!({}), |_| {});
    assert_eq!(
        (r["result"]["cacheScope"].as_str(), r["result"]["resultType"].as_str()),
        (Some("private"), Some("complete"))
    );
    let (_, r) = h.stateless("tools/call", json!({"name": "whoami", "arguments": {}}), |_| {});
    assert_eq!(r["result"]["resultType"], "complete");
    assert!(r["result"].get("ttlMs").is_none());
    assert_eq!(r["result"]["structuredContent"]["protocol_version"], "2026-07-28");
}

#[test]
fn stateless_era_header_checks() {
    let h = Harness::new();
    let set = |name: &'static str, value: Option<&'static str>| {
        move |hs: &mut Vec<(String, String)>| {
            hs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if let Some(v) = value {
                hs.push((name.into(), v.into()));
            }
        }
    };
    let call = json!({"name": "whoami", "arguments": {}});
    for (what, tweak) in [
        ("no version header", set("MCP-Protocol-Version", None)),
        ("version mismatch", set("MCP-Protocol-Version", Some(V3))),
        ("no Mcp-Method", set("Mcp-Method", None)),
        ("Mcp-Method mismatch", set("Mcp-Method", Some("tools/list"))),
        ("no Mcp-Name", set("Mcp-Name", None)),
        ("Mcp-Name mismatch", set("Mcp-Name", Some("text_stats"))),
        ("Mcp-Name bad base64", set("Mcp-Name", Some("=?base64?!!!?="))),
    ] {
        let (s, r) = h.stateless("tools/call", call.clone(), tweak);
        assert_eq!((s, code(&r)), (400, HEADER_MISMATCH), "{what}");
        assert_eq!(r["id"], "s1");
    }
    // The base64 form is decoded before comparing.
    let (s, r) = h.stateless("tools/call", call.clone(), set("Mcp-Name", Some("=?base64?d2hvYW1p?=")));
    assert_eq!((s, r["result"]["isError"].as_bool()), (200, Some(false)));
    let (s, r) = h.stateless("resources/read", json!({"uri": "mkit://about"}), |_| {});
    assert_eq!((s, r["result"]["cacheScope"].as_str()), (200, Some("private")));
}

#[test]
fn stateless_era_meta_and_method_errors() {
    let h = Harness::new();
    // Unsupported version in _meta: -32022 with the supported list.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2030-01-01","io.modelcontextprotocol/clientCapabilities":{}}}})
    .to_string();
    let r = h.post(&[("MCP-Protocol-Version", "2030-01-01"), ("Mcp-Method", "tools/list")], &body);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((r.status, code(&v)), (400, UNSUPPORTED_PROTOCOL_VERSION));
    assert_eq!(v["error"]["data"]["requested"], "2030-01-01");
    assert!(v["error"]["data"]["supported"].as_array().is_some_and(|a| a.len() == 4));
    // A handshake version named in _meta is not a stateless version either.
    let body = body.replace("2030-01-01", V3);
    let r = h.post(&[("MCP-Protocol-Version", V3), ("Mcp-Method", "tools/list")], &body);
    assert_eq!(r.status, 400);
    // Missing clientCapabilities: -32602, 400.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})
    .to_string();
    let r = h.post(&[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/list")], &body);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((r.status, code(&v)), (400, INVALID_PARAMS));
    // Unknown and removed methods: 404 with -32601.
    for m in ["no/such", "ping", "logging/setLevel", "initialize"] {
        let (s, r) = h.stateless(m, json!({}), |_| {});
        assert_eq!((s, code(&r)), (404, METHOD_NOT_FOUND), "{m}");
    }
    // server/discover does not exist in the handshake era.
    let (s, r) = h.rpc(Some(V3), "server/discover", json!({}));
    assert_eq!((s, code(&r)), (200, METHOD_NOT_FOUND));
}

#[test]
fn tools_call_results_and_errors() {
    let h = Harness::new();
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami"}));
    let res = &r["result"];
    assert_eq!(res["isError"], false);
    assert_eq!(res["structuredContent"]["protocol_version"], V3);
    let text: Value = serde_json::from_str(res["content"][0]["text"].as_str().expect("text")).expect("json text");
    assert_eq!(text, res["structuredContent"], "text content is the serialised structured content");
    // 2025-03-26 has no structuredContent.
    let (_, r) = h.rpc(Some(V1), "tools/call", json!({"name": "whoami"}));
    assert!(r["result"].get("structuredContent").is_none());
    // Input that does not fit the schema: a tool error the model can read, not a protocol error.
    let (s, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami", "arguments": {"bogus": 1}}));
    assert_eq!((s, r["result"]["isError"].as_bool()), (200, Some(true)));
    assert!(r["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("bogus")));
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "text_stats", "arguments": {"text": 5}}));
    assert_eq!(r["result"]["isError"], true);
    // The handler's own error.
    let (_, r) =
        h.rpc(Some(V3), "tools/call", json!({"name": "text_stats", "arguments": {"text": "a", "words_per_minute": 0}}));
    assert_eq!(r["result"]["isError"], true);
    let (_, r) = h.rpc(
        Some(V3),
        "tools/call",
        json!({"name": "text_stats", "arguments": {"text": "Hello world. Hello again!"}}),
    );
    assert_eq!(
        r["result"]["structuredContent"],
        json!({"characters": 25, "words": 4, "sentences": 2, "unique_words": 3, "reading_seconds": 2})
    );
    // Protocol errors: unknown tool, malformed arguments.
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "nope"}));
    assert_eq!(code(&r), INVALID_PARAMS);
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami", "arguments": [1]}));
    assert_eq!(code(&r), INVALID_PARAMS);
    // A tool needing Worker bindings fails cleanly without them.
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "remember", "arguments": {}}));
    assert_eq!(r["result"]["isError"], true);
}

#[test]
fn tools_list_pages_filters_by_scope_and_marks_paid_tools() {
    let mut h = Harness::new();
    h.page_size = 1;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
        let (_, r) = h.rpc(Some(V3), "tools/list", params);
        let tools = r["result"]["tools"].as_array().expect("tools").clone();
        assert_eq!(tools.len(), 1);
        names.push(tools[0]["name"].as_str().expect("name").to_owned());
        match r["result"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        names,
        ["whoami", "remember", "text_stats", "chatty", "metered", "paid_metered"],
        "admin_only is hidden without the scope"
    );
    let (_, r) = h.rpc(Some(V3), "tools/list", json!({"cursor": "zz"}));
    assert_eq!(code(&r), INVALID_PARAMS);
    let (_, r) = h.rpc(Some(V3), "tools/list", json!({"cursor": "99"}));
    assert_eq!(code(&r), INVALID_PARAMS);
    let (_, r) = h.rpc(Some(V3), "tools/list", json!({"cursor": 3}));
    assert_eq!(code(&r), INVALID_PARAMS);
    // The paid tool carries its entitlement; annotations and titles are present.
    h.page_size = 50;
    let (_, r) = h.rpc(Some(V3), "tools/list", json!({}));
    let tools = r["result"]["tools"].as_array().expect("tools");
    let paid = tools.iter().find(|t| t["name"] == "text_stats").expect("paid tool");
    assert_eq!(paid["_meta"], json!({"mkit/entitlement": "pro"}));
    assert_eq!(paid["annotations"]["readOnlyHint"], true);
    assert_eq!(paid["title"], "Text statistics");
    assert_eq!(paid["inputSchema"]["type"], "object");
    assert_eq!(paid["inputSchema"]["required"], json!(["text"]));
    assert_eq!(paid["inputSchema"]["additionalProperties"], false);
    assert_eq!(paid["outputSchema"]["type"], "object");
    // With the scope, the hidden tool appears and can be called.
    h.principal = user(&["notes:admin"]);
    let (_, r) = h.rpc(Some(V3), "tools/list", json!({}));
    assert_eq!(r["result"]["tools"].as_array().map(Vec::len), Some(7));
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "admin_only"}));
    assert_eq!(r["result"]["isError"], false);
    // Without the scope: 403, naming every scope the tool needs, for the adapter's challenge.
    h.principal = user(&["other"]);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_only"}}).to_string();
    let reply = h.post(&[("MCP-Protocol-Version", V3)], &body);
    assert_eq!(
        (reply.status, reply.challenge.clone(), reply.error),
        (
            403,
            Some(Challenge::InsufficientScope { scopes: vec!["notes:admin".to_string()] }),
            Some("insufficient_scope")
        )
    );
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "no_such_tool"}));
    assert_eq!(code(&r), INVALID_PARAMS);
}

#[test]
fn resources_prompts_completion_logging() {
    let h = Harness::new();
    let (_, r) = h.rpc(Some(V3), "resources/list", json!({}));
    assert_eq!(r["result"]["resources"][0]["uri"], "mkit://about");
    let (_, r) = h.rpc(Some(V3), "resources/templates/list", json!({}));
    assert_eq!(r["result"]["resourceTemplates"][0]["uriTemplate"], "mkit://tools/{name}");
    let (_, r) = h.rpc(Some(V3), "resources/read", json!({"uri": "mkit://about"}));
    assert!(r["result"]["contents"][0]["text"].as_str().is_some_and(|t| t.starts_with("# mKit")));
    let (_, r) = h.rpc(Some(V3), "resources/read", json!({"uri": "mkit://tools/whoami"}));
    assert_eq!(r["result"]["contents"][0]["mimeType"], "application/json");
    let (_, r) = h.rpc(Some(V3), "resources/read", json!({"uri": "mkit://tools/nope"}));
    assert_eq!(code(&r), RESOURCE_NOT_FOUND_LEGACY);
    let (s, r) = h.stateless("resources/read", json!({"uri": "mkit://nope"}), |_| {});
    assert_eq!((s, code(&r)), (200, INVALID_PARAMS), "2026-07-28 uses -32602 for a missing resource");
    let (_, r) = h.rpc(Some(V3), "resources/read", json!({}));
    assert_eq!(code(&r), INVALID_PARAMS);

    let (_, r) = h.rpc(Some(V3), "prompts/list", json!({}));
    assert_eq!(r["result"]["prompts"][0]["name"], "explain_tool");
    let (_, r) = h.rpc(Some(V3), "prompts/get", json!({"name": "explain_tool", "arguments": {"tool": "whoami"}}));
    assert_eq!(r["result"]["messages"][0]["role"], "user");
    for params in [
        json!({"name": "explain_tool"}),
        json!({"name": "explain_tool", "arguments": {"tool": 1}}),
        json!({"name": "explain_tool", "arguments": {"tool": "nope"}}),
        json!({"name": "nope"}),
        json!({}),
    ] {
        let (_, r) = h.rpc(Some(V3), "prompts/get", params.clone());
        assert_eq!(code(&r), INVALID_PARAMS, "{params}");
    }

    let (_, r) = h.rpc(
        Some(V3),
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "explain_tool"}, "argument": {"name": "tool", "value": "te"}}),
    );
    assert_eq!(r["result"]["completion"], json!({"values": ["text_stats"], "total": 1, "hasMore": false}));
    let (_, r) = h.rpc(Some(V3), "completion/complete", json!({"ref": {"type": "ref/resource", "uri": "mkit://tools/{name}"}, "argument": {"name": "name", "value": ""}}));
    assert_eq!(r["result"]["completion"]["values"], json!([]));
    let (_, r) = h.rpc(
        Some(V3),
        "completion/complete",
        json!({"ref": {"type": "ref/other"}, "argument": {"name": "x", "value": ""}}),
    );
    assert_eq!(code(&r), INVALID_PARAMS);

    let (_, r) = h.rpc(Some(V3), "logging/setLevel", json!({"level": "debug"}));
    assert_eq!(r["result"], json!({}));
    let (_, r) = h.rpc(Some(V3), "logging/setLevel", json!({"level": "loud"}));
    assert_eq!(code(&r), INVALID_PARAMS);
}

#[test]
fn per_method_scopes() {
    let mut h = Harness::new();
    h.registry.require_scopes("resources/read", &["docs:read"]);
    assert!(h.registry.scopes().contains(&"docs:read"));
    let body = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mkit://about"}}).to_string();
    let r = h.post(&[("MCP-Protocol-Version", V3)], &body);
    assert_eq!(
        (r.status, r.challenge),
        (403, Some(Challenge::InsufficientScope { scopes: vec!["docs:read".to_string()] }))
    );
    h.principal = user(&["docs:read"]);
    assert_eq!(h.post(&[("MCP-Protocol-Version", V3)], &body).status, 200);
    // Other methods are unaffected.
    h.principal = user(&[]);
    let (s, _) = h.rpc(Some(V3), "resources/list", json!({}));
    assert_eq!(s, 200);
}

#[test]
fn header_value_decoding() {
    assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
    assert_eq!(decode_header_value("=?base64?w6lsYW4=?=").as_deref(), Some("élan"));
    assert_eq!(decode_header_value("=?base64?@@?=").as_deref(), None);
    assert_eq!(decode_header_value("=?base64?/w==?=").as_deref(), None, "not UTF-8");
    assert_eq!(
        decode_header_value("=?BASE64?d2hvYW1p?=").as_deref(),
        Some("=?BASE64?d2hvYW1p?="),
        "markers are case-sensitive"
    );
}

fn sse_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("event: message\ndata: "))
        .map(|d| serde_json::from_str(d).expect("event json"))
        .collect()
}

#[test]
fn notifications_travel_on_an_event_stream_before_the_response() {
    let h = Harness::new();
    let call =
        json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"chatty","_meta":{"progressToken":"p1"}}})
            .to_string();
    let r = h.post(&[("Accept", "application/json, text/event-stream"), ("MCP-Protocol-Version", V3)], &call);
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let events = sse_events(&r.body);
    let methods: Vec<&str> = events.iter().map(|e| e["method"].as_str().unwrap_or("response")).collect();
    assert_eq!(
        methods,
        [
            "notifications/progress",
            "notifications/message",
            "notifications/progress",
            "notifications/message",
            "notifications/progress",
            "notifications/message",
            "response"
        ]
    );
    assert_eq!(events[0]["params"], json!({"progressToken": "p1", "progress": 0.0, "total": 100.0}));
    assert_eq!(events[1]["params"]["level"], "info", "debug is below the default level");
    assert_eq!(events[6]["id"], 9);
    // Without a progress token there is no progress; a JSON-only client gets plain JSON.
    let call = json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"chatty"}}).to_string();
    let r = h.post(&[("Accept", "application/json, text/event-stream"), ("MCP-Protocol-Version", V3)], &call);
    assert_eq!(sse_events(&r.body).len(), 4);
    let r = h.post(&[("Accept", "application/json"), ("MCP-Protocol-Version", V3)], &call);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    // 2026-07-28 logs only when _meta asks for a level.
    let (_, r) = h.stateless("tools/call", json!({"name": "chatty"}), |_| {});
    assert_eq!(r["result"]["isError"], false, "JSON response, no notifications");
    let body = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"chatty","_meta":{
        "io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},
        "io.modelcontextprotocol/logLevel":"debug"}}})
    .to_string();
    let hs = [
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "chatty"),
    ];
    let events = sse_events(&h.post(&hs, &body).body);
    assert_eq!(events.len(), 5, "debug + 3 info + response");
    let bad = body.replace("\"debug\"", "\"loud\"");
    assert_eq!(h.post(&hs, &bad).status, 400);
}

#[test]
fn paid_tools_are_gated_by_the_callers_entitlements() {
    let args = json!({"name": "text_stats", "arguments": {"text": "Hello world."}});
    let mut h = Harness::new();
    // Entitled: the tool runs; the ledger was asked once.
    let (_, r) = h.rpc(Some(V3), "tools/call", args.clone());
    assert_eq!(r["result"]["isError"], false);
    assert_eq!(h.entitlements.reads.get(), 1);
    // A free tool that does not report entitlements never asks.
    h.entitlements = Ledger::new(Ok(&["team"]));
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "remember", "arguments": {"text": "x"}}));
    assert!(r["result"]["isError"].is_boolean());
    assert_eq!(h.entitlements.reads.get(), 0);
    // Not entitled: the refusal is a tool error, never a 403 (crate::paywall builds the
    // payment_required content and tests it).
    let (s, r) = h.rpc(Some(V3), "tools/call", args.clone());
    assert_eq!(s, 200);
    assert_eq!(r["result"]["isError"], true);
    assert_eq!(r["result"]["structuredContent"], json!({"error": "payment_required", "entitlement": "pro"}));
    assert!(r["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("text_stats needs pro")));
    // The 2025-03-26 result has only the text.
    let (_, r) = h.rpc(Some(V1), "tools/call", args.clone());
    assert_eq!((r["result"]["isError"].as_bool(), r["result"].get("structuredContent")), (Some(true), None));
    // The ledger unreadable: a retryable tool error, not a protocol error or a 5xx.
    h.entitlements = Ledger::new(Err("query failed"));
    let (s, r) = h.rpc(Some(V3), "tools/call", args);
    assert_eq!((s, r["result"]["isError"].as_bool()), (200, Some(true)));
    assert_eq!(r["result"]["structuredContent"], json!({"error": "entitlements_unavailable"}));
}

#[test]
fn whoami_reports_the_ledger() {
    let mut h = Harness::new();
    h.entitlements = Ledger::new(Ok(&["pro", "team"]));
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami"}));
    assert_eq!(r["result"]["structuredContent"]["entitlements"], json!(["pro", "team"]));
    h.entitlements = Ledger::new(Err("down"));
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami"}));
    assert_eq!(r["result"]["isError"], true);
}

fn pay_link() -> PayLink {
    PayLink { url: "https://mkit.example/billing/checkout?t=abc".into(), id: "n0nce".into() }
}

#[test]
fn the_pay_link_is_a_url_elicitation_for_2026_clients_that_take_one() {
    let mut h = Harness::new();
    h.entitlements = Ledger { pay: Some(pay_link()), ..Ledger::new(Ok(&[])) };
    let url_caps = json!({"io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}}});
    let call = |extra: Value| {
        let mut p = json!({"name": "text_stats", "arguments": {"text": "a b"}, "_meta": url_caps});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                p[k] = v;
            }
        }
        p
    };
    let (s, r) = h.stateless("tools/call", call(json!({})), |_| {});
    assert_eq!((s, r["result"]["resultType"].as_str()), (200, Some("input_required")), "{r}");
    let ask = &r["result"]["inputRequests"]["pay"];
    assert_eq!((ask["method"].as_str(), ask["params"]["mode"].as_str()), (Some("elicitation/create"), Some("url")));
    assert_eq!(ask["params"]["url"], pay_link().url);
    assert!(ask["params"]["message"].as_str().is_some_and(|m| m.contains("needs pro")));
    let state = r["result"]["requestState"].as_str().expect("sealed state").to_owned();
    // Accepted, but not paid yet: asked again.
    let accepted = json!({"requestState": state, "inputResponses": {"pay": {"action": "accept"}}});
    let (_, r) = h.stateless("tools/call", call(accepted.clone()), |_| {});
    assert_eq!(r["result"]["resultType"], "input_required");
    // Declined: a clear result, not the question again.
    let declined = json!({"requestState": state, "inputResponses": {"pay": {"action": "decline"}}});
    let (_, r) = h.stateless("tools/call", call(declined), |_| {});
    assert_eq!((r["result"]["resultType"].as_str(), r["result"]["isError"].as_bool()), (Some("complete"), Some(true)));
    assert_eq!(r["result"]["structuredContent"]["error"], "payment_required");
    // Paid in the meantime: the retry runs the tool.
    h.entitlements = Ledger { pay: Some(pay_link()), ..Ledger::new(Ok(&["pro"])) };
    let (_, r) = h.stateless("tools/call", call(accepted), |_| {});
    assert_eq!((r["result"]["resultType"].as_str(), r["result"]["isError"].as_bool()), (Some("complete"), Some(false)));
    // A client that does not take URL mode gets the plain result.
    h.entitlements = Ledger { pay: Some(pay_link()), ..Ledger::new(Ok(&[])) };
    let (_, r) = h.stateless("tools/call", json!({"name": "text_stats", "arguments": {"text": "a"}}), |_| {});
    assert_eq!((r["result"]["isError"].as_bool(), r["result"].get("inputRequests")), (Some(true), None));
}

#[test]
fn the_pay_link_is_url_elicitation_required_for_2025_11_25_sessions_that_declared_it() {
    let mut h = Harness::new();
    h.entitlements = Ledger { pay: Some(pay_link()), ..Ledger::new(Ok(&[])) };
    let args = json!({"name": "text_stats", "arguments": {"text": "a b"}});
    // Without a session that declared URL mode: the tool result.
    let (s, r) = h.rpc(Some(V3), "tools/call", args.clone());
    assert_eq!((s, r["result"]["isError"].as_bool()), (200, Some(true)));
    h.session = Some(json!({"elicitation": {"url": {}}}));
    let (s, r) = h.rpc(Some(V3), "tools/call", args.clone());
    assert_eq!((s, code(&r)), (200, crate::paywall::refusal::URL_ELICITATION_REQUIRED), "{r}");
    let e = &r["error"]["data"]["elicitations"][0];
    assert_eq!(
        (e["mode"].as_str(), e["url"].as_str(), e["elicitationId"].as_str()),
        (Some("url"), Some(pay_link().url.as_str()), Some("n0nce"))
    );
    // 2025-06-18 has no URL mode: the tool result, whatever the session says.
    let (_, r) = h.rpc(Some(V2), "tools/call", args.clone());
    assert_eq!(r["result"]["isError"], true);
    // No pay link (the pay pages are not configured): the tool result.
    h.entitlements = Ledger::new(Ok(&[]));
    let (_, r) = h.rpc(Some(V3), "tools/call", args);
    assert_eq!(r["result"]["isError"], true);
}

#[test]
fn initialize_remembers_a_url_elicitation_declaration_in_a_sealed_session_id() {
    let h = Harness::new();
    let init = |caps: Value, version: &str| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": caps, "clientInfo": {"name": "t", "version": "1"}}});
        let req = Req {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        };
        let server = Server { registry: &h.registry, info: &SERVER_INFO, page_size: 50, extensions: &[] };
        let sealing =
            Sealing { keys: vec![[7; 32]], issuer: "https://issuer.example/".into(), now_secs: 1_800_000_000 };
        let gate = Gatekeeper { access: &h.entitlements, machine: None };
        let caller = Caller {
            principal: &h.principal,
            gate: Some(&gate),
            platform: None,
            sealing: Some(&sealing),
            session_capabilities: None,
            hub: None,
            held: false,
            tasks: None,
            task_ticket: None,
        };
        let r = block_on(transport::handle_post(&server, &req, transport::parse_body(&req.body), &caller));
        r.header("Mcp-Session-Id")
            .map(|id| crate::mcp::session::open(&sealing, &h.principal.sub, id).map(|s| s.capabilities))
    };
    assert_eq!(init(json!({"elicitation": {"url": {}}}), V3), Some(Some(json!({"elicitation": {"url": {}}}))));
    assert_eq!(init(json!({"elicitation": {}}), V3), None, "form mode needs no memory");
    assert_eq!(init(json!({"elicitation": {"url": {}}}), V2), None, "no URL mode before 2025-11-25");
}

#[test]
fn the_request_log_names_method_tool_version_client_and_billing() {
    let mut h = Harness::new();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "text_stats", "arguments": {"text": "a b"}}})
    .to_string();
    let r = h.post(&[("MCP-Protocol-Version", V3)], &body);
    let l = &r.log;
    assert_eq!(
        (l.mcp_method.as_deref(), l.tool.as_deref(), l.protocol_version, l.billing),
        (Some("tools/call"), Some("text_stats"), Some(V3), Some("granted"))
    );
    h.entitlements = Ledger::new(Ok(&[]));
    assert_eq!(h.post(&[("MCP-Protocol-Version", V3)], &body).log.billing, Some("payment_required"));
    let free = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}}).to_string();
    assert_eq!(h.post(&[("MCP-Protocol-Version", V3)], &free).log.billing, Some("free"));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": V3,
        "capabilities": {}, "clientInfo": {"name": "claude-code", "version": "2.1.0"}}})
    .to_string();
    assert_eq!(h.post(&[], &init).log.client.as_deref(), Some("claude-code/2.1.0"));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "io.modelcontextprotocol/clientInfo": {"name": "x\"y", "version": "1"}});
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}}).to_string();
    let r = h.post(&[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/list")], &list);
    assert_eq!(r.log.traceparent.as_deref(), Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_eq!(r.log.client, None, "a quote is not logged");
}

#[test]
fn each_tool_call_is_one_metrics_entry_naming_only_registered_tools() {
    use crate::log::ToolCall;
    let mut h = Harness::new();
    let call = |name: &str, args: Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": name, "arguments": args}})
    };
    let one = h.post(&[("MCP-Protocol-Version", V3)], &call("text_stats", json!({"text": "a b"})).to_string());
    assert_eq!(one.log.tool_calls, [ToolCall { tool: "text_stats", outcome: "ok", billing: "granted" }]);
    let bad = h.post(&[("MCP-Protocol-Version", V3)], &call("text_stats", json!({"txt": 1})).to_string());
    assert_eq!(bad.log.tool_calls[0].outcome, "tool_error", "invalid arguments are a tool error result");
    let made_up = h.post(&[("MCP-Protocol-Version", V3)], &call("x".repeat(60).as_str(), json!({})).to_string());
    assert_eq!(made_up.log.tool_calls, [ToolCall { tool: "(unknown)", outcome: "invalid_params", billing: "none" }]);
    h.entitlements = Ledger::new(Ok(&[]));
    let unpaid = h.post(&[("MCP-Protocol-Version", V3)], &call("text_stats", json!({"text": "a"})).to_string());
    assert_eq!(unpaid.log.tool_calls[0].billing, "payment_required");
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    assert!(h.post(&[("MCP-Protocol-Version", V3)], &list).log.tool_calls.is_empty());
    let batch = Value::Array(vec![
        call("whoami", json!({})),
        call("whoami", json!({})),
        json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}),
    ]);
    let b = h.post(&[("MCP-Protocol-Version", V1)], &batch.to_string());
    assert_eq!(b.log.tool_calls.iter().map(|c| (c.tool, c.billing)).collect::<Vec<_>>(), [("whoami", "free"); 2]);
}

#[test]
fn free_quotas_let_calls_run_until_used_up_and_failed_runs_give_theirs_back() {
    let h = Harness::new();
    let call = |name: &str, fail: bool| {
        let (status, body) =
            h.rpc(Some("2025-11-25"), "tools/call", json!({"name": name, "arguments": {"fail": fail}}));
        assert_eq!(status, 200);
        body["result"].clone()
    };
    assert_eq!(call("metered", false)["structuredContent"], json!({"ran": "metered"}));
    assert_eq!(call("metered", true)["isError"], true, "a failed run…");
    assert_eq!(h.entitlements.given_back.get(), 1, "…gives its call back");
    assert_eq!(call("metered", false)["isError"], false, "so the second free call is still there");
    let over = call("metered", false);
    assert_eq!(
        (over["isError"].clone(), over["structuredContent"]["error"].clone()),
        (json!(true), json!("quota_exceeded"))
    );
    assert_eq!(h.entitlements.given_back.get(), 1, "a refused call takes nothing, gives nothing");

    // A paid tool: the free call first (no entitlement "gold"), then the offer to pay.
    assert_eq!(call("paid_metered", false)["structuredContent"], json!({"ran": "paid_metered"}));
    assert_eq!(call("paid_metered", false)["structuredContent"]["error"], "payment_required");
    // Holders of the entitlement are never counted.
    let mut rich = Harness::new();
    rich.entitlements = Ledger::new(Ok(&["gold"]));
    for _ in 0..3 {
        let (_, body) = rich.rpc(Some("2025-11-25"), "tools/call", json!({"name": "paid_metered", "arguments": {}}));
        assert_eq!(body["result"]["isError"], false);
    }
    assert_eq!(rich.entitlements.free.borrow().get("paid_metered"), None, "no free call taken");
}

#[test]
fn tools_list_shows_prices() {
    let (_, body) = Harness::new().rpc(Some("2025-11-25"), "tools/list", json!({}));
    let tools = body["result"]["tools"].as_array().expect("tools").clone();
    let find = |n: &str| tools.iter().find(|t| t["name"] == n).cloned().expect("listed");
    assert_eq!(find("metered")["_meta"], json!({"mkit/free_quota": {"calls": 2, "window": "day", "quota": "metered"}}));
    assert_eq!(
        find("paid_metered")["_meta"],
        json!({"mkit/entitlement": "gold", "mkit/free_quota": {"calls": 1, "window": "day", "quota": "paid_metered"}})
    );
    assert_eq!(find("text_stats")["_meta"], json!({"mkit/entitlement": "pro"}));
    assert!(find("whoami").get("_meta").is_none());
}

#[test]
fn a_quota_group_is_one_counter() {
    let mut r = Registry::default();
    struct Grouped(&'static str);
    impl Tool for Grouped {
        type Input = FailInput;
        type Output = Value;
        fn info(&self) -> ToolInfo {
            ToolInfo::new(self.0, "grouped").free_quota(5, crate::quota::Window::Month).quota_group("search")
        }
        async fn call(&self, _: &ToolContext<'_>, _: FailInput) -> Result<Value, ToolError> {
            Ok(json!({}))
        }
    }
    r.tool(Grouped("a")).tool(Grouped("b")).tool(Metered("c", None, 1));
    let keys: Vec<_> = crate::price::free_quotas(&r).into_iter().map(|(k, q)| (k, q.calls)).collect();
    assert_eq!(keys, [("search", 5), ("c", 1)]);
}

#[path = "protocol_tests/pricing.rs"]
mod pricing;

#[cfg(feature = "billing")]
#[path = "protocol_tests/x402.rs"]
mod x402_paid;

#[test]
fn list_answers_are_rendered_once_per_isolate_and_answer_each_request_as_its_own() {
    let mut h = Harness::new();
    let headers = [("Accept", "application/json"), ("Content-Type", "application/json"), ("MCP-Protocol-Version", V3)];
    let list = |h: &Harness, id: u64| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}).to_string();
        serde_json::from_str::<Value>(&h.post(&headers, &body).body).expect("json")
    };
    let (first, second) = (list(&h, 1), list(&h, 7));
    assert_eq!((first["id"].clone(), second["id"].clone()), (json!(1), json!(7)), "each answer keeps its own id");
    assert_eq!(first["jsonrpc"], "2.0");
    assert_eq!(first["result"], second["result"], "the memo answers what rendering answered");
    assert_eq!(h.registry.rendered_lists(), 1);
    // A hit answers the kept text: a registry changed after its first answer (never the case on
    // Workers, where it is built once per isolate) still answers what was rendered.
    h.registry.tools[0].info.description = "changed after rendering";
    assert_eq!(list(&h, 8)["result"], first["result"], "the second answer came from the memo");
    // Another caller who sees other tools, another version, another page: other answers.
    h.principal = user(&["notes:admin"]);
    let admin = list(&h, 2);
    assert!(admin["result"]["tools"].as_array().expect("tools").iter().any(|t| t["name"] == "admin_only"));
    assert_ne!(admin["result"], first["result"]);
    let (_, older) = h.rpc(Some(V1), "tools/list", json!({}));
    assert!(older["result"]["tools"][0].get("title").is_none(), "2025-03-26 has no titles");
    h.page_size = 2;
    let (_, paged) = h.rpc(Some(V3), "tools/list", json!({"cursor": "2"}));
    assert_eq!(paged["result"]["nextCursor"], "4");
    assert_eq!(h.registry.rendered_lists(), 4);
    // The stateless era's decorations are part of the memo.
    let (_, a) = h.stateless("tools/list", json!({}), |_| {});
    let (_, b) = h.stateless("tools/list", json!({}), |_| {});
    assert_eq!(a, b);
    assert_eq!(b["result"]["ttlMs"], 300_000);
    assert_eq!(b["result"]["cacheScope"], "private");
    // A memoised list still needs the scopes its method requires.
    h.registry.require_scopes("prompts/list", &["docs:read"]);
    h.principal = user(&["docs:read"]);
    let (s, _) = h.rpc(Some(V3), "prompts/list", json!({}));
    assert_eq!(s, 200);
    h.principal = user(&[]);
    let (s, r) = h.rpc(Some(V3), "prompts/list", json!({}));
    assert_eq!(s, 403, "{r}");
    // Inside a 2025-03-26 batch too.
    let batch = json!([{"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, {"jsonrpc": "2.0", "id": 6, "method": "tools/list"}]);
    let r = h.post(
        &[("Accept", "application/json"), ("Content-Type", "application/json"), ("MCP-Protocol-Version", V1)],
        &batch.to_string(),
    );
    let answers: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(answers[0]["result"], answers[1]["result"]);
    assert_eq!((answers[0]["id"].clone(), answers[1]["id"].clone()), (json!(5), json!(6)));
}

async fn echo_arguments(_: &ToolContext<'_>, args: Value) -> Result<Value, RpcError> {
    Ok(json!({"content": [{"type": "text", "text": args.to_string()}]}))
}

#[test]
fn mirrored_parameters_are_checked_on_the_stateless_wire_and_invalid_tools_left_out() {
    let mut h = Harness::new();
    let mut r = Registry::default();
    let routed = json!({"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}});
    r.raw_tool(ToolInfo::new("routed", "Runs in a region"), routed, echo_arguments);
    let broken = json!({"type": "object", "properties": {"score": {"type": "number", "x-mcp-header": "Score"}}});
    r.raw_tool(ToolInfo::new("broken", "Mirrors a number"), broken, echo_arguments);
    h.registry = r;
    assert_eq!(h.registry.invalid_tools().len(), 1);
    assert_eq!(h.registry.invalid_tools()[0].0, "broken");

    let (_, list) = h.stateless("tools/list", json!({}), |_| {});
    let names: Vec<&str> =
        list["result"]["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["routed"], "an invalid tool is not listed");
    assert_eq!(list["result"]["tools"][0]["inputSchema"]["properties"]["region"]["x-mcp-header"], "Region");

    let call = |h: &Harness, header: Option<&str>| {
        h.stateless("tools/call", json!({"name": "routed", "arguments": {"region": "eu"}}), |hs| {
            hs.extend(header.map(|v| ("mcp-param-region".to_owned(), v.to_owned())));
        })
    };
    let (s, r) = call(&h, Some("eu"));
    assert_eq!((s, r["result"]["content"][0]["text"].clone()), (200, json!(r#"{"region":"eu"}"#)));
    let (s, r) = call(&h, Some("=?base64?ZXU=?="));
    assert_eq!(s, 200, "{r}");
    for header in [None, Some("us"), Some("=?base64?ZXU?=")] {
        let (s, r) = call(&h, header);
        assert_eq!((s, code(&r)), (400, HEADER_MISMATCH), "{header:?}: {r}");
    }
    let (s, r) = h.stateless("tools/call", json!({"name": "broken", "arguments": {"score": 1.5}}), |_| {});
    assert_eq!((s, code(&r)), (200, INVALID_PARAMS), "an invalid tool cannot be called: {r}");
    // The 2025 wire has no Mcp-Param headers: nothing to check there.
    let (s, r) = h.rpc(Some(V3), "tools/call", json!({"name": "routed", "arguments": {"region": "eu"}}));
    assert_eq!(s, 200, "{r}");
    assert!(r.get("error").is_none(), "{r}");
}

/// Extensions the deployment serves (machine clients in authorization-server mode) are announced
/// in `capabilities.extensions` in both eras, beside the Tasks extension.
#[test]
fn served_extensions_are_announced_in_both_eras() {
    let registry = Registry::default();
    let ext = ["io.modelcontextprotocol/oauth-client-credentials"];
    let server = Server { registry: &registry, info: &SERVER_INFO, page_size: 50, extensions: &ext };
    for v in ["2025-11-25", "2026-07-28"] {
        let caps = server.capabilities(crate::mcp::ProtocolVersion::parse(v).expect("version"));
        assert_eq!(caps["extensions"][ext[0]], json!({}), "{v}");
    }
    let none = Server { extensions: &[], ..server };
    let caps = none.capabilities(crate::mcp::ProtocolVersion::parse("2026-07-28").expect("version"));
    assert!(caps.get("extensions").is_none());
}

/// The core knows no price: without a gate, a priced tool is refused (never run unpaid), while
/// free tools run and `whoami` shows an empty account.
#[test]
fn without_a_gate_a_priced_tool_is_refused_and_free_ones_run() {
    let mut h = Harness::new();
    h.ungated = true;
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "text_stats", "arguments": {"text": "a b"}}));
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert_eq!(r["result"]["content"][0]["text"], "text_stats is priced, and nothing here takes payment");
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "metered", "arguments": {}}));
    assert_eq!(r["result"]["isError"], true, "a free quota is a price too: {r}");
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "whoami", "arguments": {}}));
    assert_eq!(r["result"]["structuredContent"]["entitlements"], json!([]), "{r}");
    assert_eq!(r["result"]["structuredContent"]["credits"], Value::Null);
    // The same calls through the paywall: the holder of "pro" runs text_stats.
    h.ungated = false;
    let (_, r) = h.rpc(Some(V3), "tools/call", json!({"name": "text_stats", "arguments": {"text": "a b"}}));
    assert_eq!(r["result"]["structuredContent"]["words"], 2, "{r}");
}
