//! POST /oauth/token with `grant_type=client_credentials`: machine clients
//! (`crate::oauth::machine`) on Workers — the client read from D1, its assertion's signature
//! checked through WebCrypto against its keys, the assertion's `jti` written once, then an access
//! token whose `sub` is the client. No refresh token: the client asks again (OAuth 2.1 §4.2.3).

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use worker::Request;

use super::issue::tokens;
use super::{error, store_unavailable, Ctx};
use crate::auth::jwk::JwkSet;
use crate::auth::jws::TypRule;
use crate::auth::validator::TokenError;
use crate::edge::d1;
use crate::edge::fetch::get_document;
use crate::edge::webcrypto::verified_claims;
use crate::http::HttpReply;
use crate::oauth::grant::Grant;
use crate::oauth::machine::{
    assertion_client, check_assertion, client_auth, granted_scope, secret_matches, Assertion, ClientAuth, Credential,
    MachineClient,
};
use crate::oauth::machine_store::{machine_client_from_row, remember_assertion, MachineRow, MACHINE_CLIENT_SQL};
use crate::oauth::uri::Uri;
use crate::oauth::OAuthError;
use crate::sql::SqlValue;
use crate::web::form::query_param;

const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The client credentials grant: authenticate the client, then issue.
pub(super) async fn grant(req: &Request, form: &str, ctx: &Ctx<'_>) -> HttpReply {
    match issue(req, form, ctx).await {
        Ok(reply) | Err(reply) => reply,
    }
}

async fn issue(req: &Request, form: &str, ctx: &Ctx<'_>) -> Result<HttpReply, HttpReply> {
    let client = authenticate(req, form, ctx).await?;
    let resource = ctx.config.mcp_resource.clone().unwrap_or_default();
    if query_param(form, "resource").is_some_and(|r| r != resource) {
        let e = OAuthError::invalid_target(format!("this server issues tokens only for {resource}"));
        return Err(error(&e));
    }
    let scope = granted_scope(query_param(form, "scope").as_deref(), &client.scopes).map_err(|e| error(&e))?;
    let grant = Grant {
        client_id: client.client_id.clone(),
        sub: client.client_id,
        scope,
        resource,
        claims: Default::default(),
    };
    Ok(tokens(ctx, &grant, None))
}

/// The machine client this token request authenticates as (its secret, or its assertion, whose
/// `jti` is then spent): confidential clients only, as the grants that use it require.
pub(super) async fn authenticate(req: &Request, form: &str, ctx: &Ctx<'_>) -> Result<MachineClient, HttpReply> {
    let refused = |e: OAuthError| error(&e);
    match client_auth(|k| query_param(form, k), basic_credentials(req)).map_err(refused)? {
        ClientAuth::Secret { client_id, secret } => {
            let client = find(ctx, &client_id).await?;
            match &client.credential {
                Credential::Secret(hash) if secret_matches(hash, &secret) => Ok(client),
                _ => Err(refused(OAuthError::invalid_client("the client secret is not this client's"))),
            }
        }
        ClientAuth::Assertion(jwt) => {
            let client = find(ctx, &assertion_client(&jwt).map_err(refused)?).await?;
            let assertion = verify(ctx, &client, &jwt).await?;
            first_use(ctx, &client.client_id, &assertion).await?;
            Ok(client)
        }
    }
}

/// The registered, unrevoked client `client_id`.
async fn find(ctx: &Ctx<'_>, client_id: &str) -> Result<MachineClient, HttpReply> {
    let unknown =
        || error(&OAuthError::invalid_client("unknown client: machine clients are made by make client-create"));
    if !client_id.starts_with(crate::oauth::machine::CLIENT_ID_PREFIX) {
        return Err(unknown());
    }
    let row = d1::first_row::<Row>(ctx.env, MACHINE_CLIENT_SQL, &[SqlValue::Text(client_id.to_owned())]).await;
    let client = match row {
        Ok(Some(r)) => machine_client_from_row(client_id, r.into()).ok_or_else(store_unavailable)?,
        Ok(None) => return Err(unknown()),
        Err(_) => return Err(store_unavailable()),
    };
    if client.revoked {
        return Err(error(&OAuthError::invalid_client("this client has been revoked")));
    }
    Ok(client)
}

