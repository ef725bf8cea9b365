//! Env → typed `Config`, validated once per request. Errors name the variable, never its value.

use serde::Serialize;

/// Where configuration values come from: worker vars and secrets in production,
/// a map in tests.
pub trait VarSource {
    fn get(&self, name: &str) -> Option<String>;
}

impl VarSource for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// One variable of the configuration contract.
struct VarSpec {
    name: &'static str,
    required: bool,
    validate: fn(&str) -> Result<(), &'static str>,
}

const VARS: &[VarSpec] = &[
    VarSpec { name: "OAUTH_ISSUER", required: true, validate: validate_url },
    VarSpec { name: "OAUTH_JWKS_URI", required: false, validate: validate_url },
    VarSpec { name: "OAUTH_AUDIENCE", required: false, validate: validate_list },
    VarSpec { name: "MCP_RESOURCE", required: false, validate: validate_url },
    VarSpec { name: "STRIPE_WEBHOOK_SECRET", required: true, validate: validate_webhook_secrets },
    VarSpec { name: "STRIPE_SECRET_KEY", required: false, validate: validate_nonempty },
    VarSpec { name: "MCP_ALLOWED_ORIGINS", required: false, validate: validate_origins },
    VarSpec { name: "OAUTH_LEEWAY_SECONDS", required: false, validate: validate_leeway },
    VarSpec { name: "OAUTH_ACCEPT_JWT_TYP", required: false, validate: validate_bool },
    VarSpec { name: "OAUTH_REQUIRED_SCOPES", required: false, validate: validate_list },
    VarSpec { name: "OAUTH_TOKEN_CACHE", required: false, validate: validate_on_off },
    VarSpec { name: "MKIT_UPGRADE_URL", required: false, validate: validate_url },
];

/// The state of one variable as `/healthz` reports it: names only, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarState {
    Ok,
    Missing,
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub state: VarState,
    pub reason: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

/// The validated configuration. Optional values that are set but empty count as unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub oauth_issuer: String,
    pub oauth_jwks_uri: Option<String>,
    pub oauth_audience: Vec<String>,
    pub mcp_resource: Option<String>,
    pub stripe_webhook_secrets: Vec<String>,
    pub stripe_secret_key: Option<String>,
    pub mcp_allowed_origins: Vec<String>,
    /// Clock skew allowed on `exp`/`nbf`/`iat`, at most 60 s (default 60).
    pub oauth_leeway_secs: u64,
    pub oauth_accept_jwt_typ: bool,
    /// Scopes every `/mcp` request needs.
    pub oauth_required_scopes: Vec<String>,
    /// The verified-token cache (default on; `off` exists to measure it).
    pub oauth_token_cache: bool,
    /// Where a caller without a paid tool's entitlement can pay; shown in `payment_required`.
    pub upgrade_url: Option<String>,
}

/// Every contract variable with its state, for `/healthz` `checks.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReport {
    pub entries: Vec<(&'static str, VarState)>,
    pub errors: Vec<ConfigError>,
}

impl ConfigReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

fn value(src: &dyn VarSource, name: &str) -> Option<String> {
    src.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Checks every variable of the contract. Required ones are always listed;
/// optional ones only when set.
pub fn check(src: &dyn VarSource) -> ConfigReport {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for spec in VARS {
        let state = match value(src, spec.name) {
            None if spec.required => {
                errors.push(ConfigError {
                    variable: spec.name,
                    state: VarState::Missing,
                    reason: "is required but not set",
                });
                VarState::Missing
            }
            None => continue,
            Some(v) => match (spec.validate)(&v) {
                Ok(()) => VarState::Ok,
                Err(reason) => {
                    errors.push(ConfigError { variable: spec.name, state: VarState::Invalid, reason });
                    VarState::Invalid
                }
            },
        };
        entries.push((spec.name, state));
    }
    ConfigReport { entries, errors }
}

impl Config {
    /// Validates the whole contract; on failure returns every problem found.
    pub fn load(src: &dyn VarSource) -> Result<Config, Vec<ConfigError>> {
        let report = check(src);
        if !report.is_ok() {
            return Err(report.errors);
        }
        let list = |name| value(src, name).map(|v| split_list(&v)).unwrap_or_default();
        Ok(Config {
            oauth_issuer: value(src, "OAUTH_ISSUER").unwrap_or_default(),
            oauth_jwks_uri: value(src, "OAUTH_JWKS_URI"),
            oauth_audience: list("OAUTH_AUDIENCE"),
            mcp_resource: value(src, "MCP_RESOURCE"),
            stripe_webhook_secrets: list("STRIPE_WEBHOOK_SECRET"),
            stripe_secret_key: value(src, "STRIPE_SECRET_KEY"),
            mcp_allowed_origins: list("MCP_ALLOWED_ORIGINS"),
            oauth_leeway_secs: value(src, "OAUTH_LEEWAY_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(60),
            oauth_accept_jwt_typ: value(src, "OAUTH_ACCEPT_JWT_TYP").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            oauth_required_scopes: value(src, "OAUTH_REQUIRED_SCOPES").map(|v| split_scopes(&v)).unwrap_or_default(),
            oauth_token_cache: !value(src, "OAUTH_TOKEN_CACHE").is_some_and(|v| v.eq_ignore_ascii_case("off")),
            upgrade_url: value(src, "MKIT_UPGRADE_URL"),
        })
    }
}

impl Config {
    /// Browser origins allowed on `/mcp`: `MCP_ALLOWED_ORIGINS` plus the origin of
    /// `MCP_RESOURCE` (same-origin pages). Never derived from the request's Host, which a DNS
    /// rebinding attacker controls.
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut origins = self.mcp_allowed_origins.clone();
        if let Some(o) = self.mcp_resource.as_deref().and_then(origin_of) {
            origins.push(o);
        }
        origins
    }
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// Splits a comma-separated list, dropping blanks.
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `https://…`, or `http://` on a loopback host for local development.
pub fn validate_url(v: &str) -> Result<(), &'static str> {
    let rest = if let Some(rest) = v.strip_prefix("https://") {
        rest
    } else if let Some(rest) = v.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(
            host,
            |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            },
        );
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err("must be an https URL (http only for localhost)");
        }
        rest
    } else {
        return Err("must be an https URL (http only for localhost)");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(char::is_whitespace) || rest.contains('#') {
        return Err("must be an absolute URL with a host and no fragment");
    }
    Ok(())
}

