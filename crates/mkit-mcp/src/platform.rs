//! What a tool may use of the platform it runs on, typed: the database and the clock. On Workers
//! it is D1 and `Date` (`edge`); in native tests SQLite and a fixed clock. Tools never see
//! `worker` and never downcast: they ask the context (`ToolContext::platform`).

use serde_json::Value;

use super::context::LocalFuture;
use super::tool::ToolError;
use mkit_kernel::sql::Statement;

/// The platform's services for tools.
pub trait Platform {
    /// Runs `statements` in one transaction (a D1 batch): the rows each changed.
    fn batch(&self, statements: Vec<Statement>) -> LocalFuture<'_, Result<Vec<usize>, ToolError>>;
    /// The rows `statement` returns, each a JSON object of its columns.
    fn query(&self, statement: Statement) -> LocalFuture<'_, Result<Vec<Value>, ToolError>>;
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalFuture<'_, ()>;
}
