//! Held sessions at the edge: the caller's `McpSessions` Durable Object (`session_object.rs`)
//! behind `mcp::session::SessionHub`, and the event stream a `tools/call` that asks the client
//! is answered on.

use std::future::Future;
use std::time::Duration;

use futures_channel::mpsc::{self, UnboundedSender};
use futures_util::future::{ready, select, Either};
use futures_util::{FutureExt, StreamExt};
use serde_json::{json, Value};
use worker::{Delay, Env, Headers, Method, Request, Stub};

use super::respond::Answered;
#[cfg(feature = "sessions")]
use crate::auth::Principal;
#[cfg(any(feature = "sessions", feature = "tasks"))]
use crate::bindings::Binding;
use crate::http::HttpReply;
#[cfg(feature = "sessions")]
use crate::mcp::jsonrpc;
use crate::mcp::jsonrpc::{RpcError, INTERNAL_ERROR, INVALID_REQUEST};
#[cfg(feature = "sessions")]
use crate::mcp::listen::Listening;
#[cfg(feature = "sessions")]
use crate::mcp::mrtr::Sealing;
#[cfg(feature = "sessions")]
use crate::mcp::session;
use crate::mcp::session::SessionHub;
use crate::mcp::LocalFuture;

/// How long a call waits for the client's answer before it fails.
pub const ANSWER_WAIT: Duration = Duration::from_secs(300);

/// Every call to the object but a wait for the client's answer.
const DEADLINE: Duration = Duration::from_secs(10);

/// The caller's sessions object, and what this request holds of it.
pub struct Hub {
    stub: Stub,
    /// The session this request arrived on (its id at the object), if held.
    pub held: Option<String>,
    /// This POST's event stream, when it is answered as one.
    pub stream: Option<UnboundedSender<Vec<u8>>>,
    /// Without the `sessions` feature no `Hub` can exist, and the compiler knows it: a path that
    /// holds one is dropped. (A `cfg!` test would not do: code after an `.await` stays in the
    /// bundle even where it cannot run.)
    #[cfg(not(feature = "sessions"))]
    _never: std::convert::Infallible,
}

/// What the object answered: its status and JSON body.
struct Answer(u16, Value);

impl Hub {
    /// The caller's object, when the binding exists.
    #[cfg(feature = "sessions")]
    pub fn for_caller(env: &Env, issuer: &str, sub: &str) -> Option<Hub> {
        Some(Hub { stub: caller_object(env, Binding::Sessions, issuer, sub)?, held: None, stream: None })
    }

    /// Without the `sessions` feature: never.
    #[cfg(not(feature = "sessions"))]
    pub fn for_caller(_env: &Env, _issuer: &str, _sub: &str) -> Option<Hub> {
        None
    }

    /// The hub as the protocol core's `SessionHub`. Without the `sessions` feature there is none,
    /// and the compiler sees it: the trait's methods stay out of the bundle.
    pub fn as_dyn(&self) -> &dyn SessionHub {
        #[cfg(not(feature = "sessions"))]
        match self._never {}
        #[cfg(feature = "sessions")]
        self
    }

    /// Whether the held session is still open (404 after DELETE or expiry).
    #[cfg(feature = "sessions")]
    pub async fn alive(&self) -> bool {
        matches!(self.call("/check", json!({}), DEADLINE).await, Ok(Answer(200, _)))
    }

    /// `DELETE /mcp`: ends the held session.
    #[cfg(feature = "sessions")]
    pub async fn end(&self) -> bool {
        matches!(self.call("/end", json!({}), DEADLINE).await, Ok(Answer(204, _)))
    }

    /// `GET /mcp`: the held session's stream, from the object (replaying after `last_event_id`).
    #[cfg(feature = "sessions")]
    pub async fn stream_response(&self, last_event_id: Option<String>) -> Option<worker::Response> {
        self.open_stream("/stream", &json!({ "id": self.held, "last_event_id": last_event_id })).await
    }

    /// A `subscriptions/listen` stream, from the object, which sends the caller's updates on it.
    #[cfg(feature = "sessions")]
    pub async fn listen_response(&self, listening: &Listening) -> Option<worker::Response> {
        let body = json!({ "listening": { "id": listening.id, "uris": listening.uris,
            "acknowledged": listening.acknowledged } });
        self.open_stream("/listen", &body).await
    }

