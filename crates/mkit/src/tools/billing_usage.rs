//! `mkit://billing/usage`: what the caller pays with, as JSON — entitlements (the plan), free
//! quotas with their reset times, the credit balance and where the subscription is managed.
//! Read like whoami's billing half, for clients that show resources rather than call tools.

use serde_json::json;

use crate::mcp::registry::{Resource, ResourceBody, ResourceRead};
use crate::mcp::{LocalFuture, ToolContext, ToolError};

/// `mkit://billing/usage`: the caller's entitlements, free quotas and credits.
pub fn resource() -> Resource {
    Resource {
        uri: "mkit://billing/usage",
        name: "billing-usage",
        title: Some("Your plan and usage"),
        description:
            "Your entitlements, free quotas (used, remaining, reset time), credit balance and machine payments.",
        mime_type: "application/json",
        read: ResourceRead::Live(read),
    }
}

fn read<'a>(ctx: &'a ToolContext<'a>) -> LocalFuture<'a, Result<ResourceBody, ToolError>> {
    Box::pin(async move {
        let usage = json!({
            "entitlements": ctx.entitlements().await?,
            "quotas": ctx.quota_usage().await?,
            "credits": ctx.credit_balance().await?,
            "machine_payments": ctx.machine_payments().await?,
            "manage_url": ctx.manage_url(),
        });
        Ok(ResourceBody::Text(usage.to_string()))
    })
}
