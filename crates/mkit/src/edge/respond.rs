//! Response concerns every route shares, one helper each: configuration or 503, `HttpReply` to
//! `worker::Response`, and a bearer challenge to `WWW-Authenticate`.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::json;
use worker::{Env, Headers, Response, Result};

use crate::auth::prm::Challenge;
use crate::config::{Config, ConfigError, Needs, VarSource};
use crate::http::HttpReply;
use crate::mcp::jsonrpc::INTERNAL_ERROR;

/// Worker vars and secrets (`Env::var` reads both).
pub struct EnvVars<'a>(pub &'a Env);

impl VarSource for EnvVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.var(name).ok().map(|v| v.to_string())
    }
}

thread_local! {
    /// The configuration this isolate validated. An isolate runs one version of the Worker with
    /// one set of vars and secrets (changing either deploys a new version), so it is read from
    /// `Env` once, not on every request; a configuration with errors is read again each time.
    static LOADED: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The validated configuration, or the 503 that names every problem (never a value).
pub fn config(env: &Env) -> std::result::Result<Rc<Config>, HttpReply> {
    if let Some(c) = LOADED.with(|l| l.borrow().clone()) {
        return Ok(c);
    }
    let c = Rc::new(Config::load_for(&EnvVars(env), needs()).map_err(|errors| misconfigured(&errors))?);
    LOADED.with(|l| *l.borrow_mut() = Some(c.clone()));
    Ok(c)
}

/// What this build serves: billing settings are required once anything is sold (an entitlement or
/// a price in credits), so a credit pack bought through the pay link is always granted.
pub fn needs() -> Needs {
    Needs { paid_tools: crate::app::registry().sells() }
}

fn misconfigured(errors: &[ConfigError]) -> HttpReply {
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
