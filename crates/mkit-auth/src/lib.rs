//! OAuth 2.1 protected resource: access-token validation (RFC 9068, RFC 8725), JWK sets,
//! Protected Resource Metadata (RFC 9728) and bearer challenges (RFC 6750). Pure.

#![deny(missing_docs)]

pub mod cache;
pub mod claims;
pub mod discovery;
pub mod id_token;
pub mod introspection;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod principal;
pub mod prm;
pub mod profile;
pub mod shared_copy;
#[cfg(not(target_arch = "wasm32"))]
pub mod signature;
pub mod validator;

pub use principal::Principal;

#[cfg(test)]
mod jwk_tests;
#[cfg(test)]
mod tests;
