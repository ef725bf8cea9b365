//! Clients: from a Client ID Metadata Document (the `client_id` is an https URL serving the
//! client's metadata; draft-ietf-oauth-client-id-metadata-document, as the MCP authorization spec
//! adopts it) or from Dynamic Client Registration (RFC 7591, which the spec keeps for older
//! clients). Both end as the same `Client`. mKit registers public clients only: PKCE is their
//! proof, and there is no secret to store or leak.

use serde_json::{json, Map, Value};

use super::redirect;
use super::uri::{Uri, UriError};
use super::OAuthError;

/// The most bytes of a metadata document or registration request that are read.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME_CHARS: usize = 200;

/// A client mKit knows, from a Client ID Metadata Document or a registration (RFC 7591): always a
/// public one, with PKCE as its proof and no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The metadata document's URL, or the id registration issued.
    pub client_id: String,
    /// The `client_name`, if one was given.
    pub client_name: Option<String>,
    /// The registered redirect URIs (RFC 6749 §3.1.2).
    pub redirect_uris: Vec<String>,
    /// Whether the client may use refresh tokens.
    pub refresh: bool,
    /// The `application_type` it stated (SEP-837): `native` or `web`; `None` when it stated none.
    pub application_type: Option<&'static str>,
}

/// A `client_id` that names a metadata document rather than a registration.
pub fn is_metadata_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// The rules a metadata document's URL must meet before it is fetched (the draft's §3, and §6.5
/// on server-side request forgery): https, written exactly as the WHATWG URL Standard serializes
/// it (so no `..`/`%2e%2e` segment, backslash, shorthand IP or `:443`), a path, no fragment, no
/// credentials, no query; and, unless `allow_private` (local development only), no port but the
/// default 443 and a public host as fetch resolves it (`uri::is_private`: `0x7f.1`, `127.1`,
/// `2130706433` and `localhost.` are all private). Fetch the returned `Uri`'s `as_str()`: it is
/// the URL that was checked.
pub fn check_document_url(client_id: &str, allow_private: bool) -> Result<Uri, OAuthError> {
    let bad = |why: &str| Err(OAuthError::invalid_client(format!("client_id {client_id:?}: {why}")));
    let u = match Uri::parse_strict(client_id) {
        Ok(u) => u,
        Err(UriError::Invalid) => return bad("not a URL"),
        Err(e) => return bad(&e.describe()),
    };
    if u.scheme != "https" || u.host.is_empty() {
        return bad("a metadata document's URL must be https");
    }
    if u.has_fragment() || u.has_userinfo() || u.has_query() {
        return bad("a metadata document's URL must have no fragment, credentials or query");
    }
    // Dot segments never survive the round trip; the check stays as the rule's statement.
    if u.path().len() < 2 || u.path().split('/').any(|seg| seg == "." || seg == "..") {
        return bad("a metadata document's URL needs a path, without . or .. segments");
    }
    if !allow_private && u.port.is_some() {
        return bad("a metadata document must be served on the default https port (443)");
    }
    if !allow_private && u.is_private_host() {
        return bad("a metadata document must be on a public host");
    }
    Ok(u)
}

