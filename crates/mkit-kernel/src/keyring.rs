//! Every use of the deployment secret (`MKIT_SECRET`) in one list, each with a key of its own
//! (`mac::derive_key` over the purpose's label), so no two uses ever share a key and no call site
//! spells a label by hand. The first listed secret seals and signs; every listed one opens and
//! verifies, which is how a rotation keeps working (docs/deployment.md).

use crate::mac::derive_key;

/// One use of the deployment secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sealed multi-round `requestState` and held-session ids (`mcp::mrtr`).
    RequestState,
    /// Pay links (`paylink`), which open only for their user.
    PayLink,
    /// Stripe Checkout `client_reference_id` values (`billing::reference`).
    ClientReference,
    /// The Cache API copy of an issuer's keys (`auth::shared_copy`).
    JwksCache,
    /// The sign-in and session cookies (`web::cookies`).
    WebCookie,
    /// The consent form's sealed authorization request.
    OAuthConsent,
    /// The authorization server's ES256 signing key (`oauth::token`; a counter follows the label).
    OAuthSigningKey,
    /// The keyed hash that names a caller in log lines, never the subject itself.
    LogSubject,
    /// Stripe idempotency keys for the requests mKit retries.
    StripeIdempotency,
}

impl Purpose {
    /// Every purpose, each once.
    pub const ALL: [Purpose; 9] = [
        Purpose::RequestState,
        Purpose::PayLink,
        Purpose::ClientReference,
        Purpose::JwksCache,
        Purpose::WebCookie,
        Purpose::OAuthConsent,
        Purpose::OAuthSigningKey,
        Purpose::LogSubject,
        Purpose::StripeIdempotency,
    ];

    /// The label the key is derived from. Every token, cookie, link and signature made under a
    /// key depends on its label: changing one invalidates all of them at once.
    pub const fn label(self) -> &'static str {
        match self {
            Purpose::RequestState => "mcp-request-state",
            Purpose::PayLink => "pay-link",
            Purpose::ClientReference => "client-reference",
            Purpose::JwksCache => "jwks-cache",
            Purpose::WebCookie => "web-cookie",
            Purpose::OAuthConsent => "oauth-consent",
            Purpose::OAuthSigningKey => "oauth-as-signing-key",
            Purpose::LogSubject => "log-subject",
            Purpose::StripeIdempotency => "stripe-idempotency",
        }
    }
}

/// One secret's key for `purpose`.
pub fn key(secret: &str, purpose: Purpose) -> [u8; 32] {
    derive_key(secret, purpose.label())
}

/// The keys of `purpose` for the listed secrets: the first seals, every one opens.
pub fn ring(secrets: &[String], purpose: Purpose) -> Vec<[u8; 32]> {
    secrets.iter().map(|s| key(s, purpose)).collect()
}

/// The key that seals or signs for `purpose`: the first listed secret's, if any.
pub fn sealing(secrets: &[String], purpose: Purpose) -> Option<[u8; 32]> {
    secrets.first().map(|s| key(s, purpose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_purpose_has_its_own_label_and_the_labels_never_change() {
        let labels: Vec<&str> = Purpose::ALL.iter().map(|p| p.label()).collect();
        // The labels live tokens, cookies and links were made under: pinned.
        assert_eq!(
            labels,
            [
                "mcp-request-state",
                "pay-link",
                "client-reference",
                "jwks-cache",
                "web-cookie",
                "oauth-consent",
                "oauth-as-signing-key",
                "log-subject",
                "stripe-idempotency"
            ]
        );
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), labels.len(), "no two purposes share a key");
    }

    #[test]
    fn the_first_secret_seals_and_every_one_opens() {
        let secrets = vec!["new-secret".to_owned(), "old-secret".to_owned()];
        let ring = ring(&secrets, Purpose::PayLink);
        assert_eq!(ring, [key("new-secret", Purpose::PayLink), key("old-secret", Purpose::PayLink)]);
        assert_eq!(sealing(&secrets, Purpose::PayLink), Some(ring[0]));
        assert_ne!(key("new-secret", Purpose::PayLink), key("new-secret", Purpose::WebCookie));
        assert_eq!(sealing(&[], Purpose::PayLink), None);
    }
}
