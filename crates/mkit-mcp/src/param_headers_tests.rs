//! SEP-2243: which `x-mcp-header` annotations make a tool valid, and how headers are checked
//! against the arguments they mirror.

use serde_json::{json, Map, Value};

use super::param_headers::{annotations, check, Kind, ParamHeader};

fn schema(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

#[test]
fn annotations_on_primitive_properties_reached_through_properties_are_taken() {
    let s = schema(json!({
        "region": {"type": "string", "x-mcp-header": "Region"},
        "priority": {"type": "integer", "x-mcp-header": "Priority"},
        "verbose": {"type": ["boolean", "null"], "x-mcp-header": "Verbose"},
        "nested": {"type": "object", "properties": {"tenant": {"type": "string", "x-mcp-header": "Tenant-Id"}}},
        "query": {"type": "string"},
    }));
    let mut found = annotations(&s).expect("valid");
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<(&str, Kind, String)> = found.iter().map(|h| (h.name.as_str(), h.kind, h.path.join("."))).collect();
    assert_eq!(
        names,
        [
            ("Priority", Kind::Integer, "priority".into()),
            ("Region", Kind::String, "region".into()),
            ("Tenant-Id", Kind::String, "nested.tenant".into()),
            ("Verbose", Kind::Boolean, "verbose".into()),
        ]
    );
    assert_eq!(annotations(&json!({"type": "object"})), Ok(vec![]));
}

#[test]
fn invalid_annotations_make_the_tool_invalid() {
    let bad = [
        json!({"v": {"type": "string", "x-mcp-header": ""}}),
        json!({"v": {"type": "string", "x-mcp-header": "My Region"}}),
        json!({"v": {"type": "string", "x-mcp-header": "Region:Primary"}}),
        json!({"v": {"type": "string", "x-mcp-header": "Région"}}),
        json!({"v": {"type": "string", "x-mcp-header": "Region\t1"}}),
        json!({"v": {"type": "string", "x-mcp-header": 7}}),
        json!({"v": {"type": "number", "x-mcp-header": "Score"}}),
        json!({"v": {"type": "object", "x-mcp-header": "Data"}}),
        json!({"v": {"type": "array", "items": {"type": "string"}, "x-mcp-header": "Items"}}),
        json!({"v": {"type": "null", "x-mcp-header": "Nil"}}),
        json!({"v": {"x-mcp-header": "Untyped"}}),
        json!({"a": {"type": "string", "x-mcp-header": "Region"}, "b": {"type": "string", "x-mcp-header": "Region"}}),
        json!({"a": {"type": "string", "x-mcp-header": "MyField"}, "b": {"type": "string", "x-mcp-header": "myfield"}}),
        json!({"list": {"type": "array", "items": {"type": "object", "properties": {"r": {"type": "string", "x-mcp-header": "R"}}}}}),
        json!({"choice": {"oneOf": [{"type": "string", "x-mcp-header": "Choice"}]}}),
    ];
    for props in bad {
        assert!(annotations(&schema(props.clone())).is_err(), "{props}");
    }
    let via_ref = json!({"type": "object", "$defs": {"r": {"type": "string", "x-mcp-header": "R"}},
        "properties": {"r": {"$ref": "#/$defs/r"}}});
    assert!(annotations(&via_ref).is_err(), "an annotation behind $ref");
}

fn mirrored() -> Vec<ParamHeader> {
    let s = schema(json!({
        "region": {"type": "string", "x-mcp-header": "Region"},
        "priority": {"type": "integer", "x-mcp-header": "Priority"},
        "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
    }));
    annotations(&s).expect("valid")
}

fn run(args: Value, headers: &[(&str, &str)]) -> Result<(), String> {
    let args: Map<String, Value> = serde_json::from_value(args).expect("object");
    check(&mirrored(), &args, |name| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| (*v).to_owned())
    })
}

