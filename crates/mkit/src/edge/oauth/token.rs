//! POST /oauth/token (authorization code with PKCE, refresh with rotation; client credentials in
//! `machine`) and POST /oauth/revoke (RFC 7009). Public clients: the `client_id` names the client,
//! PKCE and the single-use, rotating secrets prove it. Every refusal is an RFC 6749 §5.2 JSON error, never a 5xx for bad input.

use base64::Engine as _;
use serde::Deserialize;
use worker::Request;

use super::issue::tokens;
use super::{clients, error, random_token, store_unavailable, Ctx};
use crate::edge::body::{read_capped, BodyError};
use crate::edge::d1;
use crate::http::HttpReply;
use crate::oauth::grant::{
    redeem_code, secret_hash, use_refresh, CodeExchange, CodeRefusal, RefreshOutcome, RefreshRequest,
};
use crate::oauth::{store, OAuthError};
use crate::sql::SqlValue;
use crate::web::form::query_param;

const MAX_FORM_BYTES: usize = 8 * 1024;

/// The form body, capped.
async fn form(req: &mut Request) -> Result<String, HttpReply> {
    match read_capped(req, MAX_FORM_BYTES).await {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(BodyError::TooLarge) => {
            Err(error(&OAuthError::invalid_request(format!("the body is larger than {MAX_FORM_BYTES} bytes"))))
        }
        Err(BodyError::Unreadable) => Err(error(&OAuthError::invalid_request("the body could not be read"))),
    }
}

/// `client_id` from the form, else from an `Authorization: Basic` header a client sent anyway
/// (registered as a public client, it has no secret to check).
fn client_id(req: &Request, form: &str) -> Option<String> {
    query_param(form, "client_id").or_else(|| {
        let h = req.headers().get("Authorization").ok().flatten()?;
        let raw = base64::engine::general_purpose::STANDARD.decode(h.strip_prefix("Basic ")?.trim()).ok()?;
        let id = String::from_utf8(raw).ok()?.split(':').next()?.to_owned();
        query_param(&format!("i={id}"), "i")
    })
}

/// POST /oauth/token.
pub async fn token(mut req: Request, ctx: &Ctx<'_>) -> HttpReply {
    let basic = req.headers().get("Authorization").ok().flatten().is_some_and(|h| h.starts_with("Basic "));
    let reply = grant(&mut req, ctx).await;
    // RFC 6749 §5.2: a client that authenticated with the Authorization header is answered 401
    // with a challenge for the scheme it used.
    if basic && reply.status == 401 {
        return reply.with_header("WWW-Authenticate", "Basic realm=\"oauth\"");
    }
    reply
}

