//! GET /billing/callback, the issuer's redirect back after a browser sign-in: shared by the pay
//! pages (feature `billing`) and the authorization server's sign-in (feature `auth-server`).

use worker::{Env, Request};

use super::isolate::Isolate;
use super::signin::Shop;
use crate::http::HttpReply;
use crate::web::pages;

/// GET /billing/callback: the issuer's redirect back, for the pay pages and (in
/// authorization-server mode, which needs no Stripe) for an MCP client's sign-in.
pub async fn callback(req: Request, env: &Env, iso: &Isolate) -> HttpReply {
    let config = match iso.config(env) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let shop = if config.auth_server { Shop::for_sign_in(&config, &req) } else { pay_pages(&config, &req) };
    match shop {
        Some(shop) => shop.callback(&req, &iso.tokens).await,
        None => pages::not_selling(),
    }
}

#[cfg(feature = "billing")]
fn pay_pages<'a>(config: &'a crate::config::Config, req: &Request) -> Option<Shop<'a>> {
    Shop::new(config, req)
}

/// Without billing there are no pay pages to sign in to.
#[cfg(not(feature = "billing"))]
fn pay_pages<'a>(_: &'a crate::config::Config, _: &Request) -> Option<Shop<'a>> {
    None
}
