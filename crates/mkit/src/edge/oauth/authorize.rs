//! GET /oauth/authorize and POST /oauth/consent: the request is checked (`oauth::authorize`), the
//! user signs in at the upstream provider (the pay pages' sign-in, `edge::signin`), consents on
//! a page naming the client and where the answer goes, and the client gets a single-use code.
//! Only a signed-in user's code or refusal is sent to the redirect URI; request errors are pages.

use worker::Request;

use super::{clients, random_token, Ctx};
use crate::edge::body::read_capped;
use crate::edge::d1;
use crate::edge::signin::{see_other, unavailable, Shop};
use crate::http::HttpReply;
use crate::keyring::{self, Purpose};
use crate::oauth::authorize::{check, response_params, Approved, AuthorizationRequest};
use crate::oauth::client::Client;
use crate::oauth::grant::{Code, Grant, CODE_TTL_SECS};
use crate::oauth::redirect::display_host;
use crate::oauth::scope_policy::grant;
use crate::oauth::uri::Uri;
use crate::oauth::{store, OAuthError};
use crate::seal;

use crate::web::consent::{self, Consent};
use crate::web::form::{encode, query_param};
use crate::web::pages::page;
use crate::web::signin::Identity;

/// Longer authorization requests are refused: the query rides in the sign-in cookie.
const MAX_QUERY: usize = 2048;
const CONSENT_TTL_SECS: u64 = 600;
const CONSENT: Purpose = Purpose::OAuthConsent;

/// GET /oauth/authorize.
pub async fn authorize(req: Request, ctx: &Ctx<'_>) -> HttpReply {
    let query = crate::edge::request_url::query(&req);
    if query.len() > MAX_QUERY {
        return page(
            400,
            "Request too long",
            "The authorization request is longer than this server accepts.",
            Some("invalid_request"),
        );
    }
    let request = parse(&query);
    let Some(client_id) = request.client_id.as_deref() else {
        return page(400, "Unknown client", "The request names no client_id.", Some("invalid_request"));
    };
    let client = match clients::find(ctx, client_id).await {
        Ok(c) => c,
        Err(clients::NoClient::Refused(e)) => return page(400, "Unknown client", &e.description, Some(e.code)),
        Err(clients::NoClient::Unavailable(reply)) => return reply,
    };
    let resource = ctx.config.mcp_resource.clone().unwrap_or_default();
    // Every request error is a page, never a redirect (no open redirector, RFC 9700 §4.11.2).
    let approved =
        match check(&request, &client, &resource, &crate::edge::mcp::supported_scopes(ctx.isolate, ctx.config)) {
            Ok(a) => a,
            Err(e) => return page(400, "This request cannot be answered", &e.description, Some(e.code)),
        };
    let Some(shop) = Shop::for_sign_in(ctx.config, &req) else { return unavailable("no_web_client") };
    let Some(id) = shop.signed_in_identity(&req) else {
        return shop.start_sign_in(&format!("/oauth/authorize?{query}")).await;
    };
    // What the request asked for narrowed to what this user may have (`oauth::scope_policy`).
    let approved = Approved { scope: grant(&approved.scope, &ctx.config.auth_open_scopes, &id.scopes), ..approved };
    consent_page(ctx, &client, &approved, &id.sub)
}

/// The query's authorization request parameters.
fn parse(query: &str) -> AuthorizationRequest {
    let p = |k: &str| query_param(query, k);
    AuthorizationRequest {
        response_type: p("response_type"),
        client_id: p("client_id"),
        redirect_uri: p("redirect_uri"),
        state: p("state"),
        code_challenge: p("code_challenge"),
        code_challenge_method: p("code_challenge_method"),
        resource: p("resource"),
        scope: p("scope"),
    }
}

/// The consent page, carrying the approved request sealed to this user for ten minutes.
fn consent_page(ctx: &Ctx<'_>, client: &Client, approved: &Approved, sub: &str) -> HttpReply {
    let Some(key) = keyring::sealing(&ctx.config.deployment_secrets, CONSENT) else {
        return unavailable("no_deployment_secret");
    };
    let sealed =
        seal::seal(&key, &[CONSENT.label(), &ctx.issuer, sub], &approved.to_json(), ctx.now + CONSENT_TTL_SECS);
    let Some(target) = Uri::parse(&approved.redirect_uri) else { return unavailable("redirect_uri_invalid") };
    let local = target.is_loopback() || (target.scheme != "https" && target.scheme != "http");
    let source = csp_source(&target);
    consent::page(&Consent {
        server: ctx.isolate.info.title,
        client_name: client.display_name(),
        client_id: &client.client_id,
        application_type: client.application_type,
        redirect_host: &display_host(&approved.redirect_uri),
        local_redirect: local,
        signed_in_as: sub,
        scope: &approved.scope,
        sealed: &sealed,
        redirect_source: &source,
    })
}

