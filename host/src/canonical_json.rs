//! Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace, serde_json's escaping
//! and number formatting. Equal values have equal bytes whoever writes them: a policy bundle's
//! manifest is signed in this form, and tool approvals hash tools in it.

use serde_json::Value;

/// The canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    to_canonical_string(value).into_bytes()
}

/// The canonical text of `value`.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // Display of a JSON value is compact and infallible, with serde_json's escaping.
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*key) {
                    write_value(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_table() {
        let cases: Vec<(Value, &str)> = vec![
            (json!(null), "null"),
            (
                json!({"b": 1, "a": [true, {"d": "x", "c": 2.5}]}),
                r#"{"a":[true,{"c":2.5,"d":"x"}],"b":1}"#,
            ),
            (
                json!({"z\"q": "line\nbreak", "é": "é"}),
                r#"{"z\"q":"line\nbreak","é":"é"}"#,
            ),
            (json!([]), "[]"),
            (json!({}), "{}"),
            (json!(-7), "-7"),
        ];
        for (value, want) in cases {
            assert_eq!(String::from_utf8(to_canonical_bytes(&value)).unwrap(), want);
        }
    }

    #[test]
    fn reparsing_canonical_bytes_is_a_fixed_point() {
        let v = json!({"settings": {"max": 1.0e-3, "list": [3, 1, 2]}, "name": "n"});
        let once = to_canonical_bytes(&v);
        let parsed: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(to_canonical_bytes(&parsed), once);
    }
}
