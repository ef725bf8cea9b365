//! The authorization server on Workers (`MKIT_AUTH_SERVER=on`): `crate::oauth` decides, this binds
//! D1, outbound fetches, randomness and the clock. Off, every route answers 404.

mod authorize;
mod clients;
mod enterprise;
mod issue;
mod machine;
pub(super) mod revoked;
mod token;

pub(crate) use super::random::random_token;

use std::rc::Rc;

use serde_json::Value;
use worker::{Date, Env, Request};

use super::isolate::Isolate;
use crate::auth::jwk::JwkSet;
use crate::config::Config;
use crate::http::HttpReply;
use crate::oauth::token::{jwks, Key};
use crate::oauth::{metadata, OAuthError};
use crate::routes::OAuthRoute;

/// What every endpoint works with.
pub(super) struct Ctx<'a> {
    pub env: &'a Env,
    pub isolate: &'a Isolate,
    pub config: &'a Config,
    /// mKit's issuer identifier: the origin of `MCP_RESOURCE`.
    pub issuer: String,
    pub now: u64,
}

pub async fn handle(route: OAuthRoute, req: Request, env: &Env, isolate: &Isolate) -> HttpReply {
    let config = match isolate.config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let Some(issuer) = config.authorization_server_issuer() else {
        return HttpReply::error(404, "authorization_server_off");
    };
    let ctx = Ctx { env, isolate, config: &config, issuer, now: Date::now().as_millis() / 1000 };
    match route {
        OAuthRoute::Metadata => cors(server_metadata(&ctx)),
        OAuthRoute::Jwks => cors(
            json(200, &jwks(&signing_keys(&isolate.oauth, &config)), None)
                .with_header("Cache-Control", "public, max-age=300"),
        ),
        OAuthRoute::Register => cors(clients::register(req, &ctx).await),
        OAuthRoute::Authorize => authorize::authorize(req, &ctx).await,
        OAuthRoute::Consent => authorize::consent(req, &ctx).await,
        OAuthRoute::Token => cors(token::token(req, &ctx).await),
        OAuthRoute::Revoke => cors(token::revoke(req, &ctx).await),
        OAuthRoute::Preflight(_) => preflight(),
    }
}

fn server_metadata(ctx: &Ctx<'_>) -> HttpReply {
    let scopes = super::mcp::supported_scopes(ctx.isolate, ctx.config);
    let enterprise = !ctx.config.enterprise_idps.is_empty();
    json(200, &metadata::document(&ctx.issuer, &scopes, ctx.config.auth_registration.is_some(), enterprise), None)
        .with_header("Cache-Control", "public, max-age=300")
}

/// What the authorization server keeps in the isolate (`Isolate::oauth`).
pub type Kept = super::state::OAuthState;
use super::state::Derived;

/// The signing keys, one per `MKIT_SECRET` value; the first signs.
pub(super) fn signing_keys(kept: &Kept, config: &Config) -> Rc<Vec<Key>> {
    cached(kept, config).0
}

/// The JWK Set `/mcp` validates mKit's own tokens against.
pub fn local_key_set(kept: &Kept, config: &Config) -> JwkSet {
    cached(kept, config).1
}

fn cached(kept: &Kept, config: &Config) -> (Rc<Vec<Key>>, JwkSet) {
    let mut k = kept.derived.borrow_mut();
    if let Some(d) = k.as_ref().filter(|d| d.secrets == config.deployment_secrets) {
        return (d.keys.clone(), d.set.clone());
    }
    let keys = Rc::new(config.deployment_secrets.iter().map(|s| Key::derive(s)).collect::<Vec<_>>());
    let set = JwkSet::parse(jwks(&keys).to_string().as_bytes()).unwrap_or_default();
    *k = Some(Derived { secrets: config.deployment_secrets.clone(), keys: keys.clone(), set: set.clone() });
    (keys, set)
}

/// A JSON answer that no cache keeps (tokens, codes, registrations).
pub(super) fn json(status: u16, v: &Value, code: Option<&'static str>) -> HttpReply {
    HttpReply::json(status, v, code).with_header("Cache-Control", "no-store")
}

/// An OAuth error as RFC 6749 §5.2 answers it.
pub(super) fn error(e: &OAuthError) -> HttpReply {
    json(e.status, &e.body(), Some(e.code))
}

/// D1 could not be reached: the client may retry.
pub(super) fn store_unavailable() -> HttpReply {
    let body = serde_json::json!({ "error": "temporarily_unavailable", "error_description": "storage is unavailable; try again" });
    json(503, &body, Some("store_unavailable")).with_header("Retry-After", "5")
}

/// Browser-based clients (the MCP Inspector) call these endpoints cross-origin, without cookies.
fn cors(reply: HttpReply) -> HttpReply {
    reply.with_header("Access-Control-Allow-Origin", "*")
}

fn preflight() -> HttpReply {
    cors(HttpReply::empty(204))
        .with_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        .with_header("Access-Control-Allow-Headers", "Content-Type, Authorization, MCP-Protocol-Version")
        .with_header("Access-Control-Max-Age", "86400")
}
