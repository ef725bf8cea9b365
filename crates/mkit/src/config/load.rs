//! Variables `check` has passed → the typed `Config`.

use super::*;
use crate::auth::claims::ClaimRule;
use crate::auth::introspection::Introspection;
use crate::auth::profile::TokenProfile;
use crate::auth::validator::AccessTokenValidator;

impl Config {
    /// The `aud` values `/mcp` accepts: `OAUTH_AUDIENCE`, else the resource URI itself.
    pub fn audiences(&self, resource: &str) -> Vec<String> {
        if self.oauth_audience.is_empty() {
            vec![resource.to_owned()]
        } else {
            self.oauth_audience.clone()
        }
    }

    /// The validator for `/mcp`'s access tokens, accepting `audiences`.
    pub fn token_validator(&self, audiences: Vec<String>) -> AccessTokenValidator {
        AccessTokenValidator {
            issuer: self.token_issuer(),
            audiences,
            leeway_secs: self.oauth_leeway_secs,
            accept_jwt_typ: self.oauth_accept_jwt_typ && !self.auth_server,
            profile: self.token_profile.clone(),
        }
    }

    /// Builds the typed value from variables `check` has passed.
    pub(super) fn from_valid(src: &dyn VarSource) -> Config {
        let list = |name| value(src, name).map(|v| split_list(&v)).unwrap_or_default();
        Config {
            oauth_issuer: value(src, "OAUTH_ISSUER").unwrap_or_default(),
            oauth_jwks_uri: value(src, "OAUTH_JWKS_URI"),
            oauth_audience: list("OAUTH_AUDIENCE"),
            mcp_resource: value(src, "MCP_RESOURCE"),
            stripe_webhook_secrets: list("STRIPE_WEBHOOK_SECRET"),
            deployment_secrets: list("MKIT_SECRET"),
            mcp_allowed_origins: list("MCP_ALLOWED_ORIGINS"),
            oauth_leeway_secs: number(src, "OAUTH_LEEWAY_SECONDS"),
            oauth_accept_jwt_typ: setting(src, "OAUTH_ACCEPT_JWT_TYP").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            oauth_required_scopes: value(src, "OAUTH_REQUIRED_SCOPES").map(|v| split_scopes(&v)).unwrap_or_default(),
            oauth_token_cache: is_on(src, "OAUTH_TOKEN_CACHE"),
            token_profile: token_profile(src),
            introspection: introspection(src),
            upgrade_url: value(src, "MKIT_UPGRADE_URL"),
            stripe_secret_key: value(src, "STRIPE_SECRET_KEY"),
            web_client: value(src, "MKIT_WEB_CLIENT_ID").zip(value(src, "MKIT_WEB_CLIENT_SECRET")),
            credit_pack: value(src, "MKIT_CREDIT_PACK"),
            x402: machine_offer(src),
            prices: list("MKIT_PRICES")
                .iter()
                .filter_map(|p| p.split_once('=').map(|(e, id)| (e.trim().to_owned(), id.trim().to_owned())))
                .collect(),
            stripe_mode: StripeMode::from_settings(
                value(src, "MKIT_STRIPE_MODE").as_deref(),
                value(src, "STRIPE_SECRET_KEY").as_deref(),
            ),
            stripe_account: value(src, "MKIT_STRIPE_ACCOUNT"),
            entitlement_cache_ms: number::<u64>(src, "MKIT_ENTITLEMENT_CACHE_SECONDS") * 1000,
            grace_secs: number::<i64>(src, "MKIT_GRACE_DAYS") * 86_400,
            auth_server: is_on(src, "MKIT_AUTH_SERVER"),
            auth_registration: registration(src),
            auth_claims: list("MKIT_AUTH_CLAIMS"),
            auth_trust_unverified_email: is_on(src, "MKIT_AUTH_TRUST_UNVERIFIED_EMAIL"),
            auth_signin_secs: number::<u64>(src, "MKIT_AUTH_SIGNIN_DAYS") * 86_400,
            auth_open_scopes: match value(src, "MKIT_AUTH_OPEN_SCOPES") {
                Some(v) if v.trim() == "none" => Vec::new(),
                Some(v) => split_scopes(&v),
                None => value(src, "OAUTH_REQUIRED_SCOPES").map(|v| split_scopes(&v)).unwrap_or_default(),
            },
            auth_scope_rules: value(src, "MKIT_AUTH_SCOPE_RULES")
                .and_then(|v| crate::oauth::scope_policy::ScopeRule::parse_list(&v).ok())
                .unwrap_or_default(),
            enterprise_idps: if is_on(src, "MKIT_AUTH_SERVER") { list("MKIT_ENTERPRISE_IDPS") } else { Vec::new() },
            auth_subject_claim: setting(src, "MKIT_AUTH_SUBJECT_CLAIM")
                .filter(|_| is_on(src, "MKIT_AUTH_SERVER"))
                .unwrap_or_else(|| "sub".to_owned()),
        }
    }
}