/// The client a fetched metadata document describes, checked against the URL it came from.
pub fn from_document(client_id: &str, body: &[u8]) -> Result<Client, OAuthError> {
    let bad = |why: String| Err(OAuthError::invalid_client(format!("metadata document {client_id}: {why}")));
    if body.len() > MAX_DOCUMENT_BYTES {
        return bad(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else { return bad("not a JSON object".into()) };
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return bad("its client_id is not exactly the URL it was fetched from".into());
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return bad("a metadata document must not carry a client secret".into());
    }
    match doc.get("token_endpoint_auth_method").and_then(Value::as_str) {
        None | Some("none") => {}
        Some(m) => return bad(format!("token_endpoint_auth_method {m} is not supported here: use none (PKCE)")),
    }
    let name = text(&doc, "client_name")
        .map_err(|e| OAuthError::invalid_client(format!("metadata document {client_id}: {e}")))?;
    let Some(name) = name else { return bad("client_name is required".into()) };
    let grants =
        grant_types(&doc).map_err(|e| OAuthError::invalid_client(format!("metadata document {client_id}: {e}")))?;
    let redirect_uris = redirect_uris(&doc)
        .map_err(|e| OAuthError::invalid_client(format!("metadata document {client_id}: {}", e.description)))?;
    // SEP-837 is a rule for registration; a document that states no type is taken as it is.
    let application_type = stated_application_type(&doc, ApplicationTypeRule::Optional)
        .and_then(|t| check_application_type(t, &redirect_uris).map(|()| t))
        .map_err(|e| OAuthError::invalid_client(format!("metadata document {client_id}: {e}")))?;
    let client_id = client_id.to_owned();
    Ok(Client { client_id, client_name: Some(name), redirect_uris, refresh: grants.refresh, application_type })
}

/// Whether a registration must state `application_type`. MCP 2026-07-28 (SEP-837) says clients
/// MUST; the clients written before it state none, and `Optional` still answers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationTypeRule {
    /// A registration that states none is refused (`invalid_client_metadata`).
    Required,
    /// A registration that states none is answered, its type unstated.
    Optional,
}

/// RFC 7591 §2–3: a registration request, checked, as the client to store under `client_id`,
/// and the registration response (201) to send back.
pub fn from_registration(
    body: &[u8],
    client_id: &str,
    issued_at: u64,
    rule: ApplicationTypeRule,
) -> Result<(Client, Value), OAuthError> {
    let meta = |why: String| OAuthError::invalid_client_metadata(why);
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(meta(format!("the registration request is larger than {MAX_DOCUMENT_BYTES} bytes")));
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return Err(meta("the registration request must be a JSON object".into()));
    };
    // Confidential methods are answered with "none" (RFC 7591 §3.2.1 lets the server choose).
    match req.get("token_endpoint_auth_method").and_then(Value::as_str) {
        None | Some("none" | "client_secret_basic" | "client_secret_post") => {}
        Some(m) => return Err(meta(format!("token_endpoint_auth_method {m} is not supported: use none (PKCE)"))),
    }
    let grants = grant_types(&req).map_err(meta)?;
    let name = text(&req, "client_name").map_err(meta)?;
    let redirect_uris = redirect_uris(&req)?;
    let app_type = stated_application_type(&req, rule).map_err(meta)?;
    check_application_type(app_type, &redirect_uris).map_err(OAuthError::invalid_redirect_uri)?;
    let client = Client {
        client_id: client_id.to_owned(),
        client_name: name,
        redirect_uris,
        refresh: grants.refresh,
        application_type: app_type,
    };
    let mut response = json!({
        "client_id": client.client_id,
        "client_id_issued_at": issued_at,
        "redirect_uris": client.redirect_uris,
        "grant_types": grants.names(),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    if let Some(n) = &client.client_name {
        response["client_name"] = n.clone().into();
    }
    if let Some(t) = app_type {
        response["application_type"] = t.into();
    }
    Ok((client, response))
}

/// The `application_type` a registration states (SEP-837): `native` or `web`, or, under
/// `Optional`, none.
fn stated_application_type(m: &Map<String, Value>, rule: ApplicationTypeRule) -> Result<Option<&'static str>, String> {
    match m.get("application_type") {
        None | Some(Value::Null) if rule == ApplicationTypeRule::Optional => Ok(None),
        None | Some(Value::Null) => Err(APPLICATION_TYPE_REQUIRED.into()),
        Some(Value::String(s)) if s == "native" => Ok(Some("native")),
        Some(Value::String(s)) if s == "web" => Ok(Some("web")),
        Some(_) => Err("application_type must be \"native\" or \"web\"".into()),
    }
}

const APPLICATION_TYPE_REQUIRED: &str = "application_type is required (MCP 2026-07-28, SEP-837): state \"native\" \
     for a desktop, CLI or mobile client that redirects to loopback http or its own scheme, or \"web\" for one served \
     from a public https host";

