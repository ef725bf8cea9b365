//! One answered request: the JSON-RPC response, the HTTP status it travels with, and what the
//! request log says of it.

use std::rc::Rc;

use serde_json::Value;

use super::framing::{encode, Accepts, Body};
use super::jsonrpc::{self, Id, RpcError};
use super::server::DispatchError;
use super::version::{Era, ProtocolVersion};
use crate::http::HttpReply;
use crate::log::Extras;
use mkit_auth::prm::Challenge;

/// One answered request: the JSON-RPC response and the HTTP status it travels with.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Body,
    pub(super) error: Option<&'static str>,
    /// Progress and log notifications to send before the response (event stream only).
    pub(super) notifications: Vec<Value>,
    pub(super) challenge: Option<Challenge>,
    /// An `Mcp-Session-Id` for an `initialize` answer (`mcp::session`).
    pub(super) session: Option<String>,
    /// What the request log says about this request.
    pub(super) log: Extras,
}

impl Answer {
    fn new(status: u16, body: Body) -> Answer {
        Answer {
            status,
            body,
            error: None,
            notifications: Vec::new(),
            challenge: None,
            session: None,
            log: Extras::default(),
        }
    }

    pub(super) fn err(status: u16, id: Option<&Id>, e: RpcError) -> Answer {
        Answer { error: Some(e.code_name()), ..Answer::new(status, Body::Value(jsonrpc::failure(id, &e))) }
    }

    /// A list answer this isolate rendered already.
    pub(super) fn rendered(id: &Id, result: Rc<str>) -> Answer {
        Answer::new(200, Body::Rendered { id: id.0.clone(), result })
    }

    pub(super) fn encode(self, accepts: Accepts) -> HttpReply {
        let format = accepts.format(!self.notifications.is_empty());
        let mut reply = encode(format, self.status, &self.notifications, self.body.text(), self.error);
        reply.challenge = self.challenge;
        reply.log = Box::new(self.log);
        match self.session {
            Some(id) => reply.with_header("Mcp-Session-Id", id),
            None => reply,
        }
    }
}

/// The HTTP status and body for a dispatch outcome.
pub(super) fn answer_for(id: &Id, version: ProtocolVersion, outcome: Result<Value, DispatchError>) -> Answer {
    match outcome {
        Ok(result) => {
            let error = result.get("isError").and_then(Value::as_bool).filter(|e| *e).map(|_| "tool_error");
            Answer { error, ..Answer::new(200, Body::Value(jsonrpc::success(id, result))) }
        }
        Err(DispatchError::Forbidden { scopes }) => {
            let e = RpcError::new(
                jsonrpc::INVALID_REQUEST,
                format!("this needs scopes the token lacks: {}", scopes.join(" ")),
            );
            Answer {
                error: Some("insufficient_scope"),
                challenge: Some(Challenge::InsufficientScope { scopes }),
                ..Answer::err(403, Some(id), e)
            }
        }
        Err(DispatchError::Rpc(e)) => {
            let status = match e.code {
                jsonrpc::METHOD_NOT_FOUND if version.era() == Era::Stateless => 404,
                jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY => 400,
                _ => 200,
            };
            Answer::err(status, Some(id), e)
        }
    }
}
