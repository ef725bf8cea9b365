//! Per-call machine payments over MCP: the x402 transport's two bindings
//! (`specs/transports-v2/mcp.md` in x402-foundation/x402). A caller that declares it pays
//! in-protocol is refused with an x402 `PaymentRequired` instead of mKit's `payment_required`
//! result: the extension binding (`resultType: "payment_required"`) when its 2026-07-28 request
//! declares `org.x402/payment`, else the tool-result binding (`isError` with the offer in
//! `structuredContent` and `content[0].text`). A call that carries `_meta["x402/payment"]` is
//! verified, run, then settled; a result whose settlement fails is withheld (the transport's
//! rule). MPP's MCP binding is not followed: its `-32042` is 2025-11-25's URL-elicitation code.
//!
//! The paywall's gate takes this path before admission (`paywall::gate`); it sees x402's JSON
//! only, and `MachinePay` (the Workers binding) holds the offer, the facilitator and the ledger.

use serde_json::{json, Map, Value};

use crate::price::{MachinePaid, Priced};
use mkit_kernel::sql::Statement;
use mkit_mcp::jsonrpc::RpcError;
use mkit_mcp::render::render_outcome;
use mkit_mcp::tool::RegisteredTool;
use mkit_mcp::{Era, LocalFuture, ToolContext, ToolError, ToolInfo, ToolOutcome};

/// `_meta` key of the client's `PaymentPayload`.
pub const PAYMENT: &str = "x402/payment";
/// `_meta` key of the server's `SettlementResponse`.
pub const PAYMENT_RESPONSE: &str = "x402/payment-response";
/// The extension a client declares to get the `payment_required` result type.
pub const EXTENSION: &str = mkit_mcp::session::X402_EXTENSION;

/// A payment the facilitator verified and the ledger claimed for this call.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The ledger's key of the payment.
    pub key: String,
    /// The `PaymentPayload`, as sent.
    pub payment: Value,
    /// The `PaymentRequirements` it was verified against.
    pub requirements: Value,
    /// What the call costs, in credits (the offer's unit).
    pub credits: u32,
}

/// A refusal: the `PaymentRequired` to send, and the `SettlementResponse` when settling failed.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The x402 `PaymentRequired`.
    pub payment_required: Value,
    /// The facilitator's `SettlementResponse`, when settling failed.
    pub settlement: Option<Value>,
}

/// Machine payments as the paywall asks for them.
pub trait MachinePay {
    /// The `PaymentRequired` for one call of `tool` costing `credits`, saying `error`.
    fn offer(&self, tool: &ToolInfo, credits: u32, error: &str) -> Value;
    /// Checks `payment` against the offer, claims it in the ledger and has the facilitator
    /// verify it; nothing is claimed when it is refused.
    fn verify<'a>(
        &'a self,
        tool: &'a ToolInfo,
        credits: u32,
        payment: &'a Value,
    ) -> LocalFuture<'a, Result<Verified, Refused>>;
    /// Settles a verified payment after its call finished: the `SettlementResponse`.
    fn settle<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>>;
    /// The call did not finish: nothing is settled, and the claim goes.
    fn release<'a>(&'a self, paid: &'a Verified) -> LocalFuture<'a, ()>;
    /// What the caller has paid so far.
    fn paid(&self) -> LocalFuture<'_, Result<MachinePaid, ToolError>>;
    /// The read behind `paid`, to be made with the caller's other reads (`whoami`, one round
    /// trip); `None`: `paid` reads on its own.
    fn paid_read(&self) -> Option<Statement> {
        None
    }
    /// What the caller has paid, from the rows `paid_read` selected.
    fn paid_from(&self, _rows: &[Value]) -> Result<MachinePaid, ToolError> {
        Err(ToolError::new("machine payments are read on their own here"))
    }
    /// Settles a verified payment that buys `paid.credits` credits, and adds them to the
    /// caller's balance: the `SettlementResponse`.
    fn top_up<'a>(&'a self, tool: &'a ToolInfo, paid: &'a Verified) -> LocalFuture<'a, Result<Value, Refused>>;
}

