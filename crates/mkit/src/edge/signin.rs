//! The pay pages' sign-in at the issuer (`web::signin`) on Workers: who the browser is, starting
//! a sign-in, and the callback that ends it with a session cookie.

use worker::{Date, Method, Request};

use super::fetch::{get_document, send, Body, Outbound};
use super::keys::{self, TokenPath, FETCH_TIMEOUT, MAX_DOC_BYTES};
use crate::auth::discovery::{discovery_urls, endpoints_from_metadata, IssuerEndpoints};
use crate::config::{origin_of, Config};
use crate::http::HttpReply;
use crate::keyring::{self, Purpose};
use crate::web::cookies::{self, SESSION, SIGNIN};
use crate::web::form::query_param;
use crate::web::pages::page;
use crate::web::signin::{self, Pending, CALLBACK_PATH, SESSION_TTL_SECS};

/// What the pay pages need: set up only when Stripe and the web client are configured.
pub struct Shop<'a> {
    pub config: &'a Config,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// `None` for the authorization server's sign-in (`for_sign_in`), which never calls Stripe.
    #[cfg_attr(not(feature = "billing"), allow(dead_code))]
    pub stripe_key: Option<&'a str>,
    /// The worker's public origin: `MCP_RESOURCE`'s, else the request's own.
    pub origin: String,
    /// Cookie keys (the first seals).
    pub cookie_keys: Vec<[u8; 32]>,
    pub now_secs: u64,
}

impl<'a> Shop<'a> {
    #[cfg(feature = "billing")]
    pub fn new(config: &'a Config, req: &Request) -> Option<Shop<'a>> {
        let stripe_key = Some(config.stripe_secret_key.as_deref()?);
        Shop { stripe_key, ..Shop::for_sign_in(config, req)? }.into()
    }

    /// Only the sign-in at the issuer, for the authorization server: needs the web client, not Stripe.
    pub fn for_sign_in(config: &'a Config, req: &Request) -> Option<Shop<'a>> {
        let (client_id, client_secret) = config.web_client.as_ref()?;
        let stripe_key = None;
        let request_origin = super::request_url::origin(req);
        let origin = config.mcp_resource.as_deref().and_then(origin_of).or(request_origin)?;
        let cookie_keys = keyring::ring(&config.deployment_secrets, Purpose::WebCookie);
        let now_secs = Date::now().as_millis() / 1000;
        Some(Shop { config, client_id, client_secret, stripe_key, origin, cookie_keys, now_secs })
    }

    fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.origin)
    }

    /// The claims a sign-in carries into the authorization server's tokens (none for the pay pages).
    fn carried(&self) -> &[String] {
        if self.config.auth_server {
            &self.config.auth_claims
        } else {
            &[]
        }
    }

    /// The scopes the deployment's rules give this upstream identity (authorization-server mode).
    fn eligible_scopes(&self, id_token: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
        if !cfg!(feature = "auth-server") || !self.config.auth_server {
            return Vec::new();
        }
        let trust = self.config.auth_trust_unverified_email;
        crate::oauth::scope_policy::eligible_scopes(&self.config.auth_scope_rules, id_token, trust)
    }

    /// The signed-in identity of this browser, if any.
    #[cfg(feature = "auth-server")]
    pub fn signed_in_identity(&self, req: &Request) -> Option<signin::Identity> {
        let header = req.headers().get("Cookie").ok().flatten();
        let cookie = cookies::get(header.as_deref(), SESSION)?;
        signin::open_identity(&self.cookie_keys, &self.config.oauth_issuer, cookie, self.now_secs)
    }

    /// The signed-in subject of this browser, if any.
    #[cfg(feature = "billing")]
    pub fn signed_in(&self, req: &Request) -> Option<String> {
        let header = req.headers().get("Cookie").ok().flatten();
        let cookie = cookies::get(header.as_deref(), SESSION)?;
        signin::open_session(&self.cookie_keys, &self.config.oauth_issuer, cookie, self.now_secs)
    }

    /// Sends the browser to the issuer, to come back to `return_to` signed in.
    #[cfg(any(feature = "billing", feature = "auth-server"))]
    pub async fn start_sign_in(&self, return_to: &str) -> HttpReply {
        let mut random = [0u8; 96];
        if getrandom02::getrandom(&mut random).is_err() {
            return page(503, "Try again", "The sign-in could not start. Try again.", Some("random_unavailable"));
        }
        let endpoints = match issuer_endpoints(self.config).await {
            Ok(e) => e,
            Err(code) => return unavailable(code),
        };
        let pending = Pending::new(&random, return_to);
        let Some(key) = self.cookie_keys.first() else { return unavailable("no_deployment_secret") };
        let cookie = pending.seal(key, &self.config.oauth_issuer, self.now_secs);
        let scope = signin::signin_scope(self.carried().iter().chain([&self.config.auth_subject_claim]));
        let to =
            pending.authorization_url(&endpoints.authorization_endpoint, self.client_id, &self.redirect_uri(), &scope);
        see_other(&to).with_header("Set-Cookie", cookies::set(SIGNIN, &cookie, signin::SIGNIN_TTL_SECS))
    }