/// SEP-837 (MCP 2026-07-28) with OpenID Connect Registration §2's meaning: a client that states
/// `application_type` must have redirect URIs that fit it. `native` (desktop, CLI, mobile, or a
/// local web app): loopback `http`, a private-use scheme, or a claimed `https` URI (RFC 8252
/// §7). `web`: `https` on a host that is not loopback. A client that states nothing is taken as
/// it is (mKit is no OpenID provider to its clients, so the OIDC default of `web` does not apply).
fn check_application_type(kind: Option<&str>, redirect_uris: &[String]) -> Result<(), String> {
    let Some(kind) = kind else { return Ok(()) };
    for r in redirect_uris {
        let u = Uri::parse(r).ok_or_else(|| format!("redirect_uri {r:?} is not a URL"))?;
        let fits = match kind {
            "web" => u.scheme == "https" && !u.is_loopback(),
            _ => u.scheme != "http" || u.is_loopback(),
        };
        if !fits {
            return Err(format!(
                "redirect_uri {r:?} does not fit application_type {kind}: a web client redirects to https on a \
                 public host; a native one to loopback http, its own scheme or a claimed https URI"
            ));
        }
    }
    Ok(())
}

struct Grants {
    refresh: bool,
}

impl Grants {
    fn names(&self) -> Vec<&'static str> {
        if self.refresh {
            vec!["authorization_code", "refresh_token"]
        } else {
            vec!["authorization_code"]
        }
    }
}

/// `grant_types` (default: authorization_code) and `response_types` (default: code), limited to
/// what this server does.
fn grant_types(m: &Map<String, Value>) -> Result<Grants, String> {
    let list = |k: &str, default: &'static str| -> Result<Vec<String>, String> {
        match m.get(k) {
            None => Ok(vec![default.to_owned()]),
            Some(Value::Array(a)) => {
                a.iter().map(|v| v.as_str().map(str::to_owned).ok_or(format!("{k} must be strings"))).collect()
            }
            Some(_) => Err(format!("{k} must be an array")),
        }
    };
    let grants = list("grant_types", "authorization_code")?;
    if let Some(g) = grants.iter().find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str())) {
        return Err(format!("grant type {g} is not supported (authorization_code, refresh_token)"));
    }
    if !grants.iter().any(|g| g == "authorization_code") {
        return Err("grant_types must include authorization_code".into());
    }
    if list("response_types", "code")?.iter().any(|r| r != "code") {
        return Err("response_types may only be code".into());
    }
    Ok(Grants { refresh: grants.iter().any(|g| g == "refresh_token") })
}

fn redirect_uris(m: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    let Some(Value::Array(list)) = m.get("redirect_uris") else {
        return Err(OAuthError::invalid_redirect_uri("redirect_uris is required: a non-empty array"));
    };
    if list.is_empty() || list.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!("redirect_uris must hold 1 to {MAX_REDIRECT_URIS} URIs")));
    }
    list.iter()
        .map(|v| {
            let s = v.as_str().ok_or_else(|| OAuthError::invalid_redirect_uri("redirect_uris must be strings"))?;
            redirect::check(s).map(|_| s.to_owned())
        })
        .collect()
}

/// An optional human-readable field: one line of visible text, at most `MAX_NAME_CHARS`.
fn text(m: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_NAME_CHARS && is_plain(s) => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(format!(
            "{k} must be one line of at most {MAX_NAME_CHARS} characters, without invisible or direction-changing ones"
        )),
    }
}

/// Text a consent page can show as it is: no control characters, and none of the invisible or
/// direction-changing ones (Unicode `Cf` and the blank fillers) that could make a name read as
/// another ("Claude" + U+202E …), or hide part of it.
pub fn is_plain(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || is_invisible(c))
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

impl Client {
    /// The name a consent page shows: the client's own if it is plain text (a name stored before
    /// the rule existed may not be), otherwise its `client_id`.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().filter(|n| is_plain(n)).unwrap_or(&self.client_id)
    }
}