#[test]
fn headers_must_mirror_the_arguments() {
    assert_eq!(run(json!({}), &[]), Ok(()));
    assert_eq!(run(json!({"region": null}), &[]), Ok(()), "a null value is not mirrored");
    assert_eq!(run(json!({"region": "us-west1"}), &[("mcp-param-region", "us-west1")]), Ok(()));
    assert_eq!(run(json!({"region": "us-west1"}), &[("Mcp-Param-Region", "  us-west1\t")]), Ok(()), "OWS trimmed");
    assert_eq!(run(json!({"region": "Hello"}), &[("Mcp-Param-Region", "=?base64?SGVsbG8=?=")]), Ok(()));
    assert_eq!(
        run(json!({"region": "Hello, 世界"}), &[("Mcp-Param-Region", "=?base64?SGVsbG8sIOS4lueVjA==?=")]),
        Ok(())
    );
    let literal = "=?base64?SGVsbG8=";
    assert_eq!(run(json!({"region": literal}), &[("Mcp-Param-Region", literal)]), Ok(()), "no suffix: literal");
    assert_eq!(run(json!({"region": "SGVsbG8="}), &[("Mcp-Param-Region", "SGVsbG8=")]), Ok(()), "no prefix: literal");
    assert_eq!(run(json!({"priority": 42}), &[("Mcp-Param-Priority", "42")]), Ok(()));
    assert_eq!(run(json!({"priority": 42}), &[("Mcp-Param-Priority", "42.0")]), Ok(()), "compared as numbers");
    assert_eq!(run(json!({"verbose": false}), &[("Mcp-Param-Verbose", "false")]), Ok(()));
    assert_eq!(run(json!({"priority": -7}), &[("Mcp-Param-Priority", "-7.00")]), Ok(()));
    assert_eq!(run(json!({"priority": 42.0}), &[("Mcp-Param-Priority", "42")]), Ok(()), "a whole JSON number");

    for (args, headers) in [
        (json!({"region": "us-west1"}), vec![]),
        (json!({}), vec![("Mcp-Param-Region", "us-west1")]),
        (json!({"region": "us-west1"}), vec![("Mcp-Param-Region", "eu-west1")]),
        (json!({"region": "Hello"}), vec![("Mcp-Param-Region", "=?base64?SGVsbG8?=")]),
        (json!({"region": "Hello"}), vec![("Mcp-Param-Region", "=?base64?SGVs!!!bG8=?=")]),
        (json!({"region": "line\n"}), vec![("Mcp-Param-Region", "line\n")]),
        (json!({"region": "us"}), vec![("Mcp-Param-Region", "=?base64?/w==?=")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "43")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "forty-two")]),
        (json!({"priority": 9_007_199_254_740_993_u64}), vec![("Mcp-Param-Priority", "9007199254740993")]),
        (json!({"verbose": true}), vec![("Mcp-Param-Verbose", "True")]),
        (json!({"priority": "42"}), vec![("Mcp-Param-Priority", "42")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "42.5")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "42.")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "+42")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "4e1")]),
        (json!({"priority": 42}), vec![("Mcp-Param-Priority", "")]),
    ] {
        assert!(run(args.clone(), &headers).is_err(), "{args} with {headers:?}");
    }
}

/// The documented way to mirror a typed tool's parameter: a schemars attribute on the field.
#[test]
fn a_typed_tool_marks_a_field_with_a_schemars_attribute() {
    #[derive(schemars::JsonSchema, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        #[schemars(extend("x-mcp-header" = "Region"))]
        region: String,
        #[schemars(extend("x-mcp-header" = "Priority"))]
        priority: Option<i32>,
        query: String,
    }
    let schema = schemars::schema_for!(Input).to_value();
    let mut found = annotations(&schema).expect("valid");
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        found.iter().map(|h| (h.name.as_str(), h.kind)).collect::<Vec<_>>(),
        [("Priority", Kind::Integer), ("Region", Kind::String)]
    );
}
