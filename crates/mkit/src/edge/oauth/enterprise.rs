//! POST /oauth/token with the JWT bearer grant carrying an ID-JAG: Enterprise-Managed
//! Authorization (`crate::oauth::enterprise`) on Workers. The client authenticates as a
//! confidential client (`machine::authenticate`); the grant's provider must be listed
//! (`MKIT_ENTERPRISE_IDPS`), its keys come from the provider's discovery document (kept in the
//! isolate five minutes), the grant's `jti` is spent once, and the token's scopes follow the
//! operator's scope policy on the grant's claims.

use std::rc::Rc;
use std::time::Duration;

use worker::Request;

use super::issue::tokens;
use super::machine::{authenticate, spend};
use super::{error, json, Ctx};
use crate::auth::discovery::{discovery_urls, jwks_uri_from_metadata};
use crate::auth::jwk::JwkSet;
use crate::auth::jws::TypRule;
use crate::auth::validator::TokenError;
use crate::edge::fetch::get_document;
use crate::edge::webcrypto::verified_claims;
use crate::http::HttpReply;
use crate::oauth::enterprise::{check_grant, grant_issuer, granted_scope, token_subject};
use crate::oauth::grant::Grant;
use crate::oauth::machine::{reserved_subject, unverified_claims, Assertion};
use crate::oauth::scope_policy::eligible_scopes;
use crate::oauth::OAuthError;
use crate::web::form::query_param;
use crate::web::signin::carried_claims;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOC_BYTES: usize = 64 * 1024;
/// How long a provider's keys are used before they are fetched again.
const KEYS_TTL_SECS: u64 = 300;
/// A key the set lacks is looked for again at most this often.
const REFETCH_SECS: u64 = 30;
/// At most this many providers' keys are kept (`MKIT_ENTERPRISE_IDPS` lists at most 16).
const PROVIDERS_KEPT: usize = 16;

/// The JWT bearer grant with an ID-JAG.
pub(super) async fn grant(req: &Request, form: &str, ctx: &Ctx<'_>) -> HttpReply {
    match issue(req, form, ctx).await {
        Ok(reply) | Err(reply) => reply,
    }
}

async fn issue(req: &Request, form: &str, ctx: &Ctx<'_>) -> Result<HttpReply, HttpReply> {
    let refused = |e: OAuthError| error(&e);
    if ctx.config.enterprise_idps.is_empty() {
        return Err(refused(OAuthError::unsupported_grant_type("no enterprise identity provider is configured")));
    }
    let Some(jwt) = query_param(form, "assertion") else {
        return Err(refused(OAuthError::invalid_request("assertion (the ID-JAG) is required")));
    };
    let client = authenticate(req, form, ctx).await?;
    let claimed = unverified_claims(&jwt).and_then(|c| c.get("iss").and_then(|i| i.as_str()).map(str::to_owned));
    let provider = grant_issuer(claimed.as_deref(), &ctx.config.enterprise_idps).map_err(refused)?;
    let claims = verified(ctx, provider, &jwt).await?;
    let resource = ctx.config.mcp_resource.clone().unwrap_or_default();
    let g = check_grant(&claims, &ctx.issuer, &resource, &client.client_id, ctx.now).map_err(refused)?;
    let sub = token_subject(&g, &ctx.config.oauth_issuer);
    if reserved_subject(&sub) {
        return Err(refused(OAuthError::invalid_grant("the subject has the form of a machine client's id")));
    }
    let replayed = OAuthError::invalid_grant("the identity assertion was used before (its jti)");
    spend(ctx, provider, &Assertion { jti: g.jti.clone(), exp: g.exp }, replayed).await?;
    let config = ctx.config;
    let mut eligible = config.auth_open_scopes.clone();
    eligible.extend(eligible_scopes(&config.auth_scope_rules, &claims, config.auth_trust_unverified_email));
    let requested = query_param(form, "scope");
    let scope = granted_scope(&eligible, g.scope.as_deref(), &client.scopes, requested.as_deref());
    let carried = carried_claims(&claims, &config.auth_claims);
    let grant = Grant { client_id: client.client_id, sub, scope, resource, claims: carried };
    Ok(tokens(ctx, &grant, None))
}

/// The grant's claims once its signature (by the provider's keys) and `typ` verified; a key the
/// set lacks sends for the set again, at most every 30 seconds.
async fn verified(
    ctx: &Ctx<'_>,
    provider: &str,
    jwt: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, HttpReply> {
    let imported = &ctx.isolate.tokens.imported;
    let mut keys = provider_keys(ctx, provider, false).await?;
    let mut outcome = verified_claims(imported, jwt, &keys, TypRule::IdJag).await;
    if outcome == Err(TokenError::UnknownKey) {
        keys = provider_keys(ctx, provider, true).await?;
        outcome = verified_claims(imported, jwt, &keys, TypRule::IdJag).await;
    }
    outcome.map_err(|e| {
        let why = match e {
            TokenError::WrongType => "its typ must be oauth-id-jag+jwt",
            e => e.description(),
        };
        error(&OAuthError::invalid_grant(format!("the identity assertion: {why}")))
    })
}

/// The provider's JWK Set, from the isolate while fresh (and, when `unknown_key`, younger than
/// `REFETCH_SECS`), else from its discovery document's `jwks_uri`.
async fn provider_keys(ctx: &Ctx<'_>, provider: &str, unknown_key: bool) -> Result<Rc<JwkSet>, HttpReply> {
    let kept = &ctx.isolate.oauth.provider_keys;
    let max_age = if unknown_key { REFETCH_SECS } else { KEYS_TTL_SECS };
    let fresh = kept.borrow().get(provider).filter(|(_, at)| ctx.now < at + max_age).map(|(k, _)| k.clone());
    if let Some(keys) = fresh {
        return Ok(keys);
    }
    let keys = Rc::new(fetch_keys(provider).await.ok_or_else(provider_unavailable)?);
    let mut kept = kept.borrow_mut();
    if kept.len() >= PROVIDERS_KEPT {
        kept.clear();
    }
    kept.insert(provider.to_owned(), (keys.clone(), ctx.now));
    Ok(keys)
}

/// RFC 8414, then OpenID discovery, for the provider's `jwks_uri` (its `issuer` must be the
/// provider exactly), then the set: each GET capped and under a deadline.
async fn fetch_keys(provider: &str) -> Option<JwkSet> {
    for url in discovery_urls(provider) {
        let Ok(doc) = get_document(&url, MAX_DOC_BYTES, FETCH_TIMEOUT).await else { continue };
        let Ok(uri) = jwks_uri_from_metadata(&doc, provider) else { continue };
        let body = get_document(&uri, MAX_DOC_BYTES, FETCH_TIMEOUT).await.ok()?;
        return JwkSet::parse(&body).ok();
    }
    None
}

/// 503: the provider's keys could not be had; the client may retry.
fn provider_unavailable() -> HttpReply {
    let body = serde_json::json!({ "error": "temporarily_unavailable",
        "error_description": "the identity provider's keys cannot be loaded; try again" });
    json(503, &body, Some("idp_keys_unavailable")).with_header("Retry-After", "30")
}
