//! Caching policy for the issuer's keys and for verified tokens. Pure: the clock is passed in
//! (milliseconds since the epoch) and the adapter does the fetching.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::jwk::JwkSet;
use super::validator::ValidatedToken;

/// Keys are fresh for 10 minutes.
pub const JWKS_TTL_MS: u64 = 10 * 60 * 1000;
/// An unknown `kid` refetches at most every 30 s.
pub const JWKS_REFETCH_MIN_MS: u64 = 30 * 1000;
/// While the issuer is unreachable, keys older than the TTL are still served for 6 hours.
pub const JWKS_MAX_STALE_MS: u64 = 6 * 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksHealth {
    /// Never fetched in this isolate.
    Unknown,
    Fresh,
    /// Past the TTL, the last refresh failed, still served.
    Stale,
    /// No usable keys: never fetched successfully, or stale beyond the bound.
    Unreachable,
}

impl JwksHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            JwksHealth::Unknown => "unknown",
            JwksHealth::Fresh => "ok",
            JwksHealth::Stale => "stale",
            JwksHealth::Unreachable => "unreachable",
        }
    }
}

/// What the caller should do before validating a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksAction {
    Use,
    Fetch,
}

#[derive(Debug, Default)]
pub struct JwksCache {
    keys: Option<Rc<JwkSet>>,
    fetched_at: Option<u64>,
    last_attempt: Option<u64>,
    last_failed: bool,
}

impl JwksCache {
    /// Before a validation: fetch when there are no keys or they are past the TTL (and a fetch
    /// was not just tried).
    pub fn before_use(&self, now: u64) -> JwksAction {
        let recently_tried = self.last_attempt.is_some_and(|t| now.saturating_sub(t) < JWKS_REFETCH_MIN_MS);
        match self.fetched_at {
            Some(t) if now.saturating_sub(t) < JWKS_TTL_MS => JwksAction::Use,
            _ if recently_tried => JwksAction::Use,
            _ => JwksAction::Fetch,
        }
    }

    /// After an unknown `kid`: refetch, at most once per 30 s.
    pub fn on_unknown_kid(&self, now: u64) -> JwksAction {
        match self.last_attempt {
            Some(t) if now.saturating_sub(t) < JWKS_REFETCH_MIN_MS => JwksAction::Use,
            _ => JwksAction::Fetch,
        }
    }

    pub fn begin_fetch(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    pub fn store(&mut self, now: u64, keys: JwkSet) {
        self.keys = Some(Rc::new(keys));
        self.fetched_at = Some(now);
        self.last_attempt = Some(now);
        self.last_failed = false;
    }

    /// Seeds the cache from a shared copy (the Cache API) fetched at `fetched_at`.
    pub fn seed(&mut self, fetched_at: u64, keys: JwkSet) {
        if self.fetched_at.is_none_or(|t| t < fetched_at) {
            self.keys = Some(Rc::new(keys));
            self.fetched_at = Some(fetched_at);
        }
    }

    pub fn fetch_failed(&mut self, now: u64) {
        self.last_attempt = Some(now);
        self.last_failed = true;
    }

    /// The keys to validate with, if any may still be used.
    pub fn keys(&self, now: u64) -> Option<Rc<JwkSet>> {
        let t = self.fetched_at?;
        (now.saturating_sub(t) < JWKS_TTL_MS + JWKS_MAX_STALE_MS).then(|| self.keys.clone()).flatten()
    }

    pub fn health(&self, now: u64) -> JwksHealth {
        match self.fetched_at {
            None if self.last_failed => JwksHealth::Unreachable,
            None => JwksHealth::Unknown,
            Some(t) => {
                let age = now.saturating_sub(t);
                if age >= JWKS_TTL_MS + JWKS_MAX_STALE_MS {
                    JwksHealth::Unreachable
                } else if self.last_failed || age >= JWKS_TTL_MS {
                    JwksHealth::Stale
                } else {
                    JwksHealth::Fresh
                }
            }
        }
    }

    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }
}

