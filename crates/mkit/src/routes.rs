//! The route table: which path and method reach which handler. Pure, so 404/405 are tested natively.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Mcp,
    /// GET (the held session's stream) and DELETE (ends it) on /mcp; 405 without sessions.
    McpSession,
    McpPreflight,
    StripeWebhook,
    ProtectedResourceMetadata,
    /// The pay pages: a pay link opens Checkout or the billing portal after a sign-in.
    BillingCheckout,
    BillingPortal,
    BillingCallback,
    /// Where Stripe sends the browser back: success, cancel, done.
    BillingPage(BillingPage),
    /// The authorization server (`MKIT_AUTH_SERVER=on`; 404 otherwise).
    OAuth(OAuthRoute),
    #[cfg(feature = "fixtures")]
    FixturePanic,
    /// Test-only: JWS signatures checked by the Workers path (the Wycheproof e2e test).
    #[cfg(feature = "fixtures")]
    FixtureJwsVerify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthRoute {
    Metadata,
    Jwks,
    Register,
    Authorize,
    Consent,
    Token,
    Revoke,
    /// CORS preflight of the endpoints browser-based clients call.
    Preflight(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingPage {
    Success,
    Cancel,
    Done,
}

impl Route {
    /// The stable name logged for this route.
    pub fn name(self) -> &'static str {
        match self {
            Route::Healthz => "/healthz",
            Route::Mcp | Route::McpSession | Route::McpPreflight => "/mcp",
            Route::StripeWebhook => "/stripe/webhook",
            Route::ProtectedResourceMetadata => "/.well-known/oauth-protected-resource",
            Route::BillingCheckout => "/billing/checkout",
            Route::BillingPortal => "/billing/portal",
            Route::BillingCallback => "/billing/callback",
            Route::BillingPage(BillingPage::Success) => "/billing/success",
            Route::BillingPage(BillingPage::Cancel) => "/billing/cancel",
            Route::BillingPage(BillingPage::Done) => "/billing/done",
            Route::OAuth(o) => o.name(),
            #[cfg(feature = "fixtures")]
            Route::FixturePanic => "/__fixtures/panic",
            #[cfg(feature = "fixtures")]
            Route::FixtureJwsVerify => "/__fixtures/jws-verify",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    Found(Route),
    NotFound,
    /// The path exists but not for this method; `allow` is the `Allow` header value.
    MethodNotAllowed {
        route: &'static str,
        allow: &'static str,
    },
}

pub fn route(method: &str, path: &str) -> Routing {
    let allowed = |route: &'static str, allow: &'static str, found: Option<Route>| match found {
        Some(r) => Routing::Found(r),
        None => Routing::MethodNotAllowed { route, allow },
    };
    match path {
        "/healthz" => allowed("/healthz", "GET, HEAD", matches!(method, "GET" | "HEAD").then_some(Route::Healthz)),
        "/mcp" => allowed(
            "/mcp",
            "POST",
            match method {
                "POST" => Some(Route::Mcp),
                "GET" | "DELETE" => Some(Route::McpSession),
                "OPTIONS" => Some(Route::McpPreflight),
                _ => None,
            },
        ),
        "/stripe/webhook" => allowed("/stripe/webhook", "POST", (method == "POST").then_some(Route::StripeWebhook)),
        "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp" => allowed(
            "/.well-known/oauth-protected-resource",
            "GET, HEAD",
            matches!(method, "GET" | "HEAD").then_some(Route::ProtectedResourceMetadata),
        ),
        "/billing/checkout" | "/billing/portal" | "/billing/callback" | "/billing/success" | "/billing/cancel"
        | "/billing/done" => billing(method, path),
        "/.well-known/oauth-authorization-server"
        | "/oauth/jwks.json"
        | "/oauth/register"
        | "/oauth/authorize"
        | "/oauth/consent"
        | "/oauth/token"
        | "/oauth/revoke" => oauth(method, path),
        #[cfg(feature = "fixtures")]
        "/__fixtures/panic" => Routing::Found(Route::FixturePanic),
        #[cfg(feature = "fixtures")]
        "/__fixtures/jws-verify" => {
            allowed("/__fixtures/jws-verify", "POST", (method == "POST").then_some(Route::FixtureJwsVerify))
        }
        _ => Routing::NotFound,
    }
}

impl OAuthRoute {
    pub fn name(self) -> &'static str {
        match self {
            OAuthRoute::Metadata => "/.well-known/oauth-authorization-server",
            OAuthRoute::Jwks => "/oauth/jwks.json",
            OAuthRoute::Register => "/oauth/register",
            OAuthRoute::Authorize => "/oauth/authorize",
            OAuthRoute::Consent => "/oauth/consent",
            OAuthRoute::Token => "/oauth/token",
            OAuthRoute::Revoke => "/oauth/revoke",
            OAuthRoute::Preflight(path) => path,
        }
    }
}

/// Documents and the browser's pages answer GET; the endpoints clients post to answer POST, and
/// OPTIONS for browser-based clients (the consent form is same-origin: no preflight).
fn oauth(method: &str, path: &str) -> Routing {
    let (route, post) = match path {
        "/.well-known/oauth-authorization-server" => (OAuthRoute::Metadata, false),
        "/oauth/jwks.json" => (OAuthRoute::Jwks, false),
        "/oauth/authorize" => (OAuthRoute::Authorize, false),
        "/oauth/register" => (OAuthRoute::Register, true),
        "/oauth/consent" => (OAuthRoute::Consent, true),
        "/oauth/token" => (OAuthRoute::Token, true),
        _ => (OAuthRoute::Revoke, true),
    };
    match (method, post) {
        ("GET" | "HEAD", false) | ("POST", true) => Routing::Found(Route::OAuth(route)),
        ("OPTIONS", _) if route != OAuthRoute::Consent && route != OAuthRoute::Authorize => {
            Routing::Found(Route::OAuth(OAuthRoute::Preflight(route.name())))
        }
        (_, false) => Routing::MethodNotAllowed { route: route.name(), allow: "GET, HEAD" },
        (_, true) => Routing::MethodNotAllowed { route: route.name(), allow: "POST" },
    }
}

/// The pay pages answer GET (a browser following a link or a redirect) and HEAD.
fn billing(method: &str, path: &str) -> Routing {
    let route = match path {
        "/billing/checkout" => Route::BillingCheckout,
        "/billing/portal" => Route::BillingPortal,
        "/billing/callback" => Route::BillingCallback,
        "/billing/success" => Route::BillingPage(BillingPage::Success),
        "/billing/cancel" => Route::BillingPage(BillingPage::Cancel),
        _ => Route::BillingPage(BillingPage::Done),
    };
    match method {
        "GET" | "HEAD" => Routing::Found(route),
        _ => Routing::MethodNotAllowed { route: route.name(), allow: "GET, HEAD" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes() {
        assert_eq!(route("GET", "/healthz"), Routing::Found(Route::Healthz));
        assert_eq!(route("HEAD", "/healthz"), Routing::Found(Route::Healthz));
        assert_eq!(route("POST", "/mcp"), Routing::Found(Route::Mcp));
        assert_eq!(route("OPTIONS", "/mcp"), Routing::Found(Route::McpPreflight));
        assert_eq!(route("POST", "/stripe/webhook"), Routing::Found(Route::StripeWebhook));
    }

    #[test]
    fn authorization_server_routes() {
        let o = |r| Routing::Found(Route::OAuth(r));
        assert_eq!(route("GET", "/.well-known/oauth-authorization-server"), o(OAuthRoute::Metadata));
        assert_eq!(route("GET", "/oauth/authorize"), o(OAuthRoute::Authorize));
        assert_eq!(route("POST", "/oauth/token"), o(OAuthRoute::Token));
        assert_eq!(route("OPTIONS", "/oauth/token"), o(OAuthRoute::Preflight("/oauth/token")));
        assert_eq!(route("GET", "/oauth/token"), Routing::MethodNotAllowed { route: "/oauth/token", allow: "POST" });
        assert_eq!(
            route("POST", "/oauth/authorize"),
            Routing::MethodNotAllowed { route: "/oauth/authorize", allow: "GET, HEAD" }
        );
        assert_eq!(
            route("OPTIONS", "/oauth/consent"),
            Routing::MethodNotAllowed { route: "/oauth/consent", allow: "POST" }
        );
        assert_eq!(route("GET", "/oauth/other"), Routing::NotFound);
    }

    #[test]
    fn wrong_method_names_the_allowed_ones() {
        assert_eq!(route("POST", "/healthz"), Routing::MethodNotAllowed { route: "/healthz", allow: "GET, HEAD" });
        // GET and DELETE reach the session handler, which answers 405 where no session is held.
        assert_eq!(route("GET", "/mcp"), Routing::Found(Route::McpSession));
        assert_eq!(route("DELETE", "/mcp"), Routing::Found(Route::McpSession));
        assert_eq!(route("PUT", "/mcp"), Routing::MethodNotAllowed { route: "/mcp", allow: "POST" });
        assert_eq!(
            route("GET", "/stripe/webhook"),
            Routing::MethodNotAllowed { route: "/stripe/webhook", allow: "POST" }
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for p in ["/", "/healthz/", "/mcp/x", "/HEALTHZ", "", "/stripe", "/__fixtures/panic"] {
            if cfg!(feature = "fixtures") && p == "/__fixtures/panic" {
                continue;
            }
            assert_eq!(route("GET", p), Routing::NotFound, "{p}");
        }
    }

    #[test]
    fn pay_pages() {
        assert_eq!(route("GET", "/billing/checkout"), Routing::Found(Route::BillingCheckout));
        assert_eq!(route("GET", "/billing/callback"), Routing::Found(Route::BillingCallback));
        assert_eq!(route("GET", "/billing/done"), Routing::Found(Route::BillingPage(BillingPage::Done)));
        assert_eq!(
            route("POST", "/billing/portal"),
            Routing::MethodNotAllowed { route: "/billing/portal", allow: "GET, HEAD" }
        );
        assert_eq!(route("GET", "/billing"), Routing::NotFound);
    }

    #[test]
    fn route_names_are_stable() {
        assert_eq!(Route::McpPreflight.name(), "/mcp");
        assert_eq!(Route::StripeWebhook.name(), "/stripe/webhook");
    }
}
