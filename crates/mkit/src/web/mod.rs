//! The pages a person opens in a browser: the authorization server's consent page, and the pay pages: sign-in with the issuer as an OpenID Connect
//! client (so the page knows who opened a pay link), the session and sign-in cookies, the
//! Stripe requests that open Checkout or the billing portal, and the small HTML pages. Pure: the
//! edge (`edge::billing`) does the I/O.

pub mod consent;
pub mod cookies;
pub mod form;
pub mod pages;
pub mod signin;
pub mod stripe;
