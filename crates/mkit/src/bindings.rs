//! The Worker's bindings, named once: wrangler.jsonc declares them, and this list is the only
//! place the code spells their names (a test holds the two together). A Durable Object's binding
//! name also keys its objects' names (`mac::object_name`), so a name here never changes lightly.

/// One binding of wrangler.jsonc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// D1: the ledger and the authorization server's store.
    Db,
    /// Analytics Engine: one data point per tool call (`stats`).
    Stats,
    /// Durable Objects: each caller's held sessions.
    Sessions,
    /// Durable Objects: each caller's tasks.
    Tasks,
    /// Durable Objects: each caller's free-quota windows, credit reservations and metered usage.
    /// Opt-in: unbound, they are counted in D1 (docs/deployment.md).
    Counters,
    /// Rate Limiting: `/mcp` requests per caller.
    RateLimit,
    /// Rate Limiting: calls per caller and tool.
    ToolRateLimit,
    /// Rate Limiting: client registrations per address.
    RegistrationRateLimit,
}

impl Binding {
    /// Bound only where the operator turns them on.
    pub const OPT_IN: [Binding; 1] = [Binding::Counters];

    /// Bound in every deployed environment.
    pub const ALL: [Binding; 7] = [
        Binding::Db,
        Binding::Stats,
        Binding::Sessions,
        Binding::Tasks,
        Binding::RateLimit,
        Binding::ToolRateLimit,
        Binding::RegistrationRateLimit,
    ];

    /// The name wrangler.jsonc binds it under.
    pub const fn name(self) -> &'static str {
        match self {
            Binding::Db => "DB",
            Binding::Stats => "MKIT_STATS",
            Binding::Sessions => "MCP_SESSIONS",
            Binding::Tasks => "MCP_TASKS",
            Binding::Counters => "MKIT_COUNTERS",
            Binding::RateLimit => "MKIT_RATE_LIMIT",
            Binding::ToolRateLimit => "MKIT_TOOL_RATE_LIMIT",
            Binding::RegistrationRateLimit => "MKIT_REGISTRATION_RATE_LIMIT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRANGLER: &str = include_str!("../../../wrangler.jsonc");

    /// The names a section of wrangler.jsonc binds: `"binding": "X"`, and `"name": "X"` of Durable
    /// Objects and rate limits.
    fn bound(section: &str) -> Vec<String> {
        let mut out = Vec::new();
        for key in ["\"binding\": \"", "{ \"name\": \""] {
            for part in section.split(key).skip(1) {
                if let Some((name, _)) = part.split_once('"') {
                    out.push(name.to_owned());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_deployed_environment_binds_exactly_these_names() {
        let mut expected: Vec<String> = Binding::ALL.iter().map(|b| b.name().to_owned()).collect();
        expected.sort();
        for env in ["\"staging\": {", "\"production\": {"] {
            let section = WRANGLER.split(env).nth(1).unwrap_or_default();
            let section = section.split("\n    }").next().unwrap_or_default();
            assert_eq!(bound(section), expected, "wrangler.jsonc {env}");
        }
    }
}
