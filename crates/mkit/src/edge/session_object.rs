//! `McpSessions`: one Durable Object per caller (issuer, subject) holding that caller's
//! handshake-era sessions. Why one per caller and not one per session: a resource update a tool
//! announces must reach every session of the caller that subscribed, from any isolate.
//!
//! Kept in storage (survives eviction): each session's expiry and subscriptions. Kept in memory
//! (lives with the connections it serves): calls waiting for the client's answer, answers that
//! arrived first, the GET streams and their last events for `Last-Event-ID`.
//!
//! Only the Worker reaches it, through its binding, with internal paths (`sessions.rs`).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{durable_object, Delay, DurableObject, Env, ListOptions, Request, Response, Result, State};

use super::listeners::{Listeners, Listening};
use super::object_storage::{get_json, put_json};
use crate::mcp::session::SESSION_TTL_SECS;

use super::sessions::ANSWER_WAIT;
/// Answers kept for calls not yet waiting, events kept per GET stream for replay, and open
/// `subscriptions/listen` streams per caller.
const KEPT: usize = 32;
/// GET streams open per session.
const GET_STREAMS: usize = 4;
/// Sessions kept per caller; opening one more ends the oldest.
pub const MAX_SESSIONS: usize = 64;

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    expires_ms: u64,
    subscriptions: Vec<String>,
}

#[derive(Default)]
struct Live {
    waiting: HashMap<String, oneshot::Sender<Value>>,
    early: VecDeque<(String, Value)>,
    streams: HashMap<String, Vec<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Per session: (event number, event text), newest last.
    events: HashMap<String, VecDeque<(u64, String)>>,
    next_event: u64,
    listeners: Listeners,
}

#[durable_object]
pub struct McpSessions {
    state: State,
    live: RefCell<Live>,
}

/// What the Worker sends; `id` is the session's id at this object.
#[derive(Deserialize, Default)]
struct Op {
    #[serde(default)]
    id: String,
    #[serde(default)]
    rid: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    on: bool,
    #[serde(default)]
    message: Value,
    #[serde(default)]
    last_event_id: Option<String>,
    #[serde(default)]
    listening: Option<Listening>,
}

impl DurableObject for McpSessions {
    fn new(state: State, _env: Env) -> Self {
        McpSessions { state, live: RefCell::default() }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = req.json().await.unwrap_or_default();
        let now = worker::Date::now().as_millis();
        match req.path().as_str() {
            "/open" => self.open(now).await,
            "/publish" => self.publish(&op.uri).await,
            "/listen" => match op.listening {
                Some(l) => event_stream(self.live.borrow_mut().listeners.open(l)),
                None => Response::error("nothing to listen to", 400),
            },
            path => match self.session(&op.id, now).await {
                None => Response::error("no such session", 404),
                Some(stored) => self.on_session(path, op, stored).await,
            },
        }
    }
}

impl McpSessions {
    async fn on_session(&self, path: &str, op: Op, stored: Stored) -> Result<Response> {
        match path {
            "/check" => Response::empty(),
            "/end" => self.end(&op.id).await,
            "/wait" => self.wait(&op.id, &op.rid).await,
            "/answer" => self.answer(&op.id, op.message),
            "/subscribe" => self.subscribe(&op.id, stored, op.uri, op.on).await,
            "/stream" => self.stream(&op.id, op.last_event_id.as_deref()),
            _ => Response::error("unknown operation", 400),
        }
    }

    async fn session(&self, id: &str, now: u64) -> Option<Stored> {
        if id.is_empty() {
            return None;
        }
        let stored: Stored = get_json(&self.state.storage(), &key(id)).await?;
        (stored.expires_ms > now).then_some(stored)
    }

    async fn open(&self, now: u64) -> Result<Response> {
        let Some(id) = super::random::random_token(16) else { return Response::error("no randomness", 500) };
        self.sweep(now).await;
        let stored = Stored { expires_ms: now + SESSION_TTL_SECS * 1000, subscriptions: Vec::new() };
        put_json(&self.state.storage(), &key(&id), &stored).await?;
        Response::from_json(&json!({ "id": id }))
    }

    /// Ended sessions are deleted; expired ones when the next session opens, and the oldest past
    /// `MAX_SESSIONS` (a client that never ends its sessions cannot fill the caller's storage;
    /// the evicted one answers 404 and its client initializes again, as the spec has it).
    async fn sweep(&self, now: u64) {
        let mut live = Vec::new();
        for (k, v) in self.all().await {
            if v.expires_ms <= now {
                let _ = self.state.storage().delete(&k).await;
            } else {
                live.push((v.expires_ms, k));
            }
        }
        live.sort();
        let excess = (live.len() + 1).saturating_sub(MAX_SESSIONS);
        for (_, k) in live.into_iter().take(excess) {
            let _ = self.end(k.trim_start_matches("s:")).await;
        }
    }

