//! The Worker's vars and secrets: `config::check_for` and `Config::load_for`, for a deployment
//! with and without paid tools. Input: `NAME=value` lines (the first `=` splits; a later line for
//! the same name wins).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::config::{check_for, origin_of, Config, Needs, VarSource, VarState, MIN_SECRET_CHARS};

struct Vars(Vec<(String, String)>);

impl VarSource for Vars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let vars =
        Vars(text.lines().filter_map(|l| l.split_once('=')).map(|(n, v)| (n.to_owned(), v.to_owned())).collect());
    for needs in [Needs::default(), Needs { paid_tools: true }] {
        let report = check_for(&vars, needs);
        for e in &report.errors {
            assert_eq!(report.state_of(e.variable), Some(e.state), "{e}");
            assert_ne!(e.state, VarState::Ok);
        }
        match Config::load_for(&vars, needs) {
            Ok(config) => {
                assert!(report.is_ok());
                assert!(!config.oauth_issuer.is_empty());
                assert!(config.oauth_leeway_secs <= 60);
                assert!((0..=60 * 86_400).contains(&config.grace_secs));
                assert!(!config.deployment_secrets.is_empty());
                assert!(config.deployment_secrets.iter().all(|s| s.chars().count() >= MIN_SECRET_CHARS));
                assert!(config.stripe_webhook_secrets.iter().all(|s| s.starts_with("whsec_")));
                assert!(!needs.paid_tools || !config.stripe_webhook_secrets.is_empty(), "paid tools without billing");
                for o in config.allowed_origins() {
                    let _ = origin_of(&o);
                }
            }
            Err(errors) => assert_eq!(errors, report.errors),
        }
    }
});
