//! Where a caller without an entitlement can pay: the pay pages' links, or a static page.

/// Where a caller without an entitlement can pay.
#[derive(Default)]
pub struct Offer<'a> {
    /// A static page (`MKIT_UPGRADE_URL`): the fallback when mKit's own pay pages are not set up.
    pub upgrade_url: Option<&'a str>,
    /// mKit's own pay pages, when Stripe and the web client are configured.
    pub links: Option<LinkMint<'a>>,
    /// The price lookup key of the credit pack the pay pages sell (`MKIT_CREDIT_PACK`).
    pub credit_pack: Option<&'a str>,
}

/// What minting this caller's pay links needs.
pub struct LinkMint<'a> {
    /// The pay-link key (`keyring::Purpose::PayLink`).
    pub key: [u8; 32],
    /// The worker's origin, e.g. `https://mkit.example.com`.
    pub base_url: &'a str,
    /// The issuer a link's subject belongs to.
    pub issuer: &'a str,
    /// The clock, in Unix seconds.
    pub now_secs: u64,
}
