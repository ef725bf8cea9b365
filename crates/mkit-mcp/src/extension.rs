//! What a layer above the protocol core attaches to a tool's description, looked up by type (as
//! rmcp's and `http`'s typed extensions): the kit's prices (`mkit::price`) are one. The core knows
//! none of them; it asks each for its `_meta` in `tools/list` and whether the tool may run only
//! through the caller's gate (`mcp::gate`).

use serde_json::{Map, Value};
use std::any::Any;
use std::fmt;
use std::rc::Rc;

/// A typed value on a `ToolInfo`, e.g. its price.
pub trait ToolExtension: Any + fmt::Debug {
    /// Entries for the tool's `_meta` in `tools/list`, so a client can show them.
    fn list_meta(&self, _tool: &str, _meta: &mut Map<String, Value>) {}
    /// Whether the tool may run only through the caller's gate: without one, a call is refused
    /// (fail closed) rather than run unchecked.
    fn gated(&self) -> bool {
        false
    }
    /// Itself, for lookup by type.
    fn as_any(&self) -> &dyn Any;
    /// Whether `other` is the same extension with the same value.
    fn same(&self, other: &dyn ToolExtension) -> bool;
}

/// A tool's extensions: at most one of each type.
#[derive(Clone, Default)]
pub struct Extensions(Vec<Rc<dyn ToolExtension>>);

impl Extensions {
    /// The extension of type `T`, if the tool has one.
    pub fn get<T: ToolExtension>(&self) -> Option<&T> {
        self.0.iter().find_map(|e| e.as_any().downcast_ref::<T>())
    }

    /// Sets the extension of type `T`, replacing one already there.
    pub fn insert<T: ToolExtension>(&mut self, value: T) {
        self.0.retain(|e| !e.as_any().is::<T>());
        self.0.push(Rc::new(value));
    }

    /// Whether any extension says the tool runs only through a gate.
    pub fn gated(&self) -> bool {
        self.0.iter().any(|e| e.gated())
    }

    /// Every extension's `_meta` entries for the tool called `tool`.
    pub fn list_meta(&self, tool: &str) -> Map<String, Value> {
        let mut meta = Map::new();
        for e in &self.0 {
            e.list_meta(tool, &mut meta);
        }
        meta
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl PartialEq for Extensions {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|e| other.0.iter().any(|o| e.same(o.as_ref())))
    }
}
