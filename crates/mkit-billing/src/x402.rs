//! Machine payments in x402 v2, scheme `exact` on EVM networks: the offer a caller can pay for one
//! call, the check of a payment against it before any facilitator is asked, and the ledger rows
//! that let each payment count once (`migrations/0012_machine_payments.sql`). The wire shapes are
//! x402's `PaymentRequired`, `PaymentRequirements` and `PaymentPayload` (`specs/x402-specification-v2.md`
//! in x402-foundation/x402). Pure: the facilitator's round trips belong to the Workers binding.

use mkit_kernel::sql::{SqlValue, Statement};
use serde_json::{json, Value};

/// The x402 protocol version mKit speaks.
pub const X402_VERSION: u64 = 2;

/// How long a payer's authorization may take to reach mKit (`maxTimeoutSeconds`).
pub const MAX_TIMEOUT_SECS: u64 = 60;

/// A network mKit prices on, with the asset it takes there: USDC, whose EIP-712 domain (name,
/// version) the payer signs. The values are the official `@x402/evm` package's default assets.
#[derive(Debug, PartialEq, Eq)]
pub struct Network {
    /// The CAIP-2 id, e.g. `eip155:8453`.
    pub id: &'static str,
    /// The token contract.
    pub asset: &'static str,
    /// The token's EIP-712 domain name.
    pub name: &'static str,
    /// The token's EIP-712 domain version.
    pub version: &'static str,
}

/// The networks whose USDC the official `@x402/evm` client pays with `exact` (EIP-3009, 6
/// decimals, so a price means the same millionths of a dollar on each);
/// `tests/e2e/x402-networks.test.mjs` holds every row to that package's `getDefaultAsset`.
pub const NETWORKS: [Network; 7] = [
    Network { id: "eip155:8453", asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", name: "USD Coin", version: "2" },
    Network { id: "eip155:84532", asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", name: "USDC", version: "2" },
    Network { id: "eip155:1", asset: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", name: "USD Coin", version: "2" },
    Network { id: "eip155:137", asset: "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", name: "USD Coin", version: "2" },
    Network { id: "eip155:42161", asset: "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", name: "USD Coin", version: "2" },
    Network {
        id: "eip155:421614",
        asset: "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
        name: "USD Coin",
        version: "2",
    },
    Network { id: "eip155:43114", asset: "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", name: "USD Coin", version: "2" },
];

/// The network with CAIP-2 id `id`, if mKit prices on it.
pub fn network(id: &str) -> Option<&'static Network> {
    NETWORKS.iter().find(|n| n.id == id)
}

/// `0x` and 40 hexadecimal digits.
pub fn is_evm_address(v: &str) -> bool {
    is_hex(v, 40)
}

fn is_hex(v: &str, digits: usize) -> bool {
    v.strip_prefix("0x").is_some_and(|h| h.len() == digits && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the seller set: where payments go, what a credit costs, and who verifies and settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineOffer {
    /// The network and its asset.
    pub network: &'static Network,
    /// The address paid.
    pub pay_to: String,
    /// A credit's price in the asset's atomic units (USDC: millionths of a dollar).
    pub credit_price: u64,
    /// The facilitator's base URL (its `/verify` and `/settle`).
    pub facilitator: String,
    /// How each request authenticates at the facilitator: a CDP API key's JWT, or nothing.
    pub facilitator_auth: Option<crate::cdp::FacilitatorAuth>,
    /// `MKIT_X402_STRIPE`: settled payments are recorded in Stripe (`crate::x402_stripe`).
    pub record_in_stripe: bool,
}

impl MachineOffer {
    /// The amount of a call costing `credits`, in atomic units, as x402 writes it (decimal text).
    pub fn amount(&self, credits: u32) -> String {
        (u128::from(self.credit_price) * u128::from(credits)).to_string()
    }

    /// The one `PaymentRequirements` mKit accepts for a call costing `credits`.
    pub fn requirements(&self, credits: u32) -> Value {
        let n = self.network;
        json!({
            "scheme": "exact",
            "network": n.id,
            "amount": self.amount(credits),
            "asset": n.asset,
            "payTo": self.pay_to,
            "maxTimeoutSeconds": MAX_TIMEOUT_SECS,
            "extra": { "name": n.name, "version": n.version },
        })
    }

    /// The `PaymentRequired` for `resource`, saying why (`error`).
    pub fn payment_required(&self, resource: &Resource<'_>, credits: u32, error: &str) -> Value {
        json!({
            "x402Version": X402_VERSION,
            "error": error,
            "resource": { "url": resource.url, "description": resource.description, "mimeType": "application/json" },
            "accepts": [self.requirements(credits)],
        })
    }
}

/// What a payment buys: one call of a tool, named by URL (`mcp://<host>/tools/<name>`).
pub struct Resource<'a> {
    /// The tool's URL; a payment made for another is refused.
    pub url: String,
    /// The tool's description.
    pub description: &'a str,
}

impl<'a> Resource<'a> {
    /// The resource of tool `name` on the server at `host`.
    pub fn tool(host: &str, name: &str, description: &'a str) -> Self {
        Resource { url: format!("mcp://{host}/tools/{name}"), description }
    }
}

/// Why a payment was refused before a facilitator was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Not an x402 v2 payment.
    Version,
    /// Made for another resource.
    Resource,
    /// For another amount than this call costs.
    Amount,
    /// Another scheme, network, asset or payee.
    Terms,
    /// Not an EIP-3009 authorization mKit can key.
    Payload,
}

impl Mismatch {
    /// The reason, as the refusal's `error` says it.
    pub fn reason(self) -> &'static str {
        match self {
            Mismatch::Version => "unsupported x402 version: send an x402Version 2 payment",
            Mismatch::Resource => "this payment was made for another resource",
            Mismatch::Amount => "this payment is for another amount than this call costs",
            Mismatch::Terms => "this payment does not match the offer (scheme, network, asset or payTo)",
            Mismatch::Payload => "this payment's payload is not an exact EVM authorization",
        }
    }
}

/// A payment that matches the offer: its ledger key, and the payer it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// `network:asset:payer:nonce`, lowercased: what the chain lets pay once.
    pub key: String,
    /// The authorization's `from`.
    pub payer: String,
    /// The authorization's `validBefore` (seconds), where it is a number: past it, the chain
    /// refuses the authorization, so nothing need remember it was used.
    pub valid_before: Option<u64>,
}

