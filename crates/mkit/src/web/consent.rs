//! The authorization server's consent page: which client asks, where the answer goes (the
//! redirect URI's host, as the MCP authorization spec requires, with a warning when that is this
//! device), and who is signed in. One form, no script; the form carries the sealed request, which
//! only this user's session can redeem.

use super::pages::{document, escape};
use crate::http::HttpReply;

pub struct Consent<'a> {
    pub server: &'a str,
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// The `application_type` the client stated (SEP-837): `native` or `web`; `None`: unstated.
    pub application_type: Option<&'a str>,
    pub redirect_host: &'a str,
    /// The client could be any program on this device (a loopback or app redirect).
    pub local_redirect: bool,
    pub signed_in_as: &'a str,
    pub scope: &'a str,
    /// The sealed, user-bound request the form posts back.
    pub sealed: &'a str,
    /// Where the form's answer may redirect besides this origin (CSP `form-action` also governs
    /// the redirect after the POST): the redirect URI's origin, or its scheme for an app.
    pub redirect_source: &'a str,
}

pub fn page(c: &Consent<'_>) -> HttpReply {
    let warning = if c.local_redirect {
        "<p><strong>The answer goes to a program on this device.</strong> Allow only if you just started connecting from it.</p>"
    } else {
        ""
    };
    let scope =
        if c.scope.is_empty() { String::new() } else { format!("<p>Access: <code>{}</code></p>", escape(c.scope)) };
    let kind = match c.application_type {
        Some("native") => "It says it is a native application (desktop, command line or mobile).",
        Some("web") => "It says it is a web application.",
        _ => "It does not say whether it is a native or a web application.",
    };
    let inner = format!(
        "<p>Signed in as <code>{user}</code>.</p>\
         <p>The client identifies as <code>{id}</code>; its answer goes to <strong>{host}</strong>. {kind}</p>\
         {warning}{scope}\
         <form method=\"post\" action=\"/oauth/consent\"><input type=\"hidden\" name=\"request\" value=\"{sealed}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        user = escape(c.signed_in_as),
        id = escape(c.client_id),
        host = escape(c.redirect_host),
        sealed = escape(c.sealed),
    );
    let body = document(&format!("Allow {} to use {}?", c.client_name, c.server), &inner);
    HttpReply::new(200, body, None)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header(
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {}; frame-ancestors 'none'",
                c.redirect_source
            ),
        )
        .with_header("X-Frame-Options", "DENY")
        // same-origin, not no-referrer: with no-referrer the browser sends `Origin: null` on the
        // form POST, and the consent endpoint checks the origin.
        .with_header("Referrer-Policy", "same-origin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_client_host_and_user_escaped_and_cannot_be_framed() {
        let r = page(&Consent {
            server: "mKit",
            client_name: "<Evil> & Co",
            client_id: "https://app.example.com/c.json",
            application_type: Some("native"),
            redirect_host: "127.0.0.1",
            local_redirect: true,
            signed_in_as: "ada",
            scope: "mcp",
            sealed: "a.b\"c",
            redirect_source: "http://127.0.0.1:3000",
        });
        assert!(r.body.contains("Allow &lt;Evil&gt; &amp; Co to use mKit?"));
        assert!(r.body.contains("<strong>127.0.0.1</strong>") && r.body.contains("a program on this device"));
        assert!(r.body.contains("value=\"a.b&quot;c\""));
        assert!(r.body.contains("It says it is a native application"));
        assert!(r.header("Content-Security-Policy").is_some_and(
            |c| c.contains("frame-ancestors 'none'") && c.contains("form-action 'self' http://127.0.0.1:3000;")
        ));
    }
}