/// The most credits one top-up buys.
pub const MAX_TOP_UP: u64 = 1_000_000;

/// A call of the kit's `buy_credits`: without a payment, the offer for the credits asked for;
/// with one, the payment verified, settled and added to the balance (nothing runs before the
/// payment settles, so nothing is withheld). Without machine payments, the tool's own answer.
pub async fn buy_credits(
    ctx: &ToolContext<'_>,
    machine: Option<&dyn MachinePay>,
    tool: &RegisteredTool,
    args: Value,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let Some(pay) = machine else {
        return render_outcome(tool.info.name, tool.call(ctx, args).await, ctx.protocol_version);
    };
    let wanted = args.get("credits").and_then(Value::as_u64).filter(|n| (1..=MAX_TOP_UP).contains(n));
    let Some(credits) = wanted.and_then(|n| u32::try_from(n).ok()) else {
        let invalid = ToolOutcome::InvalidInput(format!("credits must be a whole number from 1 to {MAX_TOP_UP}"));
        return render_outcome(tool.info.name, invalid, ctx.protocol_version);
    };
    let Some(payment) = payment(params) else {
        let payment_required = pay.offer(&tool.info, credits, &format!("Pay to add {credits} credits to your balance"));
        return Ok(refusal(ctx, Refused { payment_required, settlement: None }));
    };
    let paid = match pay.verify(&tool.info, credits, payment).await {
        Ok(paid) => paid,
        Err(refused) => {
            ctx.note_billing("x402_refused");
            return Ok(refusal(ctx, refused));
        }
    };
    match pay.top_up(&tool.info, &paid).await {
        Ok(settlement) => {
            ctx.note_billing("x402");
            let bought = ToolOutcome::Ok(json!({ "credits_added": credits }));
            let mut result = render_outcome(tool.info.name, bought, ctx.protocol_version)?;
            with_settlement(&mut result, settlement);
            Ok(result)
        }
        Err(refused) => {
            ctx.note_billing("x402_unsettled");
            Ok(refusal(ctx, refused))
        }
    }
}

/// The request's `PaymentPayload`, if it carries one.
pub fn payment(params: &Map<String, Value>) -> Option<&Value> {
    params.get("_meta")?.get(PAYMENT).filter(|p| !p.is_null())
}

/// Whether the caller declared the `org.x402/payment` extension (per request from 2026-07-28,
/// at `initialize` before).
fn takes_extension(ctx: &ToolContext<'_>) -> bool {
    ctx.client_capabilities.and_then(|c| c.get("extensions")?.get(EXTENSION)).is_some_and(|e| !e.is_null())
}

/// Whether an x402 offer answers this caller: it declared the extension or sent a payment.
pub fn declared(ctx: &ToolContext<'_>, params: &Map<String, Value>) -> bool {
    takes_extension(ctx) || payment(params).is_some()
}

/// The credits one call of `info` costs, if it is priced in credits.
fn credits(info: &ToolInfo) -> Option<u32> {
    info.price().and_then(|p| p.credits)
}

/// Whether a refused call of `info` is answered with an x402 offer: the deployment takes machine
/// payments, the tool is priced in credits, and the caller declared it pays in-protocol.
pub fn offered(
    ctx: &ToolContext<'_>,
    machine: Option<&dyn MachinePay>,
    info: &ToolInfo,
    params: &Map<String, Value>,
) -> bool {
    machine.is_some() && credits(info).is_some() && declared(ctx, params)
}

/// The x402 offer for a refused call of `info`, saying why it was refused (`denial`); the plain
/// refusal where no offer can be made (`offered` says when one can).
pub fn offer(ctx: &ToolContext<'_>, machine: Option<&dyn MachinePay>, info: &ToolInfo, denial: &ToolError) -> Value {
    let (Some(pay), Some(credits)) = (machine, credits(info)) else {
        return mkit_mcp::render::render_error(denial.clone(), ctx.protocol_version);
    };
    let payment_required = pay.offer(info, credits, &denial.message);
    refusal(ctx, Refused { payment_required, settlement: None })
}

