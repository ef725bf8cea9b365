//! The paywall as the protocol core's gate (`mcp::gate`): every `tools/call` passes here. A
//! machine payment (x402) takes its own path first; otherwise the call is admitted in the pricing
//! order (`admission`) or refused the way the caller's era asks to pay (`refusal`), and what an
//! admitted call took is settled after its run or given back.

use serde_json::{Map, Value};
use std::any::Any;

use super::access::DynEntitlements;
use super::admission::{self, admit, denial_label, give_back, settle, Admission};
use super::refusal;
#[cfg(feature = "machine-payments")]
use super::x402;
use super::x402::MachinePay;
use crate::price::{Account, Priced};
use mkit_mcp::gate::{self, Call, Gate};
use mkit_mcp::jsonrpc::{RpcError, INTERNAL_ERROR};
use mkit_mcp::render::render_outcome;
use mkit_mcp::{tasks_2025, Era, LocalFuture, ToolContext, ToolError};

/// A caller's gate: their paid access in the ledger, and machine payments where taken.
pub struct Gatekeeper<'a> {
    /// The caller's entitlements, free quotas and credits.
    pub access: &'a dyn DynEntitlements,
    /// Per-call machine payments (x402), where the deployment takes them.
    pub machine: Option<&'a dyn MachinePay>,
}

impl Gate for Gatekeeper<'_> {
    fn call_tool<'a>(&'a self, ctx: &'a ToolContext<'a>, call: Call<'a>) -> LocalFuture<'a, Result<Value, RpcError>> {
        Box::pin(self.answer(ctx, call))
    }

    fn account<'a>(&'a self, _ctx: &'a ToolContext<'a>) -> LocalFuture<'a, Result<Box<dyn Any>, ToolError>> {
        Box::pin(async move {
            // One round trip where the ledger batches reads: the machine payments' read rides along.
            let standing = self.access.standing_boxed(self.machine.and_then(|m| m.paid_read())).await?;
            let machine_payments = match (self.machine, &standing.extra) {
                (Some(pay), Some(rows)) => Some(pay.paid_from(rows)?),
                (Some(pay), None) => Some(pay.paid().await?),
                (None, _) => None,
            };
            let account = Account {
                entitlements: standing.keys,
                quotas: standing.quotas,
                credits: standing.credits,
                machine_payments,
                manage_url: self.access.manage_url_dyn(),
            };
            Ok(Box::new(account) as Box<dyn Any>)
        })
    }
}

impl Gatekeeper<'_> {
    async fn answer(&self, ctx: &ToolContext<'_>, call: Call<'_>) -> Result<Value, RpcError> {
        let (tool, params, as_task) = (call.tool, call.params, call.as_task);
        #[cfg(feature = "machine-payments")]
        if x402::takes(self.machine, &tool.info, params) {
            return x402::paid_call(ctx, self.machine, tool, call.args, params, as_task).await;
        }
        let admission = match self.admitted(ctx, &tool.info).await? {
            Ok(admission) => admission,
            Err(denial) => {
                ctx.note_billing(denial_label(&denial));
                let refused = refusal::refuse(ctx, self.machine, &tool.info, params, denial);
                // A 2025-11-25 client that asked for a task gets one, finished with the refusal.
                if as_task && ctx.protocol_version.era() == Era::Handshake {
                    return tasks_2025::refused(ctx, params, refused).await;
                }
                return refused;
            }
        };
        ctx.note_billing(admission.as_str());
        if as_task {
            let created = gate::run(ctx, call, Some(admission::ticket(&admission))).await;
            if created.is_err() {
                give_back(self.access, &tool.info, &admission).await;
            }
            return created;
        }
        let outcome = tool.call(ctx, call.args).await;
        // A task's round that asks for input keeps what its creation took, for the next round.
        if ctx.task_ticket().is_none() || !outcome.asks_for_input() {
            settle(self.access, &tool.info, &admission, &outcome).await;
        }
        let mut result = render_outcome(tool.info.name, outcome, ctx.protocol_version)?;
        let entitled = tool.info.price().is_some_and(|p| p.entitlement.is_some());
        if let (true, Some(url), Value::Object(r)) = (entitled, self.access.manage_url_dyn(), &mut result) {
            // A paid result says where the subscription behind it is managed.
            if let Value::Object(meta) = r.entry("_meta").or_insert_with(|| Value::Object(Map::new())) {
                meta.insert("mkit/manage_url".into(), url.into());
            }
        }
        Ok(result)
    }

    /// The call's admission: for a task's own run, the ticket its creation kept; else decided now.
    async fn admitted(
        &self,
        ctx: &ToolContext<'_>,
        info: &mkit_mcp::ToolInfo,
    ) -> Result<Result<Admission, super::access::Denial>, RpcError> {
        match ctx.task_ticket() {
            Some(ticket) => admission::from_ticket(ticket)
                .map(Ok)
                .ok_or_else(|| RpcError::new(INTERNAL_ERROR, "the task's admission could not be read")),
            None => Ok(admit(self.access, info).await),
        }
    }
}