    /// GET /billing/callback: checks `state` against the sign-in cookie, exchanges the code, checks
    /// the ID token, and sets the session cookie.
    pub async fn callback(&self, req: &Request, tokens: &TokenPath) -> HttpReply {
        let query = super::request_url::query(req);
        let header = req.headers().get("Cookie").ok().flatten();
        let pending = cookies::get(header.as_deref(), SIGNIN)
            .and_then(|c| Pending::open(&self.cookie_keys, &self.config.oauth_issuer, c, self.now_secs).ok());
        let Some(pending) = pending else {
            return page(400, "Sign-in expired", "Open the pay link again to sign in.", Some("signin_state_missing"));
        };
        if query_param(&query, "state").as_deref() != Some(pending.state.as_str()) {
            return page(400, "Sign-in refused", "This sign-in was not started here.", Some("signin_state_mismatch"));
        }
        let Some(code) = query_param(&query, "code") else {
            return page(403, "Sign-in cancelled", "Nothing was created. Close this page.", Some("signin_cancelled"));
        };
        let claims = match self.exchange(&pending, &code, tokens).await {
            Ok(claims) => claims,
            Err(code) => return page(403, "Sign-in failed", "Open the pay link again to sign in.", Some(code)),
        };
        let Some(key) = self.cookie_keys.first() else { return unavailable("no_deployment_secret") };
        // The subject: `sub`, or in authorization-server mode the configured claim.
        let trust = self.config.auth_trust_unverified_email;
        let sub = match signin::subject_of(&claims, &self.config.auth_subject_claim, trust) {
            Ok(sub) => sub,
            Err(code) => return page(403, "Sign-in failed", subject_refused(code), Some(code)),
        };
        let id = signin::Identity {
            sub: sub.to_owned(),
            claims: signin::carried_claims(&claims, self.carried()),
            scopes: self.eligible_scopes(&claims),
        };
        let session = signin::seal_identity(key, &self.config.oauth_issuer, &id, self.now_secs);
        see_other(&pending.return_to)
            .with_header("Set-Cookie", cookies::set(SESSION, &session, SESSION_TTL_SECS))
            .with_header("Set-Cookie", cookies::set(SIGNIN, "", 0))
    }

    /// The code for tokens at the issuer; the ID token's claims (with a non-empty `sub`).
    async fn exchange(
        &self,
        pending: &Pending,
        code: &str,
        tokens: &TokenPath,
    ) -> Result<serde_json::Map<String, serde_json::Value>, &'static str> {
        let endpoints = issuer_endpoints(self.config).await?;
        let out = Outbound {
            method: Method::Post,
            url: &endpoints.token_endpoint,
            headers: vec![
                ("authorization", signin::basic_auth(self.client_id, self.client_secret)),
                ("accept", "application/json".into()),
            ],
            body: Some(Body::Form(pending.token_request(code, &self.redirect_uri()))),
        };
        let (status, body) = send(out, MAX_DOC_BYTES, FETCH_TIMEOUT).await.map_err(|e| e.code())?;
        if status != 200 {
            return Err("signin_token_refused");
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "signin_token_invalid")?;
        let id_token = v.get("id_token").and_then(serde_json::Value::as_str).ok_or("signin_no_id_token")?;
        keys::verify_id_token(tokens, self.config, id_token, self.client_id, &pending.nonce).await.map_err(|e| e.code())
    }
}

/// The issuer's authorization and token endpoints (RFC 8414, then OIDC discovery).
async fn issuer_endpoints(config: &Config) -> Result<IssuerEndpoints, &'static str> {
    let mut last = "discovery_failed";
    for url in discovery_urls(&config.oauth_issuer) {
        match get_document(&url, MAX_DOC_BYTES, FETCH_TIMEOUT).await {
            Ok(body) => match endpoints_from_metadata(&body, &config.oauth_issuer) {
                Ok(e) => return Ok(e),
                Err(e) => last = e.code(),
            },
            Err(e) => last = e.code(),
        }
    }
    Err(last)
}

pub fn see_other(location: &str) -> HttpReply {
    HttpReply::empty(303).with_header("Location", location).with_header("Cache-Control", "no-store")
}

pub fn unavailable(code: &'static str) -> HttpReply {
    page(503, "Try again in a moment", "The sign-in service cannot be reached right now.", Some(code))
}

/// What the person sees when the ID token names no user this server may trust.
fn subject_refused(code: signin::SubjectRefusal) -> &'static str {
    match code {
        "signin_email_unverified" => {
            "Your identity provider has not verified your e-mail address. Verify it there, then open the link again."
        }
        "signin_subject_reserved" => {
            "Your identity at the provider has the form of a machine client's; ask the operator."
        }
        _ => "The identity provider did not send the claim this server identifies users by.",
    }
}