    /// Every stored session (a caller has a handful).
    async fn all(&self) -> Vec<(String, Stored)> {
        let Ok(map) = self.state.storage().list_with_options(ListOptions::new().prefix("s:")).await else {
            return Vec::new();
        };
        let keys: Vec<String> = map.keys().into_iter().flatten().filter_map(|k| k.as_string()).collect();
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = get_json::<Stored>(&self.state.storage(), &k).await {
                out.push((k, v));
            }
        }
        out
    }

    async fn end(&self, id: &str) -> Result<Response> {
        self.state.storage().delete(&key(id)).await?;
        let mut live = self.live.borrow_mut();
        live.streams.remove(id);
        live.events.remove(id);
        let prefix = format!("{id} ");
        live.waiting.retain(|k, _| !k.starts_with(&prefix));
        Response::empty().map(|r| r.with_status(204))
    }

    /// A call waiting for the client's answer to request `rid`.
    async fn wait(&self, id: &str, rid: &str) -> Result<Response> {
        let slot = format!("{id} {rid}");
        let receiver = {
            let mut live = self.live.borrow_mut();
            if let Some(at) = live.early.iter().position(|(k, _)| *k == slot) {
                let answer = live.early.remove(at).map(|(_, v)| v).unwrap_or_default();
                return Response::from_json(&answer);
            }
            let (tx, rx) = oneshot::channel();
            live.waiting.insert(slot.clone(), tx);
            rx
        };
        let outcome = select(receiver, Box::pin(Delay::from(ANSWER_WAIT))).await;
        self.live.borrow_mut().waiting.remove(&slot);
        match outcome {
            Either::Left((Ok(answer), _)) => Response::from_json(&answer),
            Either::Left((Err(_), _)) => Response::error("the session ended", 404),
            Either::Right(_) => Response::error("the client did not answer in time", 504),
        }
    }

    /// The client's answer to one of our requests: to the call waiting for it, else kept.
    fn answer(&self, id: &str, message: Value) -> Result<Response> {
        let Some(rid) = message.get("id").and_then(Value::as_str) else {
            return Response::error("the answer names no request of ours", 400);
        };
        let slot = format!("{id} {rid}");
        let mut live = self.live.borrow_mut();
        match live.waiting.remove(&slot) {
            Some(tx) => {
                let _ = tx.send(message);
            }
            None => {
                if live.early.len() == KEPT {
                    live.early.pop_front();
                }
                live.early.push_back((slot, message));
            }
        }
        Response::empty().map(|r| r.with_status(202))
    }

    async fn subscribe(&self, id: &str, mut stored: Stored, uri: String, on: bool) -> Result<Response> {
        stored.subscriptions.retain(|u| *u != uri);
        if on {
            stored.subscriptions.push(uri);
        }
        put_json(&self.state.storage(), &key(id), &stored).await?;
        Response::empty()
    }

    /// `notifications/resources/updated` on the GET stream of every session subscribed to `uri`.
    async fn publish(&self, uri: &str) -> Result<Response> {
        let now = worker::Date::now().as_millis();
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/resources/updated", "params": { "uri": uri } });
        let mut sent = 0;
        for (k, v) in self.all().await {
            if v.expires_ms > now && v.subscriptions.iter().any(|u| u == uri) {
                sent += self.send(k.trim_start_matches("s:"), &note);
            }
        }
        sent += self.live.borrow_mut().listeners.publish(uri);
        Response::from_json(&json!({ "sent": sent }))
    }

    /// Writes `message` as the next event of a session's GET stream(s), kept for replay.
    fn send(&self, id: &str, message: &Value) -> usize {
        let mut live = self.live.borrow_mut();
        live.next_event += 1;
        let n = live.next_event;
        let text = format!("id: {id}-{n}\nevent: message\ndata: {message}\n\n");
        let kept = live.events.entry(id.to_owned()).or_default();
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((n, text.clone()));
        let streams = live.streams.entry(id.to_owned()).or_default();
        streams.retain(|tx| tx.unbounded_send(text.clone().into_bytes()).is_ok());
        streams.len()
    }

    /// The session's GET stream: a priming event, then what was missed after `last_event_id`.
    fn stream(&self, id: &str, last_event_id: Option<&str>) -> Result<Response> {
        let (tx, rx) = mpsc::unbounded::<Vec<u8>>();
        let mut live = self.live.borrow_mut();
        let after = last_event_id.and_then(|l| l.strip_prefix(id)?.strip_prefix('-')?.parse::<u64>().ok());
        let _ = tx.unbounded_send(format!("id: {id}-0\nretry: 3000\ndata: \n\n").into_bytes());
        if let (Some(after), Some(kept)) = (after, live.events.get(id)) {
            for (_, text) in kept.iter().filter(|(n, _)| *n > after) {
                let _ = tx.unbounded_send(text.clone().into_bytes());
            }
        }
        // Likewise a session keeps its newest GET streams; the oldest past the limit is ended.
        let streams = live.streams.entry(id.to_owned()).or_default();
        streams.retain(|s| !s.is_closed());
        if streams.len() >= GET_STREAMS {
            streams.remove(0).close_channel();
        }
        streams.push(tx);
        event_stream(rx)
    }
}

fn event_stream(rx: mpsc::UnboundedReceiver<Vec<u8>>) -> Result<Response> {
    let headers = worker::Headers::new();
    headers.set("Content-Type", "text/event-stream")?;
    headers.set("Cache-Control", "no-cache")?;
    Ok(Response::from_stream(rx.map(Ok::<Vec<u8>, worker::Error>))?.with_headers(headers))
}

fn key(id: &str) -> String {
    format!("s:{id}")
}