/// Checks `payment` (a `PaymentPayload`) against `requirements` and `resource_url`.
pub fn check(payment: &Value, requirements: &Value, resource_url: &str) -> Result<Matched, Mismatch> {
    if payment.get("x402Version").and_then(Value::as_u64) != Some(X402_VERSION) {
        return Err(Mismatch::Version);
    }
    if payment.pointer("/resource/url").and_then(Value::as_str) != Some(resource_url) {
        return Err(Mismatch::Resource);
    }
    let accepted = payment.get("accepted").ok_or(Mismatch::Terms)?;
    let same = |field: &str, fold: bool| match (
        accepted.get(field).and_then(Value::as_str),
        requirements.get(field).and_then(Value::as_str),
    ) {
        (Some(a), Some(b)) if fold => a.eq_ignore_ascii_case(b),
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if !same("amount", false) {
        return Err(Mismatch::Amount);
    }
    if !(same("scheme", false) && same("network", false) && same("asset", true) && same("payTo", true)) {
        return Err(Mismatch::Terms);
    }
    key(payment, requirements)
}

fn key(payment: &Value, requirements: &Value) -> Result<Matched, Mismatch> {
    let auth = payment.pointer("/payload/authorization").ok_or(Mismatch::Payload)?;
    let from = auth.get("from").and_then(Value::as_str).filter(|f| is_evm_address(f)).ok_or(Mismatch::Payload)?;
    let nonce = auth.get("nonce").and_then(Value::as_str).filter(|n| is_hex(n, 64)).ok_or(Mismatch::Payload)?;
    let field = |f: &str| requirements.get(f).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let key =
        format!("{}:{}:{}:{}", field("network"), field("asset"), from.to_ascii_lowercase(), nonce.to_ascii_lowercase());
    let valid_before = auth.get("validBefore").and_then(Value::as_str).and_then(|v| v.parse().ok());
    Ok(Matched { key, payer: from.to_owned(), valid_before })
}

/// The payer a ledger key names (`Matched::key`'s fourth part; the network id holds a colon).
pub fn payer_of(key: &str) -> &str {
    key.rsplit(':').nth(1).unwrap_or_default()
}

// ---- the ledger -----------------------------------------------------------------------------

const CLAIM_SQL: &str = "\
INSERT INTO machine_payments (id, user_sub, tool, network, asset, amount, pay_to, payer, state, created_at, updated_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'verifying', ?9, ?9) ON CONFLICT (id) DO NOTHING";

const SETTLED_SQL: &str =
    "UPDATE machine_payments SET state = 'settled', tx = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'verifying'";

const CLOSED_SQL: &str =
    "UPDATE machine_payments SET state = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1 AND state = 'verifying'";

const RELEASE_SQL: &str = "DELETE FROM machine_payments WHERE id = ?1 AND state = 'verifying'";

/// Payments an ended isolate left open: settle may have gone out, so they are not released.
const UNCONFIRM_STALE_SQL: &str = "\
UPDATE machine_payments SET state = 'unconfirmed', reason = 'abandoned', updated_at = ?2 \
 WHERE state = 'verifying' AND created_at < ?1";

/// A top-up: the credits a settled payment `?6` bought, as a grant of its own (`x402:<key>`), so
/// the balance moves once however often the batch runs.
const GRANT_SQL: &str = "\
INSERT INTO credit_grants (id, customer_id, user_sub, credits, event_id, event_created, applied) \
SELECT ?1, NULL, ?2, ?3, ?4, ?5, 0 WHERE EXISTS (SELECT 1 FROM machine_payments WHERE id = ?6 AND state = 'settled') \
ON CONFLICT (id) DO NOTHING";

const APPLY_GRANT_SQL: &str = "\
INSERT INTO credit_balances (user_sub, balance) SELECT user_sub, credits FROM credit_grants WHERE id = ?1 AND applied = 0 \
ON CONFLICT (user_sub) DO UPDATE SET balance = balance + excluded.balance";

const MARK_GRANT_SQL: &str = "UPDATE credit_grants SET applied = 1 WHERE id = ?1 AND applied = 0";

/// The amounts of `caller`'s settled machine payments.
pub const PAID_SQL: &str = "SELECT amount FROM machine_payments WHERE user_sub = ?1 AND state = 'settled'";

/// How long a payment may stay open before the sweep marks it unconfirmed.
pub const STALE_SECS: i64 = 3_600;

/// One payment of one call.
pub struct Payment<'a> {
    /// `Matched::key`.
    pub key: &'a str,
    /// The caller (OAuth subject) who sent it.
    pub sub: &'a str,
    /// The tool it pays for.
    pub tool: &'a str,
    /// The authorization's payer.
    pub payer: &'a str,
}

