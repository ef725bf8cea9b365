//! The token response every grant ends in (RFC 6749 §5.1): an access token minted with the
//! deployment's signing key, and the refresh token if the grant has one. A leaf the grants share
//! (`token`, `machine`, `enterprise`), so none of them imports another for it.

use serde_json::json;

use super::{json, random_token, signing_keys, store_unavailable, Ctx};
use crate::http::HttpReply;
use crate::oauth::grant::Grant;
use crate::oauth::token::{mint, Issue, ACCESS_TOKEN_TTL_SECS};

/// The token response: a fresh access token, and the refresh token if any.
pub(super) fn tokens(ctx: &Ctx<'_>, grant: &Grant, refresh: Option<&str>) -> HttpReply {
    let keys = signing_keys(&ctx.isolate.oauth, ctx.config);
    let (Some(key), Some(jti)) = (keys.first(), random_token(16)) else { return store_unavailable() };
    let access = mint(key, grant, &Issue { issuer: &ctx.issuer, now: ctx.now, jti: &jti });
    let mut body = json!({ "access_token": access, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL_SECS, "scope": grant.scope });
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
    }
    json(200, &body, None).with_header("Pragma", "no-cache")
}
