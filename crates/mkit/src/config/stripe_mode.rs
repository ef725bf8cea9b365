//! Which Stripe mode (`MKIT_STRIPE_MODE`, else the secret key's prefix) a deployment serves.

/// Which Stripe mode a deployment applies events from, when it can be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeMode {
    Live,
    Test,
}

impl StripeMode {
    /// `MKIT_STRIPE_MODE`, else the secret key's prefix.
    pub(super) fn from_settings(mode: Option<&str>, secret_key: Option<&str>) -> Option<StripeMode> {
        match (mode, secret_key) {
            (Some("live"), _) => Some(StripeMode::Live),
            (Some("test"), _) => Some(StripeMode::Test),
            (_, Some(k)) if k.starts_with("sk_live_") || k.starts_with("rk_live_") => Some(StripeMode::Live),
            (_, Some(k)) if k.starts_with("sk_test_") || k.starts_with("rk_test_") => Some(StripeMode::Test),
            _ => None,
        }
    }
}
