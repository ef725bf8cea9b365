//! `completion/complete`: argument values a prompt offers, by prefix.

use serde_json::{json, Map, Value};

use super::jsonrpc::RpcError;
use super::registry::Registry;

pub fn complete(registry: &Registry, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let bad = || RpcError::invalid_params("completion/complete needs ref and argument {name, value}");
    let reference = params.get("ref").and_then(Value::as_object).ok_or_else(bad)?;
    let argument = params.get("argument").and_then(Value::as_object).ok_or_else(bad)?;
    let arg_name = argument.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    let prefix = argument.get("value").and_then(Value::as_str).ok_or_else(bad)?;
    let values: Vec<String> = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = reference.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            super::server::prompt(registry, name)?
                .arguments
                .iter()
                .find(|a| a.name == arg_name)
                .and_then(|a| a.complete)
                .map(|f| f(registry))
                .unwrap_or_default()
        }
        Some("ref/resource") => {
            reference.get("uri").and_then(Value::as_str).ok_or_else(bad)?;
            Vec::new()
        }
        _ => return Err(bad()),
    };
    let matching: Vec<String> = values.into_iter().filter(|s| s.starts_with(prefix)).collect();
    let total = matching.len();
    let shown: Vec<String> = matching.into_iter().take(100).collect();
    Ok(json!({ "completion": { "values": shown, "total": total, "hasMore": total > 100 } }))
}
