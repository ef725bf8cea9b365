//! MCP protocol versions and their two eras.

/// Every version mKit speaks, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// 2025-03-26.
    V2025_03_26,
    /// 2025-06-18.
    V2025_06_18,
    /// 2025-11-25.
    V2025_11_25,
    /// 2026-07-28.
    V2026_07_28,
}

/// How a request arrived: after an `initialize` handshake, or stateless with per-request `_meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize` first, then a session (2025 versions).
    Handshake,
    /// Every request stands alone (2026-07-28).
    Stateless,
}

impl ProtocolVersion {
    /// Every version mKit speaks, oldest first.
    pub const ALL: [ProtocolVersion; 4] = [
        ProtocolVersion::V2026_07_28,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
    ];
    /// The newest version negotiated through `initialize`.
    pub const LATEST_HANDSHAKE: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// Assumed when a handshake-era request carries no `MCP-Protocol-Version` header.
    pub const DEFAULT_WITHOUT_HEADER: ProtocolVersion = ProtocolVersion::V2025_03_26;

    /// A version from its date string.
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The version's date string.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether it is a handshake or a stateless version.
    pub fn era(self) -> Era {
        if self >= ProtocolVersion::V2026_07_28 {
            Era::Stateless
        } else {
            Era::Handshake
        }
    }

    /// Versions of one era, newest first, for error data.
    pub fn supported(era: Era) -> Vec<&'static str> {
        Self::ALL.into_iter().filter(|v| v.era() == era).map(Self::as_str).collect()
    }

    /// Every supported version's date string.
    pub fn all_supported() -> Vec<&'static str> {
        Self::ALL.into_iter().map(Self::as_str).collect()
    }

    /// 2025-06-18 added titles, `structuredContent`, `outputSchema` and `_meta` on tools.
    pub fn has_structured_output(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// 2025-11-25 added icons.
    pub fn has_icons(self) -> bool {
        self >= ProtocolVersion::V2025_11_25
    }

    /// 2025-11-25 added the tasks utility; 2026-07-28 moved tasks to an extension (`mcp::tasks`).
    pub fn has_tasks(self) -> bool {
        self == ProtocolVersion::V2025_11_25
    }

    /// 2025-03-26 is the only version whose transport accepts JSON-RPC batches.
    pub fn accepts_batches(self) -> bool {
        self == ProtocolVersion::V2025_03_26
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_eras() {
        assert_eq!(ProtocolVersion::parse("2025-06-18"), Some(ProtocolVersion::V2025_06_18));
        assert_eq!(ProtocolVersion::parse("2024-11-05"), None);
        assert_eq!(ProtocolVersion::parse(""), None);
        assert_eq!(ProtocolVersion::V2025_11_25.era(), Era::Handshake);
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Stateless);
        assert_eq!(ProtocolVersion::supported(Era::Handshake), vec!["2025-11-25", "2025-06-18", "2025-03-26"]);
        assert_eq!(ProtocolVersion::supported(Era::Stateless), vec!["2026-07-28"]);
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
    }

    #[test]
    fn features_by_version() {
        assert!(!ProtocolVersion::V2025_03_26.has_structured_output());
        assert!(ProtocolVersion::V2025_06_18.has_structured_output());
        assert!(!ProtocolVersion::V2025_06_18.has_icons());
        assert!(ProtocolVersion::V2025_11_25.has_icons());
        assert!(ProtocolVersion::V2025_03_26.accepts_batches());
        assert!(!ProtocolVersion::V2025_06_18.accepts_batches());
    }
}
