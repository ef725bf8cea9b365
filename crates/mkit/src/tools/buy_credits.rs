//! `buy_credits`: prepaid credits bought with a machine payment (x402), for agents that call a
//! cheap tool often. A seller adds it with `r.tool(mkit::tools::BuyCredits)`; a call names how
//! many credits, is offered their price (`MKIT_X402_CREDIT_PRICE` each), and the retried call's
//! payment is settled and added to the balance that every tool priced in credits spends
//! (`paywall::x402::buy_credits`). Without machine payments the call says how else to buy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::{Tool, ToolContext, ToolError, ToolInfo};
use crate::price::Price;

/// `buy_credits`.
pub struct BuyCredits;

/// How many credits to buy.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Credits to add to your balance, from 1 to 1000000.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub credits: u32,
}

/// What a settled top-up added.
#[derive(Serialize, JsonSchema)]
pub struct Output {
    /// Credits added to your balance.
    pub credits_added: u32,
}

impl Tool for BuyCredits {
    type Input = Input;
    type Output = Output;

    fn info(&self) -> ToolInfo {
        let info = ToolInfo::new(
            "buy_credits",
            "Buys prepaid credits with a machine payment (x402): call it with the number of credits, pay the \
             offer it answers with, and call it again with the payment in _meta[\"x402/payment\"].",
        )
        .title("Buy credits");
        info.with(Price { buys_credits: true, ..Price::default() })
    }

    /// Reached only on a deployment without machine payments (`MKIT_X402_PAY_TO` unset).
    async fn call(&self, _ctx: &ToolContext<'_>, _input: Input) -> Result<Output, ToolError> {
        Err(ToolError::new(
            "This server takes no machine payments: buy credits from the link a tool priced in credits offers.",
        ))
    }
}