fn text(v: &str) -> SqlValue {
    SqlValue::Text(v.to_owned())
}

impl Payment<'_> {
    /// Claims the payment for this call: one row changed, or none for a payment already used.
    pub fn claim(&self, offer: &MachineOffer, credits: u32, now_secs: i64) -> Statement {
        let n = offer.network;
        let params = vec![
            text(self.key),
            text(self.sub),
            text(self.tool),
            text(n.id),
            text(n.asset),
            SqlValue::Text(offer.amount(credits)),
            text(&offer.pay_to),
            text(self.payer),
            SqlValue::Int(now_secs),
        ];
        Statement { sql: CLAIM_SQL, params }
    }
}

/// The facilitator settled payment `key` in transaction `tx`.
pub fn settled(key: &str, tx: &str, now_secs: i64) -> Statement {
    Statement { sql: SETTLED_SQL, params: vec![text(key), text(tx), SqlValue::Int(now_secs)] }
}

/// How a verified payment ended when it did not settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsettled {
    /// The facilitator refused to settle: nothing moved.
    Failed,
    /// No answer: it may have settled on chain; reconcile by the payer and nonce.
    Unconfirmed,
}

/// Closes payment `key`, verified and run, that did not settle, with the facilitator's `reason`.
pub fn unsettled(key: &str, how: Unsettled, reason: &str, now_secs: i64) -> Statement {
    let state = match how {
        Unsettled::Failed => "failed",
        Unsettled::Unconfirmed => "unconfirmed",
    };
    let reason: String = reason.chars().take(200).collect();
    Statement { sql: CLOSED_SQL, params: vec![text(key), text(state), SqlValue::Text(reason), SqlValue::Int(now_secs)] }
}

/// Payment `key` settled in `tx` and bought `credits` for `sub`: one batch that records the
/// settlement and adds the credits to the balance, once.
pub fn settled_top_up(key: &str, sub: &str, credits: u32, tx: &str, now_secs: i64) -> Vec<Statement> {
    let mut batch = vec![settled(key, tx, now_secs)];
    batch.extend(top_up_grant(key, sub, credits, tx, now_secs));
    batch
}

/// The grant of a settled top-up (payment `key`, recorded settled earlier in the same batch):
/// `credits` added to `sub`'s balance, once.
pub fn top_up_grant(key: &str, sub: &str, credits: u32, tx: &str, now_secs: i64) -> [Statement; 3] {
    let grant = format!("x402:{key}");
    let params =
        vec![text(&grant), text(sub), SqlValue::Int(i64::from(credits)), text(tx), SqlValue::Int(now_secs), text(key)];
    [
        Statement { sql: GRANT_SQL, params },
        Statement { sql: APPLY_GRANT_SQL, params: vec![text(&grant)] },
        Statement { sql: MARK_GRANT_SQL, params: vec![text(&grant)] },
    ]
}

/// Nothing was settled for payment `key`: its row goes, so the authorization may pay again.
pub fn release(key: &str) -> Statement {
    Statement { sql: RELEASE_SQL, params: vec![text(key)] }
}

/// Reads `sub`'s settled payments (`PAID_SQL`).
pub fn paid(sub: &str) -> Statement {
    Statement { sql: PAID_SQL, params: vec![text(sub)] }
}

/// The count and exact sum of `amounts` (atomic units as decimal text; one that does not parse
/// counts as a call of 0, never as a panic).
pub fn total<'a>(amounts: impl Iterator<Item = &'a str>) -> (u64, String) {
    let (calls, sum) =
        amounts.fold((0u64, 0u128), |(n, sum), a| (n + 1, sum.saturating_add(a.parse::<u128>().unwrap_or(0))));
    (calls, sum.to_string())
}

/// Marks payments open longer than `STALE_SECS` unconfirmed (their isolate ended mid-call).
pub fn unconfirm_stale(now_secs: i64) -> Statement {
    Statement { sql: UNCONFIRM_STALE_SQL, params: vec![SqlValue::Int(now_secs - STALE_SECS), SqlValue::Int(now_secs)] }
}

#[cfg(test)]
#[path = "x402_tests.rs"]
mod tests;
