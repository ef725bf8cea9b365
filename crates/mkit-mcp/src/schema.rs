//! JSON Schema as every client accepts it. schemars describes Rust integers and floats with
//! formats of its own (`uint`, `uint64`, `int32`, `double`…), which JSON Schema 2020-12 does not
//! define: the TypeScript SDK's validator warns about each on every `tools/list`, and a strict
//! validator refuses them. They go; the bounds schemars also emits (`minimum: 0`, `maximum`)
//! stay, so nothing a client could check is lost.

use serde_json::Value;

/// The formats JSON Schema 2020-12 defines (Validation §7.3).
const STANDARD: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Keywords whose value is one subschema, a list of them, or a map of names to them.
const ONE: [&str; 11] = [
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
];
const LIST: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
const MAP: [&str; 5] = ["properties", "$defs", "definitions", "patternProperties", "dependentSchemas"];

/// Removes every non-standard `format` from `schema` and its subschemas; a property that is
/// merely *named* `format` is left alone.
pub fn standard_formats_only(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    if m.get("format").and_then(Value::as_str).is_some_and(|f| !STANDARD.contains(&f)) {
        m.remove("format");
    }
    for (k, v) in m.iter_mut() {
        match (k.as_str(), v) {
            (k, v) if ONE.contains(&k) => standard_formats_only(v),
            (k, Value::Array(list)) if LIST.contains(&k) => list.iter_mut().for_each(standard_formats_only),
            (k, Value::Object(map)) if MAP.contains(&k) => map.values_mut().for_each(standard_formats_only),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_standard_formats_survive_at_any_depth() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Input {
            count: u32,
            big: u64,
            delta: i32,
            ratio: f64,
            small: u8,
            format: String,
            when: Option<Vec<u16>>,
            nested: Nested,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Nested {
            n: usize,
        }
        let mut v = schemars::schema_for!(Input).to_value();
        assert!(v.to_string().contains("\"format\":\"uint32\""), "schemars does emit them: {v}");
        standard_formats_only(&mut v);
        let text = v.to_string();
        for f in ["uint", "int32", "double", "uint8", "uint16", "uint64"] {
            assert!(!text.contains(&format!("\"format\":\"{f}")), "{f} left in {text}");
        }
        assert_eq!(v["properties"]["count"]["minimum"], 0, "the bound stays");
        assert_eq!(v["properties"]["small"]["maximum"], 255);
        assert_eq!(v["properties"]["format"]["type"], "string", "a property named format stays");
        let mut standard =
            json!({ "type": "string", "format": "date-time", "anyOf": [{ "format": "uint" }, { "format": "email" }] });
        standard_formats_only(&mut standard);
        assert_eq!(standard, json!({ "type": "string", "format": "date-time", "anyOf": [{}, { "format": "email" }] }));
    }
}
