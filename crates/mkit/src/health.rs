//! `/healthz`: the operator's view of one deployment. The report is pure; the worker adapter
//! gathers the check results.

use crate::auth::cache::JwksHealth;
use crate::build_info::{COMMIT, VERSION};
use crate::config::{ConfigReport, VarState};
use crate::oauth::client::ApplicationTypeRule;
use serde::Serialize;
use serde_json::{Map, Value};

/// `/healthz` and `make dev` say so while Dynamic Client Registration is on.
pub const REGISTRATION_DEPRECATED: &str = "dynamic_client_registration: deprecated by MCP 2026-07-28 in favour of \
     Client ID Metadata Documents; MKIT_AUTH_REGISTRATION=off turns it off";

/// The result of one probe, e.g. `SELECT 1` on D1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Ok,
    /// A short, fixed reason code: never an upstream message that could carry data.
    Fail(&'static str),
}

/// How long a check's result is reused: a flood of `/healthz` costs D1 one query per isolate
/// per this interval, so it cannot compete with webhooks and paid calls.
pub const CHECK_REUSE_MS: u64 = 5_000;

/// The last result of a check and when (ms) it was taken.
#[derive(Debug)]
pub struct Recent<T> {
    last: Option<(u64, T)>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent { last: None }
    }
}

impl<T: Clone> Recent<T> {
    /// The last result, if taken less than `CHECK_REUSE_MS` before `now`.
    pub fn get(&self, now: u64) -> Option<T> {
        self.last.as_ref().filter(|(at, _)| now.saturating_sub(*at) < CHECK_REUSE_MS).map(|(_, v)| v.clone())
    }
    pub fn put(&mut self, now: u64, v: T) {
        self.last = Some((now, v));
    }
}

/// The metered-usage outbox (`billing::meter::BACKLOG_SQL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Backlog {
    pub pending: i64,
    /// When the oldest pending row was written (s).
    pub oldest: Option<i64>,
    pub flagged: i64,
}

/// A pending row older than this makes the report degraded.
pub const METER_BACKLOG_SECS: i64 = 3_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    /// Serving, but on stale issuer keys.
    Degraded,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct HealthReport {
    status: Status,
    version: &'static str,
    commit: &'static str,
    checks: Map<String, Value>,
    /// The first failing check, for the request log.
    #[serde(skip)]
    failing: Option<&'static str>,
}

impl HealthReport {
    /// `jwks`: the issuer keys' state and age in seconds, when the configuration allowed a look.
    pub fn new(config: &ConfigReport, db: &Probe, jwks: Option<(JwksHealth, Option<u64>)>) -> HealthReport {
        let mut checks = Map::new();
        let config_checks: Map<String, Value> =
            config.entries.iter().map(|(name, state)| ((*name).to_owned(), serde_json::json!(state))).collect();
        checks.insert("config".into(), Value::Object(config_checks));
        if !config.errors.is_empty() {
            // What to fix, as the /mcp 503 says it: each variable and why, never a value.
            let problems: Vec<Value> = config.errors.iter().map(|e| e.to_string().into()).collect();
            checks.insert("config_problems".into(), Value::Array(problems));
        }
        checks.insert(
            "db".into(),
            match db {
                Probe::Ok => "ok".into(),
                Probe::Fail(code) => format!("fail: {code}").into(),
            },
        );
        let mut degraded = false;
        let mut jwks_ok = true;
        if let Some((state, age)) = jwks {
            checks.insert("jwks".into(), state.as_str().into());
            if let Some(age) = age {
                checks.insert("jwks_age_seconds".into(), age.into());
            }
            degraded = state == JwksHealth::Stale;
            jwks_ok = matches!(state, JwksHealth::Fresh | JwksHealth::Stale);
        }
        let failing = if !config.entries.iter().all(|(_, s)| *s == VarState::Ok) {
            Some("health_config_failed")
        } else if *db != Probe::Ok {
            Some("health_db_failed")
        } else if !jwks_ok {
            Some("health_jwks_failed")
        } else {
            None
        };
        let status = match (failing, degraded) {
            (Some(_), _) => Status::Fail,
            (None, true) => Status::Degraded,
            (None, false) => Status::Ok,
        };
        if let Some(local) = crate::build_info::LOCAL_CHECKOUT {
            checks.insert("build".into(), local.into());
        }
        HealthReport { status, version: VERSION, commit: COMMIT, checks, failing }
    }

