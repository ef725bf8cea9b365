//! Response concerns every route shares, one helper each: a configuration's 503, `HttpReply` to
//! `worker::Response`, and a bearer challenge to `WWW-Authenticate`.

use serde_json::json;
use worker::{Env, Headers, Response, Result};

use crate::auth::prm::Challenge;
use crate::config::{Config, ConfigError, VarSource};
use crate::http::HttpReply;
use crate::mcp::jsonrpc::INTERNAL_ERROR;

/// Worker vars and secrets (`Env::var` reads both).
pub struct EnvVars<'a>(pub &'a Env);

impl VarSource for EnvVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.var(name).ok().map(|v| v.to_string())
    }
}

/// 503: the configuration does not validate; names every problem (never a value).
pub(super) fn misconfigured(errors: &[ConfigError]) -> HttpReply {
    let problems = config_problems(errors);
    let body = json!({ "jsonrpc": "2.0", "id": null, "error": {
        "code": INTERNAL_ERROR, "message": format!("server misconfigured: {problems}") } });
    let mut reply = HttpReply::json(503, &body, Some("misconfigured"));
    reply.log.config = Some(problems);
    reply
}

/// Every configuration problem as `NAME: reason`, joined: names and fixed reasons, never a value.
pub fn config_problems(errors: &[ConfigError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Sets `WWW-Authenticate` from the reply's challenge: the one place scopes reach a client in a
/// challenge, so they carry `OAUTH_SCOPE_PREFIX` here. `OAUTH_REQUIRED_SCOPES` are named on 401s
/// so a client knows what to ask for.
pub fn render_challenge(mut reply: HttpReply, metadata_url: &str, config: &Config) -> HttpReply {
    let profile = &config.token_profile;
    if let Some(c) = reply.challenge.take() {
        let c = match c {
            Challenge::InsufficientScope { scopes } => {
                Challenge::InsufficientScope { scopes: profile.advertised_all(&scopes) }
            }
            other => other,
        };
        let required = profile.advertised_all(&config.oauth_required_scopes);
        reply = reply.with_header("WWW-Authenticate", c.www_authenticate(metadata_url, &required));
    }
    reply
}

/// 405, naming the methods the path takes.
pub fn method_not_allowed(allow: &'static str) -> HttpReply {
    HttpReply::error(405, "method_not_allowed").with_header("Allow", allow)
}

/// A handler's answer: a reply built whole, or an event stream the platform carries (a held
/// session's), sent with the reply's status and headers.
pub enum Answered {
    Whole(HttpReply),
    Streamed(HttpReply, Response),
}

impl From<HttpReply> for Answered {
    fn from(r: HttpReply) -> Self {
        Answered::Whole(r)
    }
}

impl Answered {
    /// The reply, or the streamed answer's status, headers and log.
    pub fn reply(&mut self) -> &mut HttpReply {
        match self {
            Answered::Whole(r) | Answered::Streamed(r, _) => r,
        }
    }

    /// The whole reply; a stream here (never, where this is used) is a 500.
    pub fn whole(self) -> HttpReply {
        match self {
            Answered::Whole(r) => r,
            Answered::Streamed(..) => HttpReply::error(500, "stream_in_stream"),
        }
    }

    pub fn map(self, f: impl FnOnce(HttpReply) -> HttpReply) -> Answered {
        match self {
            Answered::Whole(r) => Answered::Whole(f(r)),
            Answered::Streamed(r, s) => Answered::Streamed(f(r), s),
        }
    }
}

pub fn into_response(a: Answered) -> Result<Response> {
    let (r, streamed) = match a {
        Answered::Whole(r) => (r, None),
        Answered::Streamed(r, s) => (r, Some(s)),
    };
    let headers = Headers::new();
    for (name, value) in &r.headers {
        // append, not set: a reply may carry several `Set-Cookie`s.
        headers.append(name, value)?;
    }
    let response = match streamed {
        Some(s) => {
            for (name, value) in s.headers().entries() {
                headers.set(&name, &value)?;
            }
            s
        }
        None if r.body.is_empty() => Response::empty()?,
        None => Response::ok(r.body)?,
    };
    Ok(response.with_status(r.status).with_headers(headers))
}