/// The token request, by grant type.
async fn grant(req: &mut Request, ctx: &Ctx<'_>) -> HttpReply {
    let form = match form(req).await {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let grant_type = query_param(&form, "grant_type");
    // Machine clients authenticate (RFC 7523 assertions name the client inside the JWT).
    match grant_type.as_deref() {
        Some("client_credentials") => return super::machine::grant(req, &form, ctx).await,
        Some(crate::oauth::enterprise::JWT_BEARER) => return super::enterprise::grant(req, &form, ctx).await,
        _ => {}
    }
    let Some(client_id) = client_id(req, &form) else {
        return error(&OAuthError::invalid_client("client_id is required"));
    };
    match grant_type.as_deref() {
        Some("authorization_code") => code_grant(ctx, &client_id, &form).await,
        Some("refresh_token") => refresh_grant(ctx, &client_id, &form).await,
        Some(other) => error(&OAuthError::unsupported_grant_type(format!("grant_type {other} is not supported"))),
        None => error(&OAuthError::invalid_request("grant_type is required")),
    }
}

#[derive(Deserialize)]
struct CodeRow {
    grant_json: String,
    redirect_uri: String,
    code_challenge: String,
    family: String,
    expires_at: i64,
    used: i64,
}

async fn code_grant(ctx: &Ctx<'_>, client_id: &str, form: &str) -> HttpReply {
    let p = |k: &str| query_param(form, k);
    let Some(code_secret) = p("code") else { return error(&OAuthError::invalid_request("code is required")) };
    let client = match clients::find(ctx, client_id).await {
        Ok(c) => c,
        Err(clients::NoClient::Refused(e)) => return error(&e),
        Err(clients::NoClient::Unavailable(reply)) => return reply,
    };
    let row =
        match d1::first_row::<CodeRow>(ctx.env, store::CODE_SQL, &[SqlValue::Text(secret_hash(&code_secret))]).await {
            Ok(r) => r,
            Err(_) => return store_unavailable(),
        };
    let family = row.as_ref().map(|r| r.family.clone()).unwrap_or_default();
    let code =
        row.and_then(|r| store::code_from_row(&r.grant_json, r.redirect_uri, r.code_challenge, r.expires_at, r.used));
    let (redirect_uri, verifier, resource) = (p("redirect_uri"), p("code_verifier"), p("resource"));
    let exchange = CodeExchange {
        client_id,
        redirect_uri: redirect_uri.as_deref(),
        code_verifier: verifier.as_deref(),
        resource: resource.as_deref(),
    };
    let grant = match redeem_code(code.as_ref(), &exchange, ctx.now) {
        Ok(g) => g,
        Err(CodeRefusal::Invalid(e)) => return error(&e),
        Err(CodeRefusal::Replayed(e)) => return replayed(ctx, &code_secret, &e).await,
    };
    let (Some(code), Some(refresh)) = (code, random_token(32)) else { return store_unavailable() };
    match d1::apply_batch(ctx.env, &store::redeem(&code_secret, &family, &code, &refresh, ctx.now)).await {
        Ok(changes) if changes == [1, 1, 1] => tokens(ctx, &grant, client.refresh.then_some(refresh.as_str())),
        Ok(_) => {
            replayed(ctx, &code_secret, &OAuthError::invalid_grant("the code is unknown, expired or already used"))
                .await
        }
        Err(_) => store_unavailable(),
    }
}

/// A code redeemed twice: what the first redemption issued is revoked (OAuth 2.1 §4.1.3).
async fn replayed(ctx: &Ctx<'_>, code_secret: &str, e: &OAuthError) -> HttpReply {
    let _ = d1::apply_batch(ctx.env, &[store::revoke_family_of_code(code_secret)]).await;
    error(e)
}

#[derive(Deserialize)]
struct RefreshRow {
    family: String,
    grant_json: String,
    expires_at: i64,
    rotated: i64,
    family_expires_at: i64,
    revoked: i64,
    signed_in_at: i64,
}

async fn refresh_grant(ctx: &Ctx<'_>, client_id: &str, form: &str) -> HttpReply {
    let Some(old) = query_param(form, "refresh_token") else {
        return error(&OAuthError::invalid_request("refresh_token is required"));
    };
    let row = match d1::first_row::<RefreshRow>(ctx.env, store::REFRESH_SQL, &[SqlValue::Text(secret_hash(&old))]).await
    {
        Ok(r) => r,
        Err(_) => return store_unavailable(),
    };
    let token = row.and_then(|r| {
        store::refresh_from_row(
            r.family,
            &r.grant_json,
            r.expires_at,
            r.rotated,
            r.family_expires_at,
            r.revoked,
            r.signed_in_at,
        )
    });
    let resource = query_param(form, "resource");
    let request =
        RefreshRequest { client_id, resource: resource.as_deref(), signin_max_secs: ctx.config.auth_signin_secs };
    let (grant, family) = match (use_refresh(token.as_ref(), &request, ctx.now), token) {
        (RefreshOutcome::Rotate(g), Some(t)) => (g, t.family),
        (RefreshOutcome::RevokeFamily(e), Some(t)) => return revoke_family(ctx, &t.family, &e).await,
        (RefreshOutcome::Refuse(e) | RefreshOutcome::RevokeFamily(e), _) => return error(&e),
        (RefreshOutcome::Rotate(_), None) => return error(&OAuthError::invalid_grant("the refresh token is unknown")),
    };
    let Some(new) = random_token(32) else { return store_unavailable() };
    match d1::apply_batch(ctx.env, &store::rotate(&old, &new, &family, &grant, ctx.now)).await {
        Ok(changes) if changes == [1, 1] => tokens(ctx, &grant, Some(&new)),
        Ok(_) => {
            revoke_family(
                ctx,
                &family,
                &OAuthError::invalid_grant("this refresh token was already used: sign in again"),
            )
            .await
        }
        Err(_) => store_unavailable(),
    }
}

async fn revoke_family(ctx: &Ctx<'_>, family: &str, e: &OAuthError) -> HttpReply {
    let _ = d1::apply_batch(ctx.env, &[store::revoke_family(family)]).await;
    error(e)
}

/// POST /oauth/revoke: a refresh token revokes its whole sign-in. Unknown tokens and access
/// tokens (short-lived, not revocable here) get 200 too, as RFC 7009 §2.2 asks.
pub async fn revoke(mut req: Request, ctx: &Ctx<'_>) -> HttpReply {
    let form = match form(&mut req).await {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let Some(token) = query_param(&form, "token") else {
        return error(&OAuthError::invalid_request("token is required"));
    };
    let Some(client_id) = client_id(&req, &form) else {
        return error(&OAuthError::invalid_client("client_id is required"));
    };
    match d1::apply_batch(ctx.env, &[store::revoke_by_refresh(&token, &client_id)]).await {
        Ok(_) => HttpReply::empty(200).with_header("Cache-Control", "no-store"),
        Err(_) => store_unavailable(),
    }
}