    /// `checks.billing`: the webhook secret (`ok`, `missing`, or `disabled` when no paid tool is
    /// registered and none is set) and when (Unix ms) the last Stripe event was processed.
    /// Informational: a missing required secret already fails `checks.config`.
    pub fn with_billing(mut self, webhook_secret: &'static str, last_event_at: Option<i64>) -> HealthReport {
        self.checks.insert(
            "billing".into(),
            serde_json::json!({ "webhook_secret": webhook_secret, "last_event_at": last_event_at }),
        );
        self
    }

    /// `checks.billing.pay_pages` (`on` when mKit sells access itself: Stripe key and web
    /// client set; the sign-in's redirect path is `/billing/callback`) and `stripe_mode`
    /// (`live`, `test`, or `any` when it cannot be known). Informational.
    pub fn with_selling(mut self, pay_pages: bool, stripe_mode: Option<&str>) -> HealthReport {
        if let Some(Value::Object(b)) = self.checks.get_mut("billing") {
            b.insert("pay_pages".into(), if pay_pages { "on" } else { "off" }.into());
            b.insert("stripe_mode".into(), stripe_mode.unwrap_or("any").into());
        }
        self
    }

    /// `checks.auth`: who issues the tokens `/mcp` accepts — `resource_server` (the upstream
    /// issuer) or `authorization_server` (mKit, with sign-in at the upstream issuer, whose keys
    /// `checks.jwks` still probes) — whether registration is open (then named deprecated), and
    /// that machine clients may use the client credentials grant.
    pub fn with_auth_mode(
        mut self,
        authorization_server: bool,
        registration: Option<ApplicationTypeRule>,
    ) -> HealthReport {
        let auth = if authorization_server {
            let setting = match registration {
                Some(ApplicationTypeRule::Required) => "on",
                Some(ApplicationTypeRule::Optional) => "legacy",
                None => "off",
            };
            let mut auth = serde_json::json!({ "mode": "authorization_server",
                "registration": setting, "client_credentials": "on" });
            if registration.is_some() {
                auth["deprecated"] = serde_json::json!([REGISTRATION_DEPRECATED]);
            }
            auth
        } else {
            serde_json::json!({ "mode": "resource_server" })
        };
        self.checks.insert("auth".into(), auth);
        self
    }

    /// `checks.introspection`: the RFC 7662 endpoint opaque tokens are checked at, and whether it
    /// answers. Failing, it fails the report like the issuer's keys: opaque tokens are refused.
    pub fn with_introspection(mut self, endpoint: &str, probe: &Probe) -> HealthReport {
        let state = match probe {
            Probe::Ok => "ok".to_owned(),
            Probe::Fail(code) => format!("fail: {code}"),
        };
        self.checks.insert("introspection".into(), serde_json::json!({ "endpoint": endpoint, "state": state }));
        match (probe, self.failing) {
            (Probe::Fail(_), None) => {
                self.failing = Some("health_introspection_failed");
                self.status = Status::Fail;
            }
            // Opaque tokens still work without the issuer's keys (a provider may publish none).
            (Probe::Ok, Some("health_jwks_failed")) => {
                self.failing = None;
                self.status = Status::Degraded;
            }
            _ => {}
        }
        self
    }

