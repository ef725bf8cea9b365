//! The value formats of the configuration contract (`config/contract.json`'s `format`), one
//! validator each. A validator's error says what is expected, never the value.

use super::split_list;
pub use mkit_kernel::uri::validate_url;

pub(super) fn validate_list(v: &str) -> Result<(), &'static str> {
    if split_list(v).is_empty() {
        Err("must list at least one value")
    } else {
        Ok(())
    }
}

pub(super) fn validate_webhook_secrets(v: &str) -> Result<(), &'static str> {
    let secrets = split_list(v);
    if secrets.is_empty() || !secrets.iter().all(|s| s.starts_with("whsec_") && s.len() > "whsec_".len()) {
        return Err("must be one or more comma-separated whsec_ values");
    }
    Ok(())
}

/// The shortest deployment secret accepted: 32 characters (`openssl rand -hex 32` gives 64).
pub const MIN_SECRET_CHARS: usize = 32;

pub(super) fn validate_deployment_secrets(v: &str) -> Result<(), &'static str> {
    let secrets = split_list(v);
    let strong = |s: &String| s.chars().count() >= MIN_SECRET_CHARS && !s.contains(char::is_whitespace);
    if secrets.is_empty() || !secrets.iter().all(strong) {
        return Err("must be one or more comma-separated secrets of at least 32 characters (openssl rand -hex 32)");
    }
    Ok(())
}

pub(super) fn validate_leeway(v: &str) -> Result<(), &'static str> {
    match v.parse::<u64>() {
        Ok(n) if n <= 60 => Ok(()),
        _ => Err("must be a whole number of seconds from 0 to 60"),
    }
}

pub(super) fn validate_bool(v: &str) -> Result<(), &'static str> {
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err("must be true or false")
    }
}

pub(super) fn validate_on_off(v: &str) -> Result<(), &'static str> {
    if v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("off") {
        Ok(())
    } else {
        Err("must be on or off")
    }
}

pub(super) fn validate_registration(v: &str) -> Result<(), &'static str> {
    ["on", "legacy", "off"].iter().any(|k| v.eq_ignore_ascii_case(k)).then_some(()).ok_or("must be on, legacy or off")
}

/// `entitlement=price_id` pairs, comma-separated.
pub(super) fn validate_price_map(v: &str) -> Result<(), &'static str> {
    let pairs = split_list(v);
    let ok =
        |p: &String| p.split_once('=').is_some_and(|(e, id)| !e.trim().is_empty() && id.trim().starts_with("price_"));
    if pairs.is_empty() || !pairs.iter().all(ok) {
        return Err("must be entitlement=price_… pairs, comma-separated");
    }
    Ok(())
}

pub(super) fn validate_stripe_mode(v: &str) -> Result<(), &'static str> {
    matches!(v, "live" | "test").then_some(()).ok_or("must be live or test")
}

pub(super) fn validate_stripe_account(v: &str) -> Result<(), &'static str> {
    let ok = v.strip_prefix("acct_").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    ok.then_some(()).ok_or("must be a Stripe account id (acct_…)")
}

pub(super) fn validate_grace_days(v: &str) -> Result<(), &'static str> {
    match v.parse::<u32>() {
        Ok(n) if n <= 60 => Ok(()),
        _ => Err("must be a whole number of days from 0 to 60"),
    }
}

/// `MKIT_AUTH_SIGNIN_DAYS`: up to the 90 days a sign-in's family is kept at most.
pub(super) fn validate_signin_days(v: &str) -> Result<(), &'static str> {
    match v.parse::<u32>() {
        Ok(n) if n <= 90 => Ok(()),
        _ => Err("must be a whole number of days from 0 to 90"),
    }
}

pub(super) fn validate_cache_seconds(v: &str) -> Result<(), &'static str> {
    match v.parse::<u32>() {
        Ok(n) if n <= 300 => Ok(()),
        _ => Err("must be a whole number of seconds from 0 to 300"),
    }
}

