//! `mkit://billing/usage`: what the caller pays with, as JSON — entitlements (the plan), free
//! quotas with their reset times, the credit balance and where the subscription is managed.
//! Read like whoami's billing half, for clients that show resources rather than call tools.

use crate::mcp::registry::{Resource, ResourceBody, ResourceRead};
use crate::mcp::{LocalFuture, ToolContext, ToolError};
use crate::price::account;

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
        let usage = account(ctx).await?;
        let text = serde_json::to_string(&usage).map_err(|_| ToolError::new("the usage could not be shown"))?;
        Ok(ResourceBody::Text(text))
    })
}
