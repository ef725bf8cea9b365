//! How a caller without a paid tool's entitlement is asked to pay, per protocol era. The pay
//! link is a URL-mode elicitation (the spec's way to send a user to a page the client must not
//! see into), offered only to clients that declare URL mode:
//!
//! - 2026-07-28: an `input_required` result with `elicitation/create` (`mode: "url"`) and a
//!   sealed `requestState`. The client retries; the tool runs if the entitlement is granted by
//!   then, is asked again after an accept, and gets the plain result after a decline or cancel.
//! - 2025-11-25: the `URLElicitationRequiredError` (-32042) naming the link.
//! - everyone else: the `payment_required` tool result, whose structured content names the link.

use serde_json::{json, Map, Value};

use super::access::{Denial, PayLink};
#[cfg(feature = "machine-payments")]
use super::x402;
use mkit_mcp::jsonrpc::RpcError;
use mkit_mcp::mrtr::input_required;
use mkit_mcp::render::render_error;
use mkit_mcp::{Era, ProtocolVersion, ToolContext, ToolError, ToolInfo};

/// JSON-RPC error code of 2025-11-25's `URLElicitationRequiredError`.
pub const URL_ELICITATION_REQUIRED: i64 = -32042;
/// The `inputRequests` key of the pay elicitation.
const PAY_INPUT: &str = "pay";

/// The answer to a refused `tools/call`: an x402 offer for a caller that pays in-protocol (a tool
/// priced in credits, on a deployment that takes machine payments), else the era's way to pay or
/// the plain refusal.
#[cfg_attr(not(feature = "machine-payments"), allow(unused_variables))]
pub fn refuse(
    ctx: &ToolContext<'_>,
    machine: Option<&dyn super::x402::MachinePay>,
    info: &ToolInfo,
    params: &Map<String, Value>,
    denial: Denial,
) -> Result<Value, RpcError> {
    match denial {
        Denial::Unavailable(e) | Denial::QuotaExceeded(e) => Ok(render_error(e, ctx.protocol_version)),
        #[cfg(feature = "machine-payments")]
        Denial::PaymentRequired { result, .. } if x402::offered(ctx, machine, info, params) => {
            Ok(x402::offer(ctx, machine, info, &result))
        }
        Denial::PaymentRequired { result, pay } => ask_to_pay(ctx, result, pay),
    }
}

/// The `payment_required` result, or where the client takes URL elicitations and a pay link is
/// at hand, the era's way to send the user to pay.
pub fn ask_to_pay(ctx: &ToolContext<'_>, result: ToolError, pay: Option<PayLink>) -> Result<Value, RpcError> {
    let v = ctx.protocol_version;
    let Some(link) = pay.filter(|_| ctx.client_takes_url_elicitation()) else {
        return Ok(render_error(result, v));
    };
    match v.era() {
        Era::Stateless => input_required_to_pay(ctx, result, link),
        Era::Handshake if v >= ProtocolVersion::V2025_11_25 => Err(url_elicitation_required(&result, &link)),
        Era::Handshake => Ok(render_error(result, v)),
    }
}

fn input_required_to_pay(ctx: &ToolContext<'_>, result: ToolError, link: PayLink) -> Result<Value, RpcError> {
    let earlier = ctx.open_state()?;
    let answered = ctx.input_responses.and_then(|r| r.get(PAY_INPUT)).and_then(|a| a.get("action"));
    let asked_before = earlier.as_ref().and_then(|s| s.get("stage")).and_then(Value::as_str) == Some(PAY_INPUT);
    if asked_before && answered.and_then(Value::as_str).is_some_and(|a| a == "decline" || a == "cancel") {
        // The user said no: a clear result, not the same question again.
        return Ok(render_error(result, ctx.protocol_version));
    }
    let request = json!({ "method": "elicitation/create", "params": {
        "mode": "url", "url": link.url, "message": result.message } });
    let mut requests = Map::new();
    requests.insert(PAY_INPUT.into(), request);
    Ok(input_required(requests, Some(ctx.seal_state(&json!({ "stage": PAY_INPUT }))?)))
}

fn url_elicitation_required(result: &ToolError, link: &PayLink) -> RpcError {
    RpcError::new(URL_ELICITATION_REQUIRED, "This request requires payment.").with_data(json!({
        "elicitations": [{ "mode": "url", "elicitationId": link.id, "url": link.url, "message": result.message }]
    }))
}