/// `MKIT_X402_PAY_TO`: an EVM address.
pub(super) fn validate_evm_address(v: &str) -> Result<(), &'static str> {
    crate::billing::x402::is_evm_address(v).then_some(()).ok_or("must be an EVM address: 0x and 40 hex digits")
}

/// `MKIT_X402_NETWORK`: a network mKit knows the USDC of.
pub(super) fn validate_x402_network(v: &str) -> Result<(), &'static str> {
    crate::billing::x402::network(v).map(|_| ()).ok_or(
        "must be a network whose USDC mKit takes: eip155:8453 (Base), eip155:84532 (Base Sepolia), eip155:1 \
         (Ethereum), eip155:137 (Polygon), eip155:42161 (Arbitrum One), eip155:421614 (Arbitrum Sepolia) or \
         eip155:43114 (Avalanche C-Chain)",
    )
}

/// `MKIT_X402_CDP_API_KEY_SECRET`: a CDP API key secret in a form `generateJwt` takes.
pub(super) fn validate_cdp_key_secret(v: &str) -> Result<(), &'static str> {
    crate::billing::cdp::CdpKey::parse(v).map(|_| ())
}

/// `MKIT_X402_CREDIT_PRICE`: a positive whole number of the asset's smallest units.
pub(super) fn validate_atomic_amount(v: &str) -> Result<(), &'static str> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("must be a whole number of the asset's smallest units, at least 1"),
    }
}

/// Any value: blank ones already count as unset.
pub(super) fn validate_text(_: &str) -> Result<(), &'static str> {
    Ok(())
}

pub(super) fn validate_origins(v: &str) -> Result<(), &'static str> {
    for origin in split_list(v) {
        validate_url(&origin).map_err(|_| "must be comma-separated origins such as https://app.example.com")?;
        let after_scheme = origin.split_once("://").map_or("", |(_, r)| r);
        if after_scheme.contains('/') {
            return Err("an origin has no path: use https://host[:port]");
        }
    }
    Ok(())
}

/// Issuer identifiers, comma-separated: each an absolute URL (`https`, or `http` on loopback for
/// local providers).
pub(super) fn validate_issuers(v: &str) -> Result<(), &'static str> {
    let issuers = split_list(v);
    if issuers.is_empty() || issuers.len() > 16 || issuers.iter().any(|i| validate_url(i).is_err()) {
        return Err("must be 1 to 16 issuer URLs, comma-separated (e.g. https://acme.okta.com)");
    }
    Ok(())
}

/// Claim names, comma-separated: no spaces, no `=`.
pub(super) fn validate_claim_names(v: &str) -> Result<(), &'static str> {
    let names = split_list(v);
    let ok = |n: &String| n.len() <= 256 && !n.contains(char::is_whitespace) && !n.contains('=');
    if names.is_empty() || !names.iter().all(ok) {
        return Err("must be claim names, comma-separated (e.g. scope,scp or permissions)");
    }
    Ok(())
}

/// What clients put before a scope: no spaces or commas, at most 256 characters.
pub(super) fn validate_scope_prefix(v: &str) -> Result<(), &'static str> {
    if v.len() > 256 || v.contains(char::is_whitespace) || v.contains(',') {
        return Err("must be one prefix without spaces or commas (e.g. api://<application id>/)");
    }
    Ok(())
}

/// `OAUTH_CLAIMS`: `name` or `alias=claim` entries.
pub(super) fn validate_claim_map(v: &str) -> Result<(), &'static str> {
    crate::auth::claims::ClaimRule::parse_list(v).map(|_| ())
}

/// `MKIT_AUTH_SCOPE_RULES`: `scope=claim=value` entries.
pub(super) fn validate_scope_rules(v: &str) -> Result<(), &'static str> {
    crate::oauth::scope_policy::ScopeRule::parse_list(v).map(|_| ())
}
