//! The pay pages' HTML: one small template, text escaped, no scripts.

use crate::http::HttpReply;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The one HTML document every page uses: `title` (escaped here) as title and heading, then
/// `inner`, HTML the caller has escaped.
pub fn document(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{t}</title></head><body style=\"font-family:system-ui;\
         max-width:36rem;margin:3rem auto;padding:0 1rem\"><h1>{t}</h1>{inner}</body></html>",
        t = escape(title)
    )
}

/// A page with `title` and `text`, answered with `status`; `code` goes to the request log.
pub fn page(status: u16, title: &str, text: &str, code: Option<&'static str>) -> HttpReply {
    let body = document(title, &format!("<p>{}</p>", escape(text)));
    HttpReply::new(status, body, code)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        .with_header("Referrer-Policy", "no-referrer")
}

pub fn wrong_user() -> HttpReply {
    page(
        403,
        "This link is not yours",
        "This pay link was made for another account than the one you are signed in with. Nothing was created. \
         Ask your own MCP client for a link, or sign in as the account the link was made for.",
        Some("pay_link_wrong_user"),
    )
}

pub fn expired() -> HttpReply {
    page(
        410,
        "This link has expired",
        "Pay links last 30 minutes. Call the tool again in your MCP client to get a new one.",
        Some("pay_link_expired"),
    )
}

pub fn bad_link() -> HttpReply {
    page(400, "This link is not valid", "Open the link exactly as your MCP client showed it.", Some("pay_link_invalid"))
}

pub fn not_selling() -> HttpReply {
    page(404, "Not available", "This server does not sell access through these pages.", Some("billing_not_configured"))
}

pub fn already_paid(entitlement: &str) -> HttpReply {
    let text = format!(
        "This account already has \"{entitlement}\": nothing to pay. Return to your MCP client and call the tool again."
    );
    page(200, "Already yours", &text, Some("pay_link_already_paid"))
}

pub fn success() -> HttpReply {
    page(200, "Thank you", "Your payment went through. Return to your MCP client and call the tool again.", None)
}

pub fn cancelled() -> HttpReply {
    page(200, "Payment cancelled", "Nothing was charged. You can close this page and return to your MCP client.", None)
}

pub fn done() -> HttpReply {
    page(200, "All set", "You can close this page and return to your MCP client.", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_pages_are_locked_down() {
        let r = page(200, "<b>", "a & \"b\"", None);
        assert!(r.body.contains("&lt;b&gt;") && r.body.contains("a &amp; &quot;b&quot;"));
        assert!(!r.body.contains("<b>"));
        assert!(r.header("Content-Security-Policy").is_some_and(|c| c.starts_with("default-src 'none'")));
        assert_eq!(wrong_user().status, 403);
    }
}
