//! `whoami`: the caller's identity, scopes and entitlements. Free.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::claims::Claims;
use crate::mcp::{Tool, ToolContext, ToolError, ToolInfo};
use crate::price::{account, Account};
use crate::quota::QuotaUsage;

/// `whoami`: the caller's identity, scopes, claims and what they may use.
pub struct WhoAmI;

/// `whoami` takes no arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {}

/// What `whoami` answers.
#[derive(Serialize, JsonSchema)]
pub struct Output {
    /// The OAuth subject.
    pub sub: String,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// The token claims this server lets tools read (`OAUTH_CLAIMS`), by alias.
    pub claims: Claims,
    /// Entitlement keys from the billing ledger.
    pub entitlements: Vec<String>,
    /// Free quotas: used and remaining calls in the current window, and when it resets.
    pub quotas: Vec<QuotaUsage>,
    /// Prepaid credits left; null when this server keeps no credits.
    pub credits: Option<i64>,
    /// Calls paid per call in machine payments (x402), and their sum; null when this server
    /// takes none.
    pub machine_payments: Option<crate::price::MachinePaid>,
    /// The MCP protocol version of this request.
    pub protocol_version: String,
    /// Where you manage your subscription (a link to sign in and open the billing portal); null
    /// when this server does not sell access itself.
    pub manage_url: Option<String>,
}

impl Tool for WhoAmI {
    type Input = Input;
    type Output = Output;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("whoami", "Returns who you are: your OAuth subject, client, scopes, the claims this server reads, your entitlements, free quotas and credit balance.")
            .title("Who am I")
            .read_only()
    }

    async fn call(&self, ctx: &ToolContext<'_>, _input: Input) -> Result<Output, ToolError> {
        let Account { entitlements, quotas, credits, machine_payments, manage_url } = account(ctx).await?;
        Ok(Output {
            sub: ctx.principal.sub.clone(),
            client_id: ctx.principal.client_id.clone(),
            scopes: ctx.principal.scopes.clone(),
            claims: ctx.principal.claims.clone(),
            entitlements,
            quotas,
            credits,
            machine_payments,
            protocol_version: ctx.protocol_version.as_str().to_owned(),
            manage_url,
        })
    }
}