/// Validated tokens, keyed by SHA-256 of the token, so repeated calls skip the signature check.
/// Bounded; an entry never outlives the token's `exp`.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<[u8; 32], (ValidatedToken, u64)>,
    order: VecDeque<[u8; 32]>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new() }
    }

    pub fn key(token: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    pub fn get(&mut self, key: &[u8; 32], now: u64) -> Option<ValidatedToken> {
        match self.entries.get(key) {
            Some((v, until)) if now < *until => Some(v.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Caches `v` until its `exp` (milliseconds: `exp * 1000`).
    pub fn put(&mut self, key: [u8; 32], v: ValidatedToken, now: u64) {
        let until = v.expires_at.saturating_mul(1000);
        if until <= now || self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        if self.entries.insert(key, (v, until)).is_none() {
            self.order.push_back(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::Principal;

    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn jwks_lifecycle() {
        let mut c = JwksCache::default();
        assert_eq!(c.health(T0), JwksHealth::Unknown);
        assert_eq!(c.before_use(T0), JwksAction::Fetch);
        c.begin_fetch(T0);
        c.fetch_failed(T0);
        assert_eq!(c.health(T0), JwksHealth::Unreachable);
        assert!(c.keys(T0).is_none());
        assert_eq!(c.before_use(T0 + 1000), JwksAction::Use, "no hammering a failing issuer");
        assert_eq!(c.before_use(T0 + JWKS_REFETCH_MIN_MS), JwksAction::Fetch);
        c.store(T0, JwkSet::default());
        assert_eq!(c.health(T0 + 1), JwksHealth::Fresh);
        assert_eq!(c.before_use(T0 + JWKS_TTL_MS - 1), JwksAction::Use);
        assert_eq!(c.before_use(T0 + JWKS_TTL_MS), JwksAction::Fetch);
        // Unknown kid: one refetch per 30 s.
        assert_eq!(c.on_unknown_kid(T0 + 1000), JwksAction::Use);
        assert_eq!(c.on_unknown_kid(T0 + JWKS_REFETCH_MIN_MS), JwksAction::Fetch);
        // The issuer goes down: stale keys are served, then not.
        let later = T0 + JWKS_TTL_MS + 5;
        c.fetch_failed(later);
        assert_eq!(c.health(later), JwksHealth::Stale);
        assert!(c.keys(later).is_some());
        let too_late = T0 + JWKS_TTL_MS + JWKS_MAX_STALE_MS;
        assert!(c.keys(too_late).is_none());
        assert_eq!(c.health(too_late), JwksHealth::Unreachable);
        // A shared copy older than ours does not replace it.
        c.seed(T0 - 1, JwkSet::default());
        assert_eq!(c.fetched_at(), Some(T0));
    }

    fn token(exp_secs: u64) -> ValidatedToken {
        ValidatedToken {
            principal: Principal { sub: "s".into(), client_id: None, scopes: vec![] },
            expires_at: exp_secs,
        }
    }

    #[test]
    fn token_cache_is_bounded_and_honours_exp() {
        let mut c = TokenCache::new(2);
        let exp = T0 / 1000 + 60;
        let (a, b, d) = (TokenCache::key("a"), TokenCache::key("b"), TokenCache::key("d"));
        c.put(a, token(exp), T0);
        c.put(b, token(exp), T0);
        assert!(c.get(&a, T0).is_some());
        c.put(d, token(exp), T0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&a, T0).is_none(), "the oldest entry was evicted");
        assert!(c.get(&d, T0 + 59_999).is_some());
        assert!(c.get(&d, exp * 1000).is_none(), "never past exp");
        c.put(TokenCache::key("old"), token(T0 / 1000 - 1), T0);
        assert!(c.get(&TokenCache::key("old"), T0).is_none(), "an expired token is not cached");
        assert_ne!(TokenCache::key("a"), TokenCache::key("b"));
    }
}
