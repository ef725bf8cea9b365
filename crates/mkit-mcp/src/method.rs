//! The MCP methods a request may name, parsed once from the JSON-RPC `method` string: dispatch
//! matches on this enum exhaustively, so a new method is a compile error until it is handled.

/// One MCP method (both eras); `Unknown` keeps the name for the error that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// `initialize` (handshake era).
    Initialize,
    /// `ping` (handshake era).
    Ping,
    /// `logging/setLevel` (handshake era).
    SetLevel,
    /// `server/discover` (stateless era).
    Discover,
    /// `tools/list`.
    ToolsList,
    /// `tools/call`.
    ToolsCall,
    /// `resources/list`.
    ResourcesList,
    /// `resources/templates/list`.
    TemplatesList,
    /// `resources/read`.
    ResourcesRead,
    /// `resources/subscribe` (handshake era).
    Subscribe,
    /// `resources/unsubscribe` (handshake era).
    Unsubscribe,
    /// `prompts/list`.
    PromptsList,
    /// `prompts/get`.
    PromptsGet,
    /// `completion/complete`.
    Complete,
    /// `tasks/get`.
    TasksGet,
    /// `tasks/update` (stateless era).
    TasksUpdate,
    /// `tasks/cancel`.
    TasksCancel,
    /// `tasks/result` (handshake era).
    TasksResult,
    /// `tasks/list` (handshake era).
    TasksList,
    /// Any other name.
    Unknown(&'a str),
}

const NAMES: [(&str, Method<'static>); 19] = [
    ("initialize", Method::Initialize),
    ("ping", Method::Ping),
    ("logging/setLevel", Method::SetLevel),
    ("server/discover", Method::Discover),
    ("tools/list", Method::ToolsList),
    ("tools/call", Method::ToolsCall),
    ("resources/list", Method::ResourcesList),
    ("resources/templates/list", Method::TemplatesList),
    ("resources/read", Method::ResourcesRead),
    ("resources/subscribe", Method::Subscribe),
    ("resources/unsubscribe", Method::Unsubscribe),
    ("prompts/list", Method::PromptsList),
    ("prompts/get", Method::PromptsGet),
    ("completion/complete", Method::Complete),
    ("tasks/get", Method::TasksGet),
    ("tasks/update", Method::TasksUpdate),
    ("tasks/cancel", Method::TasksCancel),
    ("tasks/result", Method::TasksResult),
    ("tasks/list", Method::TasksList),
];

impl<'a> Method<'a> {
    /// The method a request names.
    pub fn parse(name: &'a str) -> Method<'a> {
        NAMES.iter().find(|(n, _)| *n == name).map_or(Method::Unknown(name), |(_, m)| *m)
    }

    /// Its name on the wire.
    pub fn name(self) -> &'a str {
        match self {
            Method::Unknown(name) => name,
            known => NAMES.iter().find(|(_, m)| *m == known).map_or("", |(n, _)| n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_others_stay_unknown() {
        for (name, method) in NAMES {
            assert_eq!(Method::parse(name), method);
            assert_eq!(method.name(), name);
        }
        for other in ["", "tools/Call", "tools/call ", "notifications/initialized"] {
            assert_eq!(Method::parse(other), Method::Unknown(other));
            assert_eq!(Method::parse(other).name(), other);
        }
    }
}