/// The redirect URI as a CSP source: its origin, or its scheme for an app's private-use scheme.
/// Only characters a source may hold survive (the URI already passed the redirect rules).
fn csp_source(target: &Uri) -> String {
    let source = match target.port {
        _ if target.scheme != "http" && target.scheme != "https" => format!("{}:", target.scheme),
        Some(p) => format!("{}://{}:{p}", target.scheme, target.host),
        None => format!("{}://{}", target.scheme, target.host),
    };
    source.chars().filter(|c| c.is_ascii_alphanumeric() || ":/.-[]+".contains(*c)).collect()
}

/// POST /oauth/consent: only from this origin, only by the signed-in user the page was made for.
pub async fn consent(mut req: Request, ctx: &Ctx<'_>) -> HttpReply {
    let origin = req.headers().get("Origin").ok().flatten();
    if origin.is_some_and(|o| o != ctx.issuer) {
        return page(
            403,
            "Refused",
            "This form can only be sent from this server's own page.",
            Some("consent_cross_origin"),
        );
    }
    let Some(shop) = Shop::for_sign_in(ctx.config, &req) else { return unavailable("no_web_client") };
    let Some(Identity { sub, claims, .. }) = shop.signed_in_identity(&req) else {
        return page(
            403,
            "Sign-in expired",
            "Start connecting again from your MCP client.",
            Some("consent_no_session"),
        );
    };
    let Ok(body) = read_capped(&mut req, 8 * 1024).await else {
        return page(400, "Refused", "The form could not be read.", Some("consent_unreadable"));
    };
    let form = String::from_utf8_lossy(&body);
    let Some(a) = approved_request(ctx, &form, &sub) else {
        return page(
            403,
            "This consent is not valid",
            "It expired, or it was made for another account. Start connecting again from your MCP client.",
            Some("consent_invalid"),
        );
    };
    if query_param(&form, "decision").as_deref() != Some("allow") {
        return back(
            ctx,
            &a.redirect_uri,
            Err(&OAuthError::access_denied("the user denied the request")),
            a.state.as_deref(),
        );
    }
    issue_code(ctx, &a, sub, claims).await
}

/// The sealed request of the form, if this user's and unexpired.
fn approved_request(ctx: &Ctx<'_>, form: &str, sub: &str) -> Option<Approved> {
    let keys = keyring::ring(&ctx.config.deployment_secrets, CONSENT);
    let sealed = query_param(form, "request")?;
    let v = seal::open(&keys, &[CONSENT.label(), &ctx.issuer, sub], &sealed, ctx.now).ok()?;
    Approved::from_json(&v)
}

/// A single-use code for the approved request, sent to the client's redirect URI.
async fn issue_code(
    ctx: &Ctx<'_>,
    a: &Approved,
    sub: String,
    claims: serde_json::Map<String, serde_json::Value>,
) -> HttpReply {
    let (Some(code_secret), Some(family)) = (random_token(32), random_token(16)) else {
        return unavailable("random_unavailable");
    };
    let grant =
        Grant { client_id: a.client_id.clone(), sub, scope: a.scope.clone(), resource: a.resource.clone(), claims };
    let code = Code {
        grant,
        redirect_uri: a.redirect_uri.clone(),
        code_challenge: a.code_challenge.clone(),
        expires_at: ctx.now + CODE_TTL_SECS,
        used: false,
    };
    let batch = [store::insert_code(&code_secret, &code, &family), store::mark_granted(&a.client_id, ctx.now)];
    if d1::apply_batch(ctx.env, &batch).await.is_err() {
        return unavailable("store_unavailable");
    }
    back(ctx, &a.redirect_uri, Ok(&code_secret), a.state.as_deref())
}

/// The redirect to the client: the code, or the error; `state` and `iss` either way.
fn back(ctx: &Ctx<'_>, redirect_uri: &str, outcome: Result<&str, &OAuthError>, state: Option<&str>) -> HttpReply {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    see_other(&format!("{redirect_uri}{sep}{}", encode(&response_params(outcome, state, &ctx.issuer))))
}
