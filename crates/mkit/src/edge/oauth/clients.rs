//! Clients on Workers: registration (RFC 7591) into D1, and finding a client, from D1 or, for a
//! URL `client_id`, by fetching its metadata document (capped, with a deadline, no redirects,
//! public hosts only) and keeping it in the isolate for five minutes.

use std::time::Duration;

use serde::Deserialize;
use worker::Request;

use super::{error, json, random_token, store_unavailable, Ctx};
use crate::edge::body::{read_capped, BodyError};
use crate::edge::d1;
use crate::edge::fetch::get_document;
use crate::edge::rate_limit;
use crate::http::HttpReply;
use crate::oauth::client::{
    check_document_url, from_document, from_registration, is_metadata_document_id, Client, MAX_DOCUMENT_BYTES,
};
use crate::oauth::uri::Uri;
use crate::oauth::{store, OAuthError};
use crate::sql::SqlValue;

const DOCUMENT_TIMEOUT: Duration = Duration::from_secs(5);
const DOCUMENT_TTL_SECS: u64 = 300;
const DOCUMENTS_KEPT: usize = 256;

/// POST /oauth/register.
pub async fn register(mut req: Request, ctx: &Ctx<'_>) -> HttpReply {
    let Some(rule) = ctx.config.auth_registration else { return HttpReply::error(404, "registration_off") };
    if rate_limit::over_registration_limit(ctx.env, &client_address(&req)).await {
        return too_many_registrations();
    }
    let body = match read_capped(&mut req, MAX_DOCUMENT_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return error(&OAuthError::invalid_client_metadata(format!(
                "the request is larger than {MAX_DOCUMENT_BYTES} bytes"
            )))
        }
        Err(BodyError::Unreadable) => {
            return error(&OAuthError::invalid_client_metadata("the request body could not be read"))
        }
    };
    let Some(id) = random_token(18) else { return store_unavailable() };
    // `mkit_c_`: never the machine clients' `mkit_m_`, which a random `mkit_<id>` could spell.
    let (client, response) = match from_registration(&body, &format!("mkit_c_{id}"), ctx.now, rule) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let insert = store::insert_client(&client, ctx.now, store::MAX_PENDING_REGISTRATIONS);
    match d1::apply_batch(ctx.env, &[insert]).await {
        Ok(changed) if changed.first() == Some(&1) => json(201, &response, None),
        Ok(_) => registration_full(),
        Err(_) => store_unavailable(),
    }
}

/// The client's address as Cloudflare saw it (a client cannot set it); one key for none.
fn client_address(req: &Request) -> String {
    req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_else(|| "unknown".to_owned())
}

/// 429: this address registered too many clients lately (RFC 6585), with `Retry-After`.
fn too_many_registrations() -> HttpReply {
    let secs = rate_limit::retry_after_secs();
    let body = serde_json::json!({ "error": "temporarily_unavailable",
        "error_description": format!("too many registrations from this address: retry after {secs} seconds") });
    json(429, &body, Some("registration_rate_limited")).with_header("Retry-After", secs.to_string())
}

/// 503: too many registrations wait for a first sign-in; the sweep frees them within a day.
fn registration_full() -> HttpReply {
    let body = serde_json::json!({ "error": "temporarily_unavailable",
        "error_description": "too many registrations are waiting for a first sign-in: try again later, or use a Client ID Metadata Document" });
    json(503, &body, Some("registration_full")).with_header("Retry-After", "3600")
}

#[derive(Deserialize)]
struct ClientRow {
    client_name: Option<String>,
    redirect_uris: String,
    refresh: i64,
    application_type: Option<String>,
}

/// Why no client was found: none by that id (or its document was refused), or the store is down.
pub enum NoClient {
    Refused(OAuthError),
    Unavailable(HttpReply),
}

/// The client `client_id` names.
pub async fn find(ctx: &Ctx<'_>, client_id: &str) -> Result<Client, NoClient> {
    if is_metadata_document_id(client_id) {
        return metadata_document(ctx, client_id).await.map_err(NoClient::Refused);
    }
    let row = d1::first_row::<ClientRow>(ctx.env, store::CLIENT_SQL, &[SqlValue::Text(client_id.to_owned())]).await;
    match row {
        Ok(Some(r)) => {
            let ClientRow { client_name, redirect_uris, refresh, application_type } = r;
            let row = store::ClientRow { client_name, redirect_uris, refresh, application_type };
            store::client_from_row(client_id, row).ok_or_else(|| NoClient::Unavailable(store_unavailable()))
        }
        Ok(None) => Err(NoClient::Refused(OAuthError::invalid_client("unknown client_id: register the client first"))),
        Err(_) => Err(NoClient::Unavailable(store_unavailable())),
    }
}

async fn metadata_document(ctx: &Ctx<'_>, client_id: &str) -> Result<Client, OAuthError> {
    // The only outbound fetch whose URL a stranger chooses; what is fetched is the URL checked.
    let checked = check_document_url(client_id, false)?;
    let kept = &ctx.isolate.oauth.documents;
    let fresh = kept.borrow().get(client_id).filter(|(_, at)| ctx.now < at + DOCUMENT_TTL_SECS).map(|(c, _)| c.clone());
    if let Some(c) = fresh {
        return Ok(c);
    }
    let body = get_document(&fetch_url(ctx, &checked), MAX_DOCUMENT_BYTES, DOCUMENT_TIMEOUT).await.map_err(|e| {
        OAuthError::invalid_client(format!("the client's metadata document could not be fetched ({})", e.code()))
    })?;
    let client = from_document(client_id, &body)?;
    let mut d = kept.borrow_mut();
    if d.len() >= DOCUMENTS_KEPT {
        d.clear();
    }
    d.insert(client_id.to_owned(), (client.clone(), ctx.now));
    Ok(client)
}

/// Where a metadata document is fetched from: its checked URL. The fixtures build (tests only, never
/// deployed) may send `https://<host>` to a local server with `MKIT_TEST_CIMD_ORIGIN`, since the
/// test peers cannot serve https; a deploy build has no way to change it.
fn fetch_url(ctx: &Ctx<'_>, checked: &Uri) -> String {
    #[cfg(feature = "fixtures")]
    if let Ok(origin) = ctx.env.var("MKIT_TEST_CIMD_ORIGIN") {
        return format!("{}{}", origin.to_string().trim_end_matches('/'), checked.path());
    }
    let _ = ctx;
    checked.as_str().to_owned()
}