/// The token profile: the operator's settings for an upstream issuer; in authorization-server
/// mode mKit's own tokens (RFC 9068), whose tool claims default to the carried ones.
fn token_profile(src: &dyn VarSource) -> TokenProfile {
    let rules = |name| value(src, name).and_then(|v| ClaimRule::parse_list(&v).ok());
    if is_on(src, "MKIT_AUTH_SERVER") {
        let claims = rules("OAUTH_CLAIMS").or_else(|| rules("MKIT_AUTH_CLAIMS")).unwrap_or_default();
        return TokenProfile { claims, ..TokenProfile::default() };
    }
    let defaults = TokenProfile::default();
    TokenProfile {
        scope_claims: setting(src, "OAUTH_SCOPE_CLAIMS").map_or(defaults.scope_claims, |v| split_list(&v)),
        scope_prefix: value(src, "OAUTH_SCOPE_PREFIX"),
        client_ids: value(src, "OAUTH_CLIENT_IDS").map(|v| split_list(&v)).unwrap_or_default(),
        claims: rules("OAUTH_CLAIMS").unwrap_or_default(),
    }
}

fn introspection(src: &dyn VarSource) -> Option<Introspection> {
    Some(Introspection {
        endpoint: value(src, "OAUTH_INTROSPECTION_URL")?,
        client_id: value(src, "OAUTH_INTROSPECTION_CLIENT_ID")?,
        client_secret: value(src, "OAUTH_INTROSPECTION_CLIENT_SECRET")?,
    })
    .filter(|_| !is_on(src, "MKIT_AUTH_SERVER"))
}

/// `MKIT_X402_*`, once `check` has passed them: an offer when `MKIT_X402_PAY_TO` is set.
fn machine_offer(src: &dyn VarSource) -> Option<crate::billing::x402::MachineOffer> {
    use crate::billing::x402::{network, MachineOffer};
    Some(MachineOffer {
        pay_to: value(src, "MKIT_X402_PAY_TO")?,
        network: network(&setting(src, "MKIT_X402_NETWORK")?)?,
        credit_price: number(src, "MKIT_X402_CREDIT_PRICE"),
        facilitator: setting(src, "MKIT_X402_FACILITATOR_URL")?.trim_end_matches('/').to_owned(),
        facilitator_auth: facilitator_auth(src),
        record_in_stripe: is_on(src, "MKIT_X402_STRIPE"),
    })
}

/// `MKIT_X402_CDP_API_KEY_*` (already validated), with the facilitator URL's host and path that
/// each request's JWT names.
fn facilitator_auth(src: &dyn VarSource) -> Option<crate::billing::cdp::FacilitatorAuth> {
    use crate::billing::cdp::{CdpCredentials, CdpKey, FacilitatorAuth};
    let key = CdpKey::parse(&value(src, "MKIT_X402_CDP_API_KEY_SECRET")?).ok()?;
    let credentials = CdpCredentials { key_id: value(src, "MKIT_X402_CDP_API_KEY_ID")?, key };
    // As fetch will request it (WHATWG): the URL with a `/` after it always has a path to keep.
    let url = format!("{}/", setting(src, "MKIT_X402_FACILITATOR_URL")?.trim_end_matches('/'));
    let (host, base_path) = match mkit_kernel::uri::Uri::parse(&url) {
        Some(u) => (u.port.map_or_else(|| u.host.clone(), |p| format!("{}:{p}", u.host)), u.path().to_owned()),
        // Not in its normal form (validated, so https and a host): as written.
        None => {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            (host.to_ascii_lowercase(), format!("/{path}"))
        }
    };
    Some(FacilitatorAuth { credentials, host, base_path: base_path.trim_end_matches('/').to_owned() })
}

/// `MKIT_AUTH_REGISTRATION` (already validated): `on` holds registrations to MCP 2026-07-28.
fn registration(src: &dyn VarSource) -> Option<ApplicationTypeRule> {
    match setting(src, "MKIT_AUTH_REGISTRATION")?.to_ascii_lowercase().as_str() {
        "on" => Some(ApplicationTypeRule::Required),
        "legacy" => Some(ApplicationTypeRule::Optional),
        _ => None,
    }
}
