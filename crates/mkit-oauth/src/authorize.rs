//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 8707 and OAuth 2.1). Every error is
//! shown to the user on an error page and never sent to the client's redirect URI: anyone can
//! register a redirect URI (DCR, or a metadata document they host), so an error redirected before
//! anyone signed in would make this server an open redirector (RFC 9700 §4.11.2). The only
//! redirects are the code and the user's own refusal at consent, both after sign-in.

use super::client::Client;
use super::{pkce, redirect, OAuthError};

/// The request's parameters, as the query carried them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// `response_type`: only `code` is accepted.
    pub response_type: Option<String>,
    /// `client_id`: an id registration issued, or a metadata document's URL.
    pub client_id: Option<String>,
    /// `redirect_uri`: may be left out when the client registered exactly one.
    pub redirect_uri: Option<String>,
    /// `state`: opaque to the server, echoed back to the client.
    pub state: Option<String>,
    /// `code_challenge` (RFC 7636 §4.3).
    pub code_challenge: Option<String>,
    /// `code_challenge_method`: only `S256` is accepted.
    pub code_challenge_method: Option<String>,
    /// `resource` (RFC 8707): when given, it must be this server's resource.
    pub resource: Option<String>,
    /// `scope`: space-separated scopes.
    pub scope: Option<String>,
}

/// A request that passed every check: what the consent page shows and the code will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    /// The client's `client_id`.
    pub client_id: String,
    /// Where the code goes: a redirect URI the client registered.
    pub redirect_uri: String,
    /// The client's `state`, if it sent a non-empty one.
    pub state: Option<String>,
    /// The PKCE S256 challenge the token request's `code_verifier` must answer.
    pub code_challenge: String,
    /// The resource the tokens are for (their `aud`).
    pub resource: String,
    /// The requested scopes this server knows, space-separated.
    pub scope: String,
}

impl Approved {
    /// The approved request as the consent form carries it (sealed).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "c": self.client_id, "r": self.redirect_uri, "s": self.state, "p": self.code_challenge,
            "a": self.resource, "o": self.scope })
    }

    /// The approved request back from its `to_json` form; `None` if a field is missing.
    pub fn from_json(v: &serde_json::Value) -> Option<Approved> {
        let f = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
        Some(Approved {
            client_id: f("c")?,
            redirect_uri: f("r")?,
            state: f("s"),
            code_challenge: f("p")?,
            resource: f("a")?,
            scope: f("o")?,
        })
    }
}

/// The most characters of `state` carried through (it is echoed into a URL).
const MAX_STATE: usize = 1024;

/// Checks `req` from `client` for this server's `resource`; `supported` are the scopes it grants.
/// An error is for the user's eyes (an error page), never a redirect.
pub fn check(
    req: &AuthorizationRequest,
    client: &Client,
    resource: &str,
    supported: &[String],
) -> Result<Approved, OAuthError> {
    let redirect_uri = match (&req.redirect_uri, client.redirect_uris.as_slice()) {
        (Some(r), registered) if redirect::matches(registered, r) => r.clone(),
        (Some(_), _) => return Err(OAuthError::invalid_request("redirect_uri is not one the client registered")),
        (None, [only]) => only.clone(),
        (None, _) => return Err(OAuthError::invalid_request("redirect_uri is required")),
    };
    let state = req.state.clone().filter(|s| !s.is_empty());
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(OAuthError::invalid_request(format!("state is longer than {MAX_STATE} characters")));
    }
    if req.response_type.as_deref() != Some("code") {
        return Err(OAuthError::unsupported_response_type("response_type must be code"));
    }
    let code_challenge = pkce::check_challenge(req.code_challenge.as_deref(), req.code_challenge_method.as_deref())?;
    // RFC 8707: the token's audience is this server; a request for another is refused, not re-aimed.
    if req.resource.as_deref().is_some_and(|r| r != resource) {
        return Err(OAuthError::invalid_target(format!("this server issues tokens only for {resource}")));
    }
    let scope = granted_scope(req.scope.as_deref(), supported);
    Ok(Approved {
        client_id: client.client_id.clone(),
        redirect_uri,
        state,
        code_challenge,
        resource: resource.to_owned(),
        scope,
    })
}

/// The requested scopes this server knows (all of them when none is requested), space-separated.
pub fn granted_scope(requested: Option<&str>, supported: &[String]) -> String {
    let asked: Vec<&str> = requested.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
    let granted: Vec<&str> =
        supported.iter().map(String::as_str).filter(|s| asked.is_empty() || asked.contains(s)).collect();
    granted.join(" ")
}

/// The query parameters of the redirect back to the client, success or error (RFC 9207 `iss`).
pub fn response_params(outcome: Result<&str, &OAuthError>, state: Option<&str>, issuer: &str) -> Vec<(String, String)> {
    let mut p = match outcome {
        Ok(code) => vec![("code".to_owned(), code.to_owned())],
        Err(e) => {
            vec![("error".to_owned(), e.code.to_owned()), ("error_description".to_owned(), e.description.clone())]
        }
    };
    if let Some(s) = state {
        p.push(("state".into(), s.to_owned()));
    }
    p.push(("iss".into(), issuer.to_owned()));
    p
}