fn validate_list(v: &str) -> Result<(), &'static str> {
    if split_list(v).is_empty() {
        Err("must list at least one value")
    } else {
        Ok(())
    }
}

fn validate_webhook_secrets(v: &str) -> Result<(), &'static str> {
    let secrets = split_list(v);
    if secrets.is_empty() || !secrets.iter().all(|s| s.starts_with("whsec_") && s.len() > "whsec_".len()) {
        return Err("must be one or more comma-separated whsec_ values");
    }
    Ok(())
}

/// Scopes are space- or comma-separated.
pub fn split_scopes(v: &str) -> Vec<String> {
    v.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn validate_leeway(v: &str) -> Result<(), &'static str> {
    match v.parse::<u64>() {
        Ok(n) if n <= 60 => Ok(()),
        _ => Err("must be a whole number of seconds from 0 to 60"),
    }
}

fn validate_bool(v: &str) -> Result<(), &'static str> {
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err("must be true or false")
    }
}

fn validate_on_off(v: &str) -> Result<(), &'static str> {
    if v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("off") {
        Ok(())
    } else {
        Err("must be on or off")
    }
}

fn validate_nonempty(_: &str) -> Result<(), &'static str> {
    Ok(())
}

fn validate_origins(v: &str) -> Result<(), &'static str> {
    for origin in split_list(v) {
        validate_url(&origin).map_err(|_| "must be comma-separated origins such as https://app.example.com")?;
        let after_scheme = origin.split_once("://").map_or("", |(_, r)| r);
        if after_scheme.contains('/') {
            return Err("an origin has no path: use https://host[:port]");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn good() -> HashMap<String, String> {
        vars(&[("OAUTH_ISSUER", "https://auth.example.com/"), ("STRIPE_WEBHOOK_SECRET", "whsec_abc")])
    }

    #[test]
    fn minimal_config_loads() {
        let c = Config::load(&good()).expect("valid");
        assert_eq!(c.oauth_issuer, "https://auth.example.com/");
        assert_eq!(c.stripe_webhook_secrets, vec!["whsec_abc"]);
        assert!(c.oauth_jwks_uri.is_none());
        assert!(c.oauth_audience.is_empty());
    }

    #[test]
    fn missing_required_vars_are_named() {
        let errs = Config::load(&vars(&[])).expect_err("missing");
        let names: Vec<_> = errs.iter().map(|e| e.variable).collect();
        assert_eq!(names, vec!["OAUTH_ISSUER", "STRIPE_WEBHOOK_SECRET"]);
        assert!(errs.iter().all(|e| e.state == VarState::Missing));
    }

    #[test]
    fn blank_counts_as_missing() {
        let mut v = good();
        v.insert("OAUTH_ISSUER".into(), "   ".into());
        let report = check(&v);
        assert_eq!(report.entries[0], ("OAUTH_ISSUER", VarState::Missing));
    }

    #[test]
    fn report_lists_required_always_and_optional_when_set() {
        let mut v = good();
        v.insert("MCP_RESOURCE".into(), "https://mkit.example.com/mcp".into());
        let names: Vec<_> = check(&v).entries.iter().map(|e| e.0).collect();
        assert_eq!(names, vec!["OAUTH_ISSUER", "MCP_RESOURCE", "STRIPE_WEBHOOK_SECRET"]);
    }

    #[test]
    fn urls_must_be_https_except_loopback() {
        assert!(validate_url("https://a.example").is_ok());
        assert!(validate_url("http://127.0.0.1:9000/issuer").is_ok());
        assert!(validate_url("http://localhost").is_ok());
        assert!(validate_url("http://evil.example").is_err());
        assert!(validate_url("http://localhost.evil.example").is_err());
        assert!(validate_url("ftp://a.example").is_err());
        assert!(validate_url("https://").is_err());
        assert!(validate_url("https://a.example/#frag").is_err());
        assert!(validate_url("auth.example.com").is_err());
    }

    #[test]
    fn invalid_value_is_reported_without_the_value() {
        let mut v = good();
        v.insert("OAUTH_ISSUER".into(), "http://secret-host.example".into());
        let errs = Config::load(&v).expect_err("invalid");
        assert_eq!(errs[0].variable, "OAUTH_ISSUER");
        assert_eq!(errs[0].state, VarState::Invalid);
        assert!(!errs[0].to_string().contains("secret-host"));
    }

    #[test]
    fn webhook_secrets_are_a_list_of_whsec_values() {
        let mut v = good();
        v.insert("STRIPE_WEBHOOK_SECRET".into(), "whsec_a, whsec_b".into());
        assert_eq!(Config::load(&v).expect("ok").stripe_webhook_secrets, vec!["whsec_a", "whsec_b"]);
        v.insert("STRIPE_WEBHOOK_SECRET".into(), "whsec_a,sk_test_x".into());
        assert!(Config::load(&v).is_err());
        v.insert("STRIPE_WEBHOOK_SECRET".into(), "whsec_".into());
        assert!(Config::load(&v).is_err());
    }

    #[test]
    fn oauth_options() {
        let mut v = good();
        let c = Config::load(&v).expect("ok");
        assert_eq!((c.oauth_leeway_secs, c.oauth_accept_jwt_typ, c.oauth_token_cache), (60, false, true));
        v.insert("OAUTH_LEEWAY_SECONDS".into(), "5".into());
        v.insert("OAUTH_ACCEPT_JWT_TYP".into(), "TRUE".into());
        v.insert("OAUTH_REQUIRED_SCOPES".into(), "mcp, tools:read notes".into());
        v.insert("OAUTH_TOKEN_CACHE".into(), "off".into());
        let c = Config::load(&v).expect("ok");
        assert_eq!((c.oauth_leeway_secs, c.oauth_accept_jwt_typ, c.oauth_token_cache), (5, true, false));
        assert_eq!(c.oauth_required_scopes, ["mcp", "tools:read", "notes"]);
        for (k, bad) in [
            ("OAUTH_LEEWAY_SECONDS", "61"),
            ("OAUTH_LEEWAY_SECONDS", "-1"),
            ("OAUTH_ACCEPT_JWT_TYP", "yes"),
            ("OAUTH_TOKEN_CACHE", "0"),
        ] {
            let mut w = good();
            w.insert(k.into(), bad.into());
            assert!(Config::load(&w).is_err(), "{k}={bad}");
        }
    }

    #[test]
    fn resource_origin_is_allowed() {
        let mut v = good();
        v.insert("MCP_RESOURCE".into(), "https://MKit.example.com:8443/mcp".into());
        v.insert("MCP_ALLOWED_ORIGINS".into(), "https://app.example.com".into());
        let c = Config::load(&v).expect("ok");
        assert_eq!(c.allowed_origins(), vec!["https://app.example.com", "https://mkit.example.com:8443"]);
        assert_eq!(origin_of("http://127.0.0.1:8787/mcp").as_deref(), Some("http://127.0.0.1:8787"));
        assert_eq!(origin_of("nope"), None);
        assert_eq!(origin_of("https:///x"), None);
    }

    #[test]
    fn audience_and_origins_are_lists() {
        let mut v = good();
        v.insert("OAUTH_AUDIENCE".into(), "a, ,b".into());
        v.insert("MCP_ALLOWED_ORIGINS".into(), "https://app.example.com,http://localhost:6274".into());
        let c = Config::load(&v).expect("ok");
        assert_eq!(c.oauth_audience, vec!["a", "b"]);
        assert_eq!(c.mcp_allowed_origins.len(), 2);
        v.insert("OAUTH_AUDIENCE".into(), " , ".into());
        assert!(Config::load(&v).is_err());
        v.insert("OAUTH_AUDIENCE".into(), "a".into());
        v.insert("MCP_ALLOWED_ORIGINS".into(), "https://app.example.com/path".into());
        assert!(Config::load(&v).is_err());
    }
}