    /// A stream the object keeps open: its response, once its headers arrive within the deadline.
    #[cfg(feature = "sessions")]
    async fn open_stream(&self, op: &str, body: &Value) -> Option<worker::Response> {
        let req = object_request(op, body).ok()?;
        match select(Box::pin(self.stub.fetch_with_request(req)), Box::pin(Delay::from(DEADLINE))).await {
            Either::Left((Ok(resp), _)) if resp.status_code() == 200 => Some(resp),
            _ => None,
        }
    }

    /// One operation on the held session (`id` added), under `deadline`.
    async fn call(&self, op: &str, mut body: Value, deadline: Duration) -> Result<Answer, RpcError> {
        if let Some(held) = &self.held {
            body["id"] = held.clone().into();
        }
        let (status, v) = call_object(&self.stub, op, &body, deadline).await?;
        Ok(Answer(status, v))
    }
}

/// A request to one of mKit's Durable Objects: an internal path and a JSON body.
fn object_request(op: &str, body: &Value) -> Result<Request, worker::wasm_bindgen::JsValue> {
    let url = format!("https://mkit-object{op}");
    super::fetch::new_request(&url, Method::Post, &Headers::new(), Some(&body.to_string()), true)
}

/// One operation on a Durable Object under `deadline`: its status and JSON body.
pub(super) async fn call_object(
    stub: &Stub,
    op: &str,
    body: &Value,
    deadline: Duration,
) -> Result<(u16, Value), RpcError> {
    let unavailable = || RpcError::new(INTERNAL_ERROR, "the session and task store cannot be reached now; try again");
    let req = object_request(op, body).map_err(|_| unavailable())?;
    let exchange = Box::pin(async {
        let mut resp = stub.fetch_with_request(req).await.ok()?;
        let status = resp.status_code();
        let text = resp.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    });
    match select(exchange, Box::pin(Delay::from(deadline))).await {
        Either::Left((Some(answer), _)) => Ok(answer),
        _ => Err(unavailable()),
    }
}

/// A Durable Object of `namespace` for one caller, named by a public hash of issuer and subject
/// (`mac::object_name`: the subject does not appear in it, but it is no secret).
#[cfg(any(feature = "sessions", feature = "tasks"))]
pub(super) fn caller_object(env: &Env, namespace: Binding, issuer: &str, sub: &str) -> Option<Stub> {
    let ns = env.durable_object(namespace.name()).ok()?;
    ns.id_from_name(&crate::mac::object_name(namespace.name(), issuer, sub)).ok()?.get_stub().ok()
}

fn ended() -> RpcError {
    RpcError::new(INVALID_REQUEST, "the session has ended; initialize again")
}

impl SessionHub for Hub {
    fn open(&self) -> LocalFuture<'_, Result<String, RpcError>> {
        Box::pin(async {
            match self.call("/open", json!({}), DEADLINE).await? {
                Answer(200, v) => v["id"].as_str().map(str::to_owned).ok_or_else(ended),
                _ => Err(RpcError::new(INTERNAL_ERROR, "no session could be opened")),
            }
        })
    }

    fn ask<'a>(&'a self, request: &'a Value) -> LocalFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            let Some(stream) = self.stream.as_ref().filter(|_| self.held.is_some()) else {
                return Err(RpcError::new(INVALID_REQUEST, "this call is not answered as an event stream"));
            };
            let rid = format!("mkit-{}", super::random::random_token(9).unwrap_or_default());
            let message =
                json!({ "jsonrpc": "2.0", "id": rid, "method": request["method"], "params": request["params"] });
            stream
                .unbounded_send(format!("event: message\ndata: {message}\n\n").into_bytes())
                .map_err(|_| RpcError::new(INVALID_REQUEST, "the client closed the stream"))?;
            let wait = ANSWER_WAIT + DEADLINE;
            match self.call("/wait", json!({ "rid": rid }), wait).await? {
                Answer(200, answer) => client_answer(answer),
                Answer(504, _) => Err(RpcError::new(INVALID_REQUEST, "the client did not answer in time")),
                _ => Err(ended()),
            }
        })
    }

    fn deliver<'a>(&'a self, response: &'a Value) -> LocalFuture<'a, Result<(), RpcError>> {
        Box::pin(async move {
            match self.call("/answer", json!({ "message": response }), DEADLINE).await? {
                Answer(202, _) => Ok(()),
                Answer(400, _) => Err(RpcError::invalid_params("the response names no request of this server")),
                _ => Err(ended()),
            }
        })
    }

    fn subscribe<'a>(&'a self, uri: &'a str, on: bool) -> LocalFuture<'a, Result<(), RpcError>> {
        Box::pin(async move {
            match self.call("/subscribe", json!({ "uri": uri, "on": on }), DEADLINE).await? {
                Answer(200, _) => Ok(()),
                _ => Err(ended()),
            }
        })
    }

    fn resource_updated<'a>(&'a self, uri: &'a str) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let _ = self.call("/publish", json!({ "uri": uri }), DEADLINE).await;
        })
    }
}

