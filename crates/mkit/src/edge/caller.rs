//! What a caller is given on /mcp besides the protocol: the paywall over the D1 ledger and the
//! sealing keys. The request path and a task's run (`task_object.rs`) build them alike.

use worker::Env;

use super::isolate::Isolate;
use crate::config::Config;
use crate::keyring::{self, Purpose};
use crate::mcp::mrtr::Sealing;

/// Without billing nothing is sold, so nothing is granted either (fail closed).
#[cfg(not(feature = "billing"))]
pub(super) fn paywall(_: &Env, _: &Isolate, _: &Config, _: &str, _: &str, _: u64) -> Unsold {
    Unsold
}

/// A server built without billing (the kit's `billing` feature off) sells nothing: every
/// entitlement is refused, fail closed. Configuration refuses a registry that sells anything in
/// such a build, so a caller meets this only through a tool priced against that rule.
#[cfg(not(feature = "billing"))]
pub(super) struct Unsold;

#[cfg(not(feature = "billing"))]
impl crate::paywall::Entitlements for Unsold {
    async fn keys(&self) -> Result<Vec<String>, crate::mcp::ToolError> {
        Ok(Vec::new())
    }
    async fn require(&self, tool: &str, entitlement: &str) -> Result<(), crate::paywall::Denial> {
        let why = format!("{tool} needs the \"{entitlement}\" entitlement, and this server sells nothing");
        Err(crate::paywall::Denial::Unavailable(crate::mcp::ToolError::new(why)))
    }
}

/// The caller's paid access, read from the D1 ledger: entitlements, free quotas, credits.
#[cfg(feature = "billing")]
pub(super) fn paywall<'a>(
    env: &'a Env,
    iso: &'a Isolate,
    config: &'a Config,
    sub: &'a str,
    base_url: &'a str,
    now_secs: u64,
) -> crate::paywall::Paywall<'a, super::ledger::D1Ledger<'a>> {
    let ledger = super::ledger::D1Ledger {
        env,
        now_secs: now_secs as i64,
        grace_secs: config.grace_secs,
        cache_ms: config.entitlement_cache_ms,
        recent: &iso.entitlements,
        counters: super::ledger::caller_object(env, &config.oauth_issuer, sub),
    };
    let (quotas, credits) = (crate::price::free_quotas(&iso.registry), crate::price::prices_in_credits(&iso.registry));
    crate::paywall::Paywall::new(ledger, sub, offer(config, base_url, now_secs))
        .with_quotas(quotas, now_secs as i64)
        .with_credits(credits)
}

/// Sealing keys, one per `MKIT_SECRET` entry (the first seals).
pub(super) fn sealing(config: &Config, now_secs: u64) -> Sealing {
    let keys = keyring::ring(&config.deployment_secrets, Purpose::RequestState);
    Sealing { keys, issuer: config.oauth_issuer.clone(), now_secs }
}

/// Where a caller without an entitlement pays: mKit's own pay pages when Stripe and the web
/// client are configured, else the static `MKIT_UPGRADE_URL`.
#[cfg(feature = "billing")]
fn offer<'a>(config: &'a Config, base_url: &'a str, now_secs: u64) -> crate::paywall::Offer<'a> {
    use crate::paywall::{LinkMint, Offer};
    let selling = config.stripe_secret_key.is_some() && config.web_client.is_some();
    let links = config.deployment_secrets.first().filter(|_| selling).map(|secret| LinkMint {
        key: keyring::key(secret, Purpose::PayLink),
        base_url,
        issuer: &config.oauth_issuer,
        now_secs,
    });
    Offer { upgrade_url: config.upgrade_url.as_deref(), links, credit_pack: config.credit_pack.as_deref() }
}

/// The extensions this deployment serves beside MCP: machine clients (the client credentials
/// grant) wherever mKit is the authorization server, and enterprise-managed authorization where
/// an identity provider is listed (`MKIT_ENTERPRISE_IDPS`).
#[cfg_attr(not(feature = "auth-server"), expect(unused_variables))]
pub(super) fn extensions(config: &Config) -> &'static [&'static str] {
    #[cfg(feature = "auth-server")]
    if config.auth_server {
        use crate::oauth::{enterprise, machine};
        if config.enterprise_idps.is_empty() {
            return &[machine::EXTENSION];
        }
        return &[machine::EXTENSION, enterprise::EXTENSION];
    }
    &[]
}
