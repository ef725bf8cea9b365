//! SEP-2243 custom headers (2026-07-28 Streamable HTTP): a tool parameter annotated with
//! `x-mcp-header` in its input schema is mirrored by clients into `Mcp-Param-{Name}`, so a load
//! balancer or gateway can route on it; the server checks that the header and the body agree,
//! or an intermediary and the tool would act on different values.

use base64::Engine as _;
use serde_json::{Map, Value};

const ANNOTATION: &str = "x-mcp-header";
/// The largest integer JavaScript holds exactly (2^53 - 1): the spec's range for mirrored integers.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The primitive types a mirrored parameter may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
}

/// One mirrored parameter: its `properties` path from the schema root and its header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    pub path: Vec<String>,
    pub name: String,
    pub kind: Kind,
}

/// The mirrored parameters of an input schema, or why its annotations make the tool invalid
/// (the constraints of SEP-2243's "Schema Extension").
pub fn annotations(schema: &Value) -> Result<Vec<ParamHeader>, String> {
    let mut found = Vec::new();
    collect(schema, &mut Vec::new(), &mut found)?;
    if count(schema) != found.len() {
        return Err(format!("{ANNOTATION} is allowed only on properties reached through \"properties\" alone"));
    }
    for (i, h) in found.iter().enumerate() {
        if found[..i].iter().any(|o| o.name.eq_ignore_ascii_case(&h.name)) {
            return Err(format!("{ANNOTATION} \"{}\" is used twice", h.name));
        }
    }
    Ok(found)
}

/// Walks `properties` chains only.
fn collect(schema: &Value, path: &mut Vec<String>, out: &mut Vec<ParamHeader>) -> Result<(), String> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Ok(()) };
    for (key, sub) in props {
        path.push(key.clone());
        if let Some(name) = sub.get(ANNOTATION) {
            out.push(param_header(path, name, sub)?);
        }
        collect(sub, path, out)?;
        path.pop();
    }
    Ok(())
}

fn param_header(path: &[String], name: &Value, schema: &Value) -> Result<ParamHeader, String> {
    let at = path.join(".");
    let name =
        name.as_str().filter(|n| is_token(n)).ok_or_else(|| format!("{ANNOTATION} of {at} is not a header name"))?;
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    };
    let kind = match types.as_slice() {
        ["string"] => Kind::String,
        ["integer"] => Kind::Integer,
        ["boolean"] => Kind::Boolean,
        _ => return Err(format!("{ANNOTATION} of {at} needs a string, integer or boolean parameter")),
    };
    Ok(ParamHeader { path: path.to_vec(), name: name.to_owned(), kind })
}

/// Every `x-mcp-header` key anywhere in the schema.
fn count(v: &Value) -> usize {
    match v {
        Value::Object(m) => usize::from(m.contains_key(ANNOTATION)) + m.values().map(count).sum::<usize>(),
        Value::Array(a) => a.iter().map(count).sum(),
        _ => 0,
    }
}

/// RFC 9110 §5.6.2 `token` (`1*tchar`).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks each mirrored parameter of a call against its header (`header` looks one up by name,
/// case-insensitively). `Err` says what did not match, for a -32020 `HeaderMismatch`.
pub fn check(
    params: &[ParamHeader],
    args: &Map<String, Value>,
    header: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for p in params {
        let name = format!("Mcp-Param-{}", p.name);
        let value = value_at(args, &p.path).filter(|v| !v.is_null());
        let sent = header(&name);
        let (value, sent) = match (value, sent) {
            (None, None) => continue,
            (None, Some(_)) => return Err(format!("{name} is sent but the argument is absent")),
            (Some(_), None) => return Err(format!("the {name} header is required")),
            (Some(v), Some(s)) => (v, s),
        };
        let text = decode_header_value(&sent).ok_or_else(|| format!("{name} is not a valid header value"))?;
        if !matches(p.kind, value, &text) {
            return Err(format!("{name} does not match the request body"));
        }
    }
    Ok(())
}

fn value_at<'a>(args: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(args.get(first)?, |v, key| v.get(key))
}

/// An MCP header value (`Mcp-Name`, `Mcp-Param-*`) after RFC 9110 §5.5 trimming: visible
/// ASCII, space and tab only; the `=?base64?…?=` form decoded (padded standard Base64 of UTF-8),
/// plain values passed through.
pub fn decode_header_value(raw: &str) -> Option<String> {
    let v = raw.trim_matches([' ', '\t']);
    if !v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return None;
    }
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b64) => String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).ok()?).ok(),
        None => Some(v.to_owned()),
    }
}

/// Strings compare exactly; integers numerically (`42.0` is `42`); booleans as `true`/`false`.
fn matches(kind: Kind, value: &Value, text: &str) -> bool {
    match kind {
        Kind::String => value.as_str() == Some(text),
        Kind::Boolean => value.as_bool().is_some_and(|b| text == if b { "true" } else { "false" }),
        Kind::Integer => {
            let body = value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64));
            body.is_some_and(|b| b.abs() <= MAX_SAFE_INTEGER && integer(text) == Some(b))
        }
    }
}

/// A decimal integer, with an optional all-zero fraction (`42.0` is `42`). Parsed by hand: the
/// standard float parser would add its tables to the bundle for this one comparison.
fn integer(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.bytes().all(|b| b == b'0') || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse().ok()
}
