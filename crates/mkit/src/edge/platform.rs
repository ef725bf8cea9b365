//! The tools' platform on Workers: D1 for their SQL, `Date` for the clock, `Delay` for waits.

use std::time::Duration;

use serde_json::Value;
use worker::{Date, Delay, Env};

use super::d1;
use crate::mcp::platform::Platform;
use crate::mcp::{LocalFuture, ToolError};
use crate::sql::Statement;

pub struct WorkersPlatform<'a> {
    pub env: &'a Env,
}

fn unavailable() -> ToolError {
    ToolError::new("the database is unavailable; try again")
}

impl Platform for WorkersPlatform<'_> {
    fn batch(&self, statements: Vec<Statement>) -> LocalFuture<'_, Result<Vec<usize>, ToolError>> {
        Box::pin(async move { d1::apply_batch(self.env, &statements).await.map_err(|_| unavailable()) })
    }

    fn query(&self, statement: Statement) -> LocalFuture<'_, Result<Vec<Value>, ToolError>> {
        Box::pin(async move { d1::rows::<Value>(self.env, &statement).await.map_err(|_| unavailable()) })
    }

    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }

    fn sleep(&self, ms: u64) -> LocalFuture<'_, ()> {
        Box::pin(async move { Delay::from(Duration::from_millis(ms)).await })
    }
}
