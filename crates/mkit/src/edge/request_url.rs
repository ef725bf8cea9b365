//! The request's URL as workerd parsed it, read through the kernel's WHATWG seam rather than
//! `worker::Request::url` (which parses it again with the `url` crate and would bring that crate's
//! IDNA tables into the bundle: issue #29).

use mkit_kernel::whatwg;
use worker::Request;

/// The query without its `?`; empty when there is none.
#[cfg(any(feature = "billing", feature = "auth-server"))]
pub fn query(req: &Request) -> String {
    whatwg::parse(&req.inner().url()).and_then(|u| u.query().map(str::to_owned)).unwrap_or_default()
}

/// The origin the request was sent to (`https://mcp.example.com`).
pub fn origin(req: &Request) -> Option<String> {
    whatwg::parse(&req.inner().url()).map(|u| u.origin)
}
