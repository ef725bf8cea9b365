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

/// How usable the issuer's keys are in this isolate, as the health report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksHealth {
    /// Never fetched in this isolate.
    Unknown,
    /// Fetched within the TTL, and the last fetch succeeded.
    Fresh,
    /// Past the TTL, the last refresh failed, still served.
    Stale,
    /// No usable keys: never fetched successfully, or stale beyond the bound.
    Unreachable,
    /// The issuer's current set holds no key mKit can use: every token is refused.
    NoUsableKeys,
}

impl JwksHealth {
    /// The state's name in the health report (`Fresh` is `ok`).
    pub fn as_str(self) -> &'static str {
        match self {
            JwksHealth::Unknown => "unknown",
            JwksHealth::Fresh => "ok",
            JwksHealth::Stale => "stale",
            JwksHealth::Unreachable => "unreachable",
            JwksHealth::NoUsableKeys => "no_usable_keys",
        }
    }
}

/// What the caller should do before validating a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksAction {
    /// Validate with the keys held (a fetch is not due, or was just tried).
    Use,
    /// Fetch the issuer's JWK set first.
    Fetch,
}

/// The issuer's JWK set in one isolate: when it was fetched, when a fetch was last tried and whether
/// that failed.
#[derive(Debug, Default)]
pub struct JwksCache {
    keys: Option<Rc<JwkSet>>,
    fetched_at: Option<u64>,
    last_attempt: Option<u64>,
    last_failed: bool,
    /// Bumped whenever the key set is replaced: verified-token verdicts older than it are dropped.
    generation: u64,
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

    /// Records that a fetch starts at `now`, so no other is tried within `JWKS_REFETCH_MIN_MS`.
    pub fn begin_fetch(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    /// Stores a fetched set. A well-formed set is authoritative even when it holds no usable key:
    /// an issuer that empties its set revokes every key, and no stale copy outlives that.
    pub fn store(&mut self, now: u64, keys: JwkSet) {
        self.keys = Some(Rc::new(keys));
        self.generation += 1;
        self.fetched_at = Some(now);
        self.last_attempt = Some(now);
        self.last_failed = false;
    }

    /// Seeds the cache from a shared copy (the Cache API) fetched at `fetched_at`.
    pub fn seed(&mut self, fetched_at: u64, keys: JwkSet) {
        if self.fetched_at.is_none_or(|t| t < fetched_at) {
            self.keys = Some(Rc::new(keys));
            self.fetched_at = Some(fetched_at);
            self.generation += 1;
        }
    }

    /// Which key set verdicts were checked against (see `TokenCache`).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Records a failed fetch at `now`: the keys held are kept, served stale up to `JWKS_MAX_STALE_MS`.
    pub fn fetch_failed(&mut self, now: u64) {
        self.last_attempt = Some(now);
        self.last_failed = true;
    }

    /// The keys to validate with, if any may still be used.
    pub fn keys(&self, now: u64) -> Option<Rc<JwkSet>> {
        let t = self.fetched_at?;
        (now.saturating_sub(t) < JWKS_TTL_MS + JWKS_MAX_STALE_MS).then(|| self.keys.clone()).flatten()
    }

    /// The keys' state at `now`, for the health report.
    pub fn health(&self, now: u64) -> JwksHealth {
        match self.fetched_at {
            None if self.last_failed => JwksHealth::Unreachable,
            None => JwksHealth::Unknown,
            Some(t) => {
                let age = now.saturating_sub(t);
                if age >= JWKS_TTL_MS + JWKS_MAX_STALE_MS {
                    JwksHealth::Unreachable
                } else if self.keys.as_ref().is_some_and(|k| k.keys.is_empty()) {
                    JwksHealth::NoUsableKeys
                } else if self.last_failed || age >= JWKS_TTL_MS {
                    JwksHealth::Stale
                } else {
                    JwksHealth::Fresh
                }
            }
        }
    }

    /// When the keys held were fetched (ms since the epoch), if any were.
    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }
}

/// A verdict is reused for at most this long, however far off the token's `exp` is.
pub const TOKEN_CACHE_MAX_MS: u64 = 5 * 60 * 1000;

/// Validated tokens, so repeated calls skip the signature check. Keyed by SHA-256 of the token
/// *and* the policy it passed (issuer, audiences, type rule): a token accepted for one resource
/// is never a hit for another. Bounded in entries and in time (`TOKEN_CACHE_MAX_MS`, never past
/// `exp`), and every verdict is dropped when the issuer's key set changes.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    /// key → (verdict, valid until (ms), the key-set generation it was checked against).
    entries: HashMap<[u8; 32], (ValidatedToken, u64, u64)>,
    /// Insertion order for eviction; may hold keys already gone from `entries`, compacted when
    /// it grows past twice the capacity.
    order: VecDeque<[u8; 32]>,
}

