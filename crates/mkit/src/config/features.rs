//! The configuration a build cannot serve: a capability of the kit that this server was built
//! without (a Cargo feature of `mkit`), asked for anyway. Named, never guessed around.

use super::{is_on, ConfigError, Needs, VarSource, VarState};

/// Adds an error (and a var entry where there is a var) for each capability asked of a build
/// that left it out.
pub(super) fn check(
    src: &dyn VarSource,
    needs: Needs,
    entries: &mut Vec<(&'static str, VarState)>,
    errors: &mut Vec<ConfigError>,
) {
    if needs.paid_tools && !cfg!(feature = "billing") {
        errors.push(ConfigError {
            variable: "mkit/billing",
            state: VarState::Invalid,
            reason: "a tool has a price, but this server was built without mKit's billing: enable the \
                     `billing` feature of the mkit dependency, or take the price off",
        });
    }
    if is_on(src, "MKIT_AUTH_SERVER") && !cfg!(feature = "auth-server") {
        errors.push(ConfigError {
            variable: "MKIT_AUTH_SERVER",
            state: VarState::Invalid,
            reason: "is on, but this server was built without mKit's authorization server: \
                     enable the `auth-server` feature of the mkit dependency, or set it off",
        });
        entries.push(("MKIT_AUTH_SERVER", VarState::Invalid));
    }
}