/// The refusal in the binding the caller gets.
pub fn refusal(ctx: &ToolContext<'_>, refused: Refused) -> Value {
    let Refused { payment_required, settlement } = refused;
    let mut result = if ctx.protocol_version.era() == Era::Stateless && takes_extension(ctx) {
        json!({ "resultType": "payment_required", "paymentRequired": payment_required })
    } else {
        let text = serde_json::to_string(&payment_required).unwrap_or_default();
        let mut r = json!({ "isError": true, "content": [{ "type": "text", "text": text }] });
        if ctx.protocol_version.has_structured_output() {
            r["structuredContent"] = payment_required;
        }
        r
    };
    if let Some(s) = settlement {
        with_settlement(&mut result, s);
    }
    result
}

/// Whether a `tools/call` of `info` takes the machine-payment path before admission: the kit's
/// `buy_credits`, or a call of a tool priced in credits that carries a payment, on a deployment
/// that takes machine payments.
pub fn takes(machine: Option<&dyn MachinePay>, info: &ToolInfo, params: &Map<String, Value>) -> bool {
    let buys = info.price().is_some_and(|p| p.buys_credits);
    buys || (machine.is_some() && credits(info).is_some() && payment(params).is_some())
}

/// The machine-payment path `takes` chose. A paid call runs at once, never as a task.
pub async fn paid_call(
    ctx: &ToolContext<'_>,
    machine: Option<&dyn MachinePay>,
    tool: &RegisteredTool,
    args: Value,
    params: &Map<String, Value>,
    as_task: bool,
) -> Result<Value, RpcError> {
    if as_task {
        return Err(RpcError::invalid_params("a call paid in-protocol runs at once, not as a task"));
    }
    match (machine, credits(&tool.info), payment(params)) {
        (Some(pay), Some(credits), Some(payment)) if !tool.info.price().is_some_and(|p| p.buys_credits) => {
            pay_and_call(ctx, tool, args, pay, credits, payment).await
        }
        _ => buy_credits(ctx, machine, tool, args, params).await,
    }
}

/// A call that carries a payment: verified and claimed, run, then settled. A run that did not
/// finish (an error, a round that asks for input) settles nothing and releases the claim; a
/// finished one whose settlement fails is withheld, and only the refusal is sent.
pub async fn pay_and_call(
    ctx: &ToolContext<'_>,
    tool: &RegisteredTool,
    args: Value,
    pay: &dyn MachinePay,
    credits: u32,
    payment: &Value,
) -> Result<Value, RpcError> {
    let paid = match pay.verify(&tool.info, credits, payment).await {
        Ok(paid) => paid,
        Err(refused) => {
            ctx.note_billing("x402_refused");
            return Ok(refusal(ctx, refused));
        }
    };
    ctx.note_billing("x402");
    let outcome = tool.call(ctx, args).await;
    if outcome.finished().is_none() {
        pay.release(&paid).await;
        return render_outcome(tool.info.name, outcome, ctx.protocol_version);
    }
    let result = render_outcome(tool.info.name, outcome, ctx.protocol_version);
    match pay.settle(&tool.info, &paid).await {
        Ok(settlement) => result.map(|mut r| {
            with_settlement(&mut r, settlement);
            r
        }),
        Err(refused) => {
            ctx.note_billing("x402_unsettled");
            Ok(refusal(ctx, refused))
        }
    }
}

/// Puts the `SettlementResponse` into the result's `_meta`.
pub fn with_settlement(result: &mut Value, settlement: Value) {
    if let Value::Object(r) = result {
        if let Value::Object(meta) = r.entry("_meta").or_insert_with(|| Value::Object(Map::new())) {
            meta.insert(PAYMENT_RESPONSE.into(), settlement);
        }
    }
}