    /// `checks.meter_outbox`: metered calls not yet in Stripe, the age of the oldest, and rows
    /// flagged as never sendable (`None`: D1 did not answer). The export runs every five
    /// minutes, so a row waiting over an hour, or any flagged row, is degraded: the runbook's
    /// "Meter export" section says what to do.
    pub fn with_meter_outbox(mut self, backlog: Option<Backlog>, now_secs: i64) -> HealthReport {
        let Some(b) = backlog else {
            self.checks.insert("meter_outbox".into(), "unknown".into());
            return self;
        };
        let age = b.oldest.map(|t| (now_secs - t).max(0));
        self.checks.insert(
            "meter_outbox".into(),
            serde_json::json!({ "pending": b.pending, "oldest_age_secs": age, "flagged": b.flagged }),
        );
        if (age.unwrap_or(0) > METER_BACKLOG_SECS || b.flagged > 0) && self.status == Status::Ok {
            self.status = Status::Degraded;
        }
        self
    }

    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Ok | Status::Degraded => 200,
            Status::Fail => 503,
        }
    }

    /// The first failing check, for the request log's error code.
    pub fn error_code(&self) -> Option<&'static str> {
        self.failing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn healthy_report() {
        let cfg = check(&vars(&[
            ("OAUTH_ISSUER", "https://a.example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("MKIT_SECRET", SECRET),
        ]));
        let r = HealthReport::new(&cfg, &Probe::Ok, None);
        assert_eq!(r.http_status(), 200);
        assert_eq!(r.error_code(), None);
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["status"], "ok");
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["checks"]["config"]["OAUTH_ISSUER"], "ok");
        assert_eq!(v["checks"]["db"], "ok");
    }

    #[test]
    fn the_auth_check_names_registration_deprecated_only_while_it_is_on() {
        let cfg = check(&vars(&[("OAUTH_ISSUER", "https://a.example"), ("MKIT_SECRET", SECRET)]));
        let auth = |a, r| serde_json::to_value(HealthReport::new(&cfg, &Probe::Ok, None).with_auth_mode(a, r)).ok();
        let (on, legacy) = (Some(ApplicationTypeRule::Required), Some(ApplicationTypeRule::Optional));
        let on = auth(true, on).map(|v| v["checks"]["auth"].clone()).unwrap_or_default();
        assert_eq!(on["deprecated"], serde_json::json!([REGISTRATION_DEPRECATED]));
        assert_eq!((&on["client_credentials"], &on["registration"]), (&"on".into(), &"on".into()));
        let legacy = auth(true, legacy).map(|v| v["checks"]["auth"].clone()).unwrap_or_default();
        assert_eq!((&legacy["registration"], &legacy["deprecated"]), (&"legacy".into(), &on["deprecated"]));
        let off = auth(true, None).map(|v| v["checks"]["auth"].clone()).unwrap_or_default();
        assert!(off.get("deprecated").is_none() && off["registration"] == "off");
        let rs =
            auth(false, Some(ApplicationTypeRule::Required)).map(|v| v["checks"]["auth"].clone()).unwrap_or_default();
        assert_eq!(rs, serde_json::json!({ "mode": "resource_server" }));
    }

    #[test]
    fn missing_var_fails_without_leaking_values() {
        let cfg = check(&vars(&[("STRIPE_WEBHOOK_SECRET", "whsec_topsecret")]));
        let r = HealthReport::new(&cfg, &Probe::Ok, None);
        assert_eq!((r.http_status(), r.error_code()), (503, Some("health_config_failed")));
        let body = serde_json::to_string(&r).expect("json");
        assert!(body.contains(r#""status":"fail""#));
        assert!(body.contains(r#""OAUTH_ISSUER":"missing""#));
        assert!(!body.contains("topsecret"));
        let v = serde_json::to_value(&r).expect("json");
        let problems = v["checks"]["config_problems"].as_array().expect("the reasons are listed");
        assert!(problems.iter().any(|p| p.as_str().is_some_and(|p| p.starts_with("OAUTH_ISSUER: "))), "{problems:?}");
    }

    #[test]
    fn jwks_states() {
        let cfg = check(&vars(&[
            ("OAUTH_ISSUER", "https://a.example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("MKIT_SECRET", SECRET),
        ]));
        let r = HealthReport::new(&cfg, &Probe::Ok, Some((JwksHealth::Fresh, Some(5))));
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            (r.http_status(), v["checks"]["jwks"].clone(), v["checks"]["jwks_age_seconds"].clone()),
            (200, "ok".into(), 5.into())
        );
        let r = HealthReport::new(&cfg, &Probe::Ok, Some((JwksHealth::Stale, Some(700))));
        assert_eq!(
            (r.http_status(), serde_json::to_value(&r).expect("json")["status"].clone()),
            (200, "degraded".into())
        );
        let r = HealthReport::new(&cfg, &Probe::Ok, Some((JwksHealth::Unreachable, None)));
        assert_eq!((r.http_status(), r.error_code()), (503, Some("health_jwks_failed")));
    }

    #[test]
    fn billing_is_informational() {
        let cfg = check(&vars(&[
            ("OAUTH_ISSUER", "https://a.example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("MKIT_SECRET", SECRET),
        ]));
        let r = HealthReport::new(&cfg, &Probe::Ok, None).with_billing("ok", Some(1_800_000_000_000));
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            v["checks"]["billing"],
            serde_json::json!({"webhook_secret": "ok", "last_event_at": 1_800_000_000_000_i64})
        );
        assert_eq!(r.http_status(), 200);
        let r = HealthReport::new(&cfg, &Probe::Ok, None).with_billing("ok", None).with_selling(true, Some("test"));
        let b = &serde_json::to_value(&r).expect("json")["checks"]["billing"];
        assert_eq!((b["pay_pages"].as_str(), b["stripe_mode"].as_str()), (Some("on"), Some("test")));
        let r = HealthReport::new(&cfg, &Probe::Ok, None).with_billing("ok", None);
        assert_eq!(
            serde_json::to_value(&r).expect("json")["checks"]["billing"]["last_event_at"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn check_results_are_reused_for_a_few_seconds() {
        let mut r = Recent::default();
        assert_eq!(r.get(1_000), None);
        r.put(1_000, Probe::Ok);
        assert_eq!(r.get(1_000 + CHECK_REUSE_MS - 1), Some(Probe::Ok));
        assert_eq!(r.get(1_000 + CHECK_REUSE_MS), None);
    }

    #[test]
    fn db_failure_fails() {
        let cfg = check(&vars(&[
            ("OAUTH_ISSUER", "https://a.example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("MKIT_SECRET", SECRET),
        ]));
        let r = HealthReport::new(&cfg, &Probe::Fail("d1_error"), None);
        assert_eq!((r.http_status(), r.error_code()), (503, Some("health_db_failed")));
        assert_eq!(serde_json::to_value(&r).expect("json")["checks"]["db"], "fail: d1_error");
    }

    #[test]
    fn introspection_states() {
        let cfg = check(&vars(&[("OAUTH_ISSUER", "https://a.example"), ("MKIT_SECRET", SECRET)]));
        let ok = HealthReport::new(&cfg, &Probe::Ok, Some((JwksHealth::Fresh, Some(1))));
        let r = ok.with_introspection("https://a.example/introspect", &Probe::Fail("introspection_timeout"));
        assert_eq!((r.http_status(), r.error_code()), (503, Some("health_introspection_failed")));
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            v["checks"]["introspection"],
            serde_json::json!({ "endpoint": "https://a.example/introspect", "state": "fail: introspection_timeout" })
        );
        let no_keys = HealthReport::new(&cfg, &Probe::Ok, Some((JwksHealth::Unreachable, None)));
        assert_eq!(no_keys.http_status(), 503);
        let r = no_keys.with_introspection("https://a.example/introspect", &Probe::Ok);
        assert_eq!((r.http_status(), r.error_code()), (200, None), "opaque tokens still work");
        assert_eq!(serde_json::to_value(&r).expect("json")["status"], "degraded");
        let db_down =
            HealthReport::new(&cfg, &Probe::Fail("d1"), None).with_introspection("https://a.example/i", &Probe::Ok);
        assert_eq!(db_down.error_code(), Some("health_db_failed"), "other failures stay");
    }

    #[test]
    fn the_meter_outbox_backlog_degrades_when_old_or_flagged() {
        let cfg = check(&vars(&[("OAUTH_ISSUER", "https://a.example"), ("MKIT_SECRET", SECRET)]));
        let report = |b: Option<Backlog>| {
            let r = HealthReport::new(&cfg, &Probe::Ok, None).with_meter_outbox(b, 10_000);
            let v = serde_json::to_value(&r).expect("json");
            (v["status"].clone(), v["checks"]["meter_outbox"].clone(), r.http_status())
        };
        let fresh = Backlog { pending: 3, oldest: Some(10_000 - 600), flagged: 0 };
        assert_eq!(report(Some(fresh)).0, "ok");
        assert_eq!(report(Some(fresh)).1, serde_json::json!({"pending": 3, "oldest_age_secs": 600, "flagged": 0}));
        let stuck = Backlog { oldest: Some(10_000 - METER_BACKLOG_SECS - 1), ..fresh };
        assert_eq!((report(Some(stuck)).0, report(Some(stuck)).2), ("degraded".into(), 200));
        let flagged = Backlog { pending: 0, oldest: None, flagged: 1 };
        assert_eq!(report(Some(flagged)).0, "degraded");
        assert_eq!(report(None).1, "unknown");
        let failing = HealthReport::new(&cfg, &Probe::Fail("d1"), None).with_meter_outbox(Some(stuck), 10_000);
        assert_eq!(serde_json::to_value(&failing).expect("json")["status"], "fail", "a failure stays a failure");
    }
}
