//! Writes `stats` data points to the optional Analytics Engine binding. Writing is
//! fire-and-forget in the runtime (no I/O is awaited), so metrics never slow a request or fail one.

use worker::{console_error, AnalyticsEngineDataPointBuilder, Env};

use crate::bindings::Binding;
use crate::log::Extras;
use crate::stats::tool_call_point;

/// One data point per tool call the request made; nothing without the binding.
pub fn record(env: &Env, log: &Extras, status: u16, duration_ms: f64) {
    if log.tool_calls.is_empty() {
        return;
    }
    let Ok(dataset) = env.analytics_engine(Binding::Stats.name()) else { return };
    for call in &log.tool_calls {
        let p = tool_call_point(call, log, status, duration_ms);
        let written = AnalyticsEngineDataPointBuilder::new()
            .indexes([p.index])
            .blobs(p.blobs)
            .doubles(p.doubles)
            .write_to(&dataset);
        if let Err(e) = written {
            console_error!("{{\"error\":\"stats_write_failed\",\"detail\":{:?}}}", e.to_string());
        }
    }
}
