//! List answers rendered once per isolate. A `tools/list` page is the same text for every caller
//! who sees the same tools at the same protocol version, and rendering it (schemas cloned into
//! a `Value`, then serialised) was most of the request's CPU: it is rendered on first use and
//! kept as text in the registry, which lives as long as the isolate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::context::ToolContext;
use super::registry::Registry;

/// Distinct answers kept; past this (many scope combinations) the memo starts over.
const MAX_RENDERED: usize = 64;

/// What a list answer depends on: the method, the protocol version, the page size and cursor,
/// and which of the registry's items the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    method: &'static str,
    version: &'static str,
    page_size: usize,
    cursor: Option<String>,
    visible: Vec<bool>,
}

#[derive(Default)]
pub struct RenderedLists(RefCell<HashMap<ListKey, Rc<str>>>);

impl RenderedLists {
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    pub fn get(&self, key: &ListKey) -> Option<Rc<str>> {
        self.0.borrow().get(key).cloned()
    }

    /// Keeps `result` (a complete answer, decorations included) as text, and returns the text.
    pub fn put(&self, key: ListKey, result: &Value) -> Rc<str> {
        let text: Rc<str> = result.to_string().into();
        let mut memo = self.0.borrow_mut();
        if memo.len() >= MAX_RENDERED {
            memo.clear();
        }
        memo.insert(key, text.clone());
        text
    }
}

/// The memo key of a list request, `None` for anything else. The cursor is kept as sent: an
/// invalid one is an error, never memoised.
pub fn list_key(
    registry: &Registry,
    page_size: usize,
    ctx: &ToolContext<'_>,
    method: &str,
    params: &Map<String, Value>,
) -> Option<ListKey> {
    let (method, visible) = match method {
        "tools/list" => (
            "tools/list",
            registry.tools.iter().map(|t| t.param_headers.is_ok() && ctx.principal.has_scopes(t.info.scopes)).collect(),
        ),
        "resources/list" => ("resources/list", vec![true; registry.resources.len()]),
        "resources/templates/list" => ("resources/templates/list", vec![true; registry.templates.len()]),
        "prompts/list" => ("prompts/list", vec![true; registry.prompts.len()]),
        _ => return None,
    };
    let cursor = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    Some(ListKey { method, version: ctx.protocol_version.as_str(), page_size, cursor, visible })
}
