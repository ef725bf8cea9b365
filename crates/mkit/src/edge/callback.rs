//! GET /billing/callback, the issuer's redirect back after a browser sign-in: shared by the pay
//! pages (feature `billing`) and the authorization server's sign-in (feature `auth-server`).

use worker::{Env, Request};

use super::isolate::Isolate;
#[cfg(any(feature = "billing", feature = "auth-server"))]
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
    #[cfg(any(feature = "billing", feature = "auth-server"))]
    {
        let shop = if config.auth_server { Shop::for_sign_in(&config, &req) } else { pay_pages(&config, &req) };
        if let Some(shop) = shop {
            return shop.callback(&req, &iso.tokens).await;
        }
    }
    // Without either feature nobody signs in here: the configuration refuses MKIT_AUTH_SERVER=on.
    // (`cfg`, not a `None`: the code after an `.await` stays in the bundle even where it cannot run.)
    #[cfg(not(any(feature = "billing", feature = "auth-server")))]
    let _ = (config, req, &iso.tokens);
    pages::not_selling()
}

#[cfg(feature = "billing")]
fn pay_pages<'a>(config: &'a crate::config::Config, req: &Request) -> Option<Shop<'a>> {
    Shop::new(config, req)
}

/// Without billing there are no pay pages to sign in to.
#[cfg(all(feature = "auth-server", not(feature = "billing")))]
fn pay_pages<'a>(_: &'a crate::config::Config, _: &Request) -> Option<Shop<'a>> {
    None
}