/// The client's JSON-RPC response: its result, or its error passed on.
fn client_answer(answer: Value) -> Result<Value, RpcError> {
    if let Some(result) = answer.get("result") {
        return Ok(result.clone());
    }
    let error = answer.get("error");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64).unwrap_or(INTERNAL_ERROR);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("the client refused");
    Err(RpcError::new(code, format!("the client answered with an error: {message}")))
}

/// 404 for a session id that does not open, or names a session that ended.
#[cfg(feature = "sessions")]
pub fn not_found() -> HttpReply {
    let e = RpcError::new(INVALID_REQUEST, "session not found: it ended or was never this caller's; initialize again");
    HttpReply::json(404, &jsonrpc::failure(None, &e), Some("session_not_found"))
}

pub(super) fn event_stream(status: u16) -> HttpReply {
    HttpReply::empty(status).with_header("Content-Type", "text/event-stream").with_header("Cache-Control", "no-cache")
}

/// A POST answered as an event stream: `run` gets the hub with this stream, so a tool can ask
/// the client on it; its reply ends the stream as the last event.
pub fn streamed<F, Fut>(mut hub: Hub, run: F) -> Answered
where
    F: FnOnce(Hub) -> Fut + 'static,
    Fut: Future<Output = HttpReply> + 'static,
{
    let (tx, rx) = mpsc::unbounded::<Vec<u8>>();
    hub.stream = Some(tx.clone());
    let driver = async move {
        let reply = run(hub).await;
        let _ = tx.unbounded_send(as_events(reply).into_bytes());
    };
    let work = driver.into_stream().filter_map(|_| ready(None::<worker::Result<Vec<u8>>>));
    let body = futures_util::stream::select(rx.map(Ok), work);
    match worker::Response::from_stream(body) {
        Ok(resp) => Answered::Streamed(event_stream(200), resp),
        Err(_) => HttpReply::error(500, "stream_unavailable").into(),
    }
}

/// A reply as the last event(s) of a stream.
fn as_events(reply: HttpReply) -> String {
    let sse = reply.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("Content-Type") && v == "text/event-stream");
    match reply.body.is_empty() {
        true => String::new(),
        false if sse => reply.body,
        false => format!("event: message\ndata: {}\n\n", reply.body),
    }
}

/// GET /mcp (the held session's stream, resumed after `Last-Event-ID`) and DELETE /mcp (ends
/// it), on a deployment that holds sessions.
#[cfg(feature = "sessions")]
pub async fn stream_or_end(
    req: &Request,
    env: &Env,
    sealing: &Sealing,
    issuer: &str,
    principal: &Principal,
) -> Answered {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let Some(mut hub) = Hub::for_caller(env, issuer, &principal.sub) else {
        return super::respond::method_not_allowed("POST").into();
    };
    let Some(id) = header("Mcp-Session-Id") else {
        let e = RpcError::new(INVALID_REQUEST, "Mcp-Session-Id is required: initialize first");
        return HttpReply::json(400, &jsonrpc::failure(None, &e), Some("session_required")).into();
    };
    hub.held = session::open(sealing, &principal.sub, &id).and_then(|s| s.held);
    if hub.held.is_none() {
        return not_found().into();
    }
    if req.method() == Method::Delete {
        return if hub.end().await { HttpReply::empty(204).into() } else { not_found().into() };
    }
    if !header("Accept").is_some_and(|a| a.contains("text/event-stream")) {
        let e = RpcError::new(INVALID_REQUEST, "GET /mcp needs Accept: text/event-stream");
        return HttpReply::json(406, &jsonrpc::failure(None, &e), Some("not_acceptable")).into();
    }
    match hub.stream_response(header("Last-Event-ID")).await {
        Some(resp) => Answered::Streamed(event_stream(200), resp),
        None => not_found().into(),
    }
}