/// The assertion's signature by one of the client's keys, then its claims (RFC 7523 §3).
async fn verify(ctx: &Ctx<'_>, client: &MachineClient, jwt: &str) -> Result<Assertion, HttpReply> {
    let keys = match &client.credential {
        Credential::Keys(doc) => JwkSet::parse(doc.as_bytes()).ok(),
        Credential::JwksUri(uri) => fetch_keys(uri).await,
        Credential::Secret(_) => {
            return Err(error(&OAuthError::invalid_client("this client authenticates with its secret, not a JWT")))
        }
    };
    let Some(keys) = keys else {
        return Err(error(&OAuthError::invalid_client("the client's keys could not be read")));
    };
    let claims =
        verified_claims(&ctx.isolate.tokens.imported, jwt, &keys, TypRule::ClientAssertion).await.map_err(|e| {
            let why = match e {
                TokenError::WrongType => "its typ must be JWT or client-authentication+jwt",
                e => e.description(),
            };
            error(&OAuthError::invalid_client(format!("client_assertion refused: {why}")))
        })?;
    let token_endpoint = format!("{}/oauth/token", ctx.issuer);
    check_assertion(&claims, &client.client_id, &[&ctx.issuer, &token_endpoint], ctx.now).map_err(|e| error(&e))
}

/// The client's published JWK Set: an `https` URL (`http` on loopback only, for local tests), as
/// WHATWG fetch reads it, capped, with a deadline. The operator registered the URL, not a stranger.
async fn fetch_keys(uri: &str) -> Option<JwkSet> {
    let url = Uri::parse(uri).filter(|u| u.as_str().starts_with("https://") || u.is_loopback())?;
    let body = get_document(url.as_str(), MAX_JWKS_BYTES, JWKS_TIMEOUT).await.ok()?;
    JwkSet::parse(&body).ok()
}

/// Writes the assertion's `jti` under `by` (the client, or the provider of an ID-JAG); one seen
/// before is a replay (RFC 7523 §3, item 7), refused as `replayed` says.
pub(super) async fn first_use(ctx: &Ctx<'_>, by: &str, a: &Assertion) -> Result<(), HttpReply> {
    spend(ctx, by, a, OAuthError::invalid_client("client_assertion refused: its jti was used before")).await
}

/// `first_use` with the refusal of a replay.
pub(super) async fn spend(ctx: &Ctx<'_>, by: &str, a: &Assertion, replayed: OAuthError) -> Result<(), HttpReply> {
    match d1::apply_batch(ctx.env, &[remember_assertion(by, a)]).await {
        Ok(changed) if changed.first() == Some(&1) => Ok(()),
        Ok(_) => Err(error(&replayed)),
        Err(_) => Err(store_unavailable()),
    }
}

/// `Authorization: Basic` credentials (RFC 6749 §2.3.1: each form-urlencoded, then base64).
pub(super) fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let h = req.headers().get("Authorization").ok().flatten()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(h.strip_prefix("Basic ")?.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    Some((query_param(&format!("i={id}"), "i")?, query_param(&format!("s={secret}"), "s").unwrap_or_default()))
}

#[derive(Deserialize)]
struct Row {
    name: String,
    scopes: String,
    secret_hash: Option<String>,
    jwks_uri: Option<String>,
    jwks: Option<String>,
    revoked_at: Option<f64>,
}

impl From<Row> for MachineRow {
    fn from(r: Row) -> Self {
        MachineRow {
            name: r.name,
            scopes: r.scopes,
            secret_hash: r.secret_hash,
            jwks_uri: r.jwks_uri,
            jwks: r.jwks,
            revoked_at: r.revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    /// The sign-in refuses a person whose subject has a machine client's form (`web::signin`).
    #[test]
    fn no_person_signs_in_with_a_machine_clients_subject() {
        assert_eq!(crate::web::signin::MACHINE_SUBJECT_PREFIX, crate::oauth::machine::CLIENT_ID_PREFIX);
    }
}