impl TokenCache {
    /// An empty cache of at most `capacity` verdicts (none at all when it is 0).
    pub fn new(capacity: usize) -> Self {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new() }
    }

    /// The cache key of `token` checked under `policy` (anything that changes the verdict).
    pub fn key(token: &str, policy: &[&str]) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(token.as_bytes());
        for p in policy {
            // Length-prefixed, so no two policies hash alike by shifting a separator.
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
        }
        h.finalize().into()
    }

    /// The verdict cached under `key`, if still valid at `now` and checked against key-set `generation`;
    /// an outdated entry is dropped.
    pub fn get(&mut self, key: &[u8; 32], now: u64, generation: u64) -> Option<ValidatedToken> {
        match self.entries.get(key) {
            Some((v, until, g)) if now < *until && *g == generation => Some(v.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Caches `v`, checked against key-set `generation`, until its `exp` or
    /// `TOKEN_CACHE_MAX_MS` from now, whichever is first.
    pub fn put(&mut self, key: [u8; 32], v: ValidatedToken, now: u64, generation: u64) {
        let until = v.expires_at.saturating_mul(1000).min(now.saturating_add(TOKEN_CACHE_MAX_MS));
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
        if self.entries.insert(key, (v, until, generation)).is_none() {
            self.order.push_back(key);
        }
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order.retain(|k| entries.contains_key(k));
        }
    }

    /// How many verdicts are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no verdict is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many keys the eviction queue holds (bounded by twice the capacity).
    pub fn queued(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;

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
        c.store(T0, one_key());
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
        let g = c.generation();
        c.seed(T0 - 1, JwkSet::default());
        assert_eq!((c.fetched_at(), c.generation()), (Some(T0), g));
    }

    fn one_key() -> JwkSet {
        let doc =
            br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let set = JwkSet::parse(doc).expect("set");
        assert_eq!(set.keys.len(), 1);
        set
    }

    #[test]
    fn an_empty_set_is_authoritative() {
        let mut c = JwksCache::default();
        c.store(T0, one_key());
        let g = c.generation();
        // The issuer empties its set in an emergency: the old key is gone at once.
        c.store(T0 + JWKS_TTL_MS, JwkSet::default());
        assert!(c.keys(T0 + JWKS_TTL_MS).is_some_and(|k| k.keys.is_empty()));
        assert_eq!(c.health(T0 + JWKS_TTL_MS), JwksHealth::NoUsableKeys);
        assert!(c.generation() > g, "verdicts made with the old key are dropped");
    }

    fn token(exp_secs: u64) -> ValidatedToken {
        ValidatedToken { principal: Principal::new("s", None, vec![]), expires_at: exp_secs }
    }

    #[test]
    fn token_cache_is_bounded_and_honours_exp() {
        let mut c = TokenCache::new(2);
        let exp = T0 / 1000 + 60;
        let k = |t: &str| TokenCache::key(t, &["iss", "aud"]);
        let (a, b, d) = (k("a"), k("b"), k("d"));
        c.put(a, token(exp), T0, 0);
        c.put(b, token(exp), T0, 0);
        assert!(c.get(&a, T0, 0).is_some());
        c.put(d, token(exp), T0, 0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&a, T0, 0).is_none(), "the oldest entry was evicted");
        assert!(c.get(&d, T0 + 59_999, 0).is_some());
        assert!(c.get(&d, exp * 1000, 0).is_none(), "never past exp");
        c.put(k("old"), token(T0 / 1000 - 1), T0, 0);
        assert!(c.get(&k("old"), T0, 0).is_none(), "an expired token is not cached");
        assert_ne!(k("a"), k("b"));
    }

    #[test]
    fn a_verdict_is_bound_to_the_policy_it_passed() {
        let mut c = TokenCache::new(8);
        let exp = T0 / 1000 + 3600;
        let here = TokenCache::key("t", &["https://issuer/", "https://a.example/mcp"]);
        c.put(here, token(exp), T0, 0);
        assert!(c.get(&here, T0, 0).is_some());
        let elsewhere = TokenCache::key("t", &["https://issuer/", "https://b.example/mcp"]);
        assert!(c.get(&elsewhere, T0, 0).is_none(), "a token for one host is not a hit on another");
        assert_ne!(TokenCache::key("t", &["ab", "c"]), TokenCache::key("t", &["a", "bc"]));
    }

    #[test]
    fn verdicts_expire_in_minutes_and_with_the_key_set() {
        let mut c = TokenCache::new(8);
        let far = T0 / 1000 + 24 * 3600;
        let k = TokenCache::key("t", &[]);
        c.put(k, token(far), T0, 3);
        assert!(c.get(&k, T0 + TOKEN_CACHE_MAX_MS - 1, 3).is_some());
        assert!(c.get(&k, T0 + TOKEN_CACHE_MAX_MS, 3).is_none(), "minutes, not until exp");
        c.put(k, token(far), T0, 3);
        assert!(c.get(&k, T0, 4).is_none(), "the key set changed: the verdict is dropped");
    }

    #[test]
    fn the_eviction_queue_stays_bounded_under_churn() {
        let mut c = TokenCache::new(4);
        let exp = T0 / 1000 + 3600;
        for i in 0..10_000u64 {
            let k = TokenCache::key(&format!("t{}", i % 3), &[]);
            c.put(k, token(exp), T0 + i, 0);
            // A generation change makes `get` drop the entry, and the next put re-queues it.
            assert!(c.get(&k, T0 + i, 1).is_none());
        }
        assert!(c.queued() <= 8, "queue grew to {}", c.queued());
    }
}
