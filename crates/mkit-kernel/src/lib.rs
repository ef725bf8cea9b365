//! mKit's kernel: pure primitives shared by every other part, with no knowledge of MCP, OAuth,
//! billing or Workers. Each has one job:
//!
//! - [`keyring`]: every use of the deployment secret as a purpose, each with its own derived key.
//! - [`mac`]: HMAC-SHA256, constant-time comparison, key derivation per purpose.
//! - [`pkce`]: the S256 transform of RFC 7636.
//! - [`seal`]: the one sealed-token format (request state, sessions, pay links, cookies).
//! - [`sql`]: parameterised statements as the pure modules write them and D1 runs them.
//! - [`time`]: UTC calendar dates of Unix time.
//! - [`uri`]: URL facts decided exactly as WHATWG fetch parses the URL.
//! - [`whatwg`]: the one call into a WHATWG URL parser (workerd's own in the Worker).

#![deny(missing_docs)]

pub mod keyring;
pub mod mac;
pub mod pkce;
pub mod seal;
pub mod sql;
pub mod time;
pub mod uri;
pub mod whatwg;
