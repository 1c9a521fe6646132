//! Every unknown field of a document at once, found by walking its YAML against the JSON Schema.
//!
//! The strict parse stops at the first unknown field (serde's `deny_unknown_fields`), so three
//! typos in one document took three runs. When the strict parse fails, this second pass reads the
//! document as a located tree and checks each mapping key against the schema generated from the
//! same types, so it lists every field the parser would reject, each with its line and column.
//! Where the schema cannot say which shape applies (several object alternatives), the walk stops
//! there rather than guess: it may miss a field, never invent one.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::Loc;
use super::load::AnyString;

/// A YAML value with the position of every mapping key.
pub(super) enum Node {
    Map(Vec<(Loc<AnyString>, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Loc<AnyString>>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Node::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
}

/// A key the schema does not allow where it was written, and the keys that are allowed there.
pub(super) struct Unknown {
    pub field: Loc<String>,
    pub expected: Vec<String>,
}

/// Every key of `node` that `schema` (a generated JSON Schema, with `$defs`) rejects.
pub(super) fn unknown_fields(node: &Node, schema: &Value) -> Vec<Unknown> {
    let mut out = Vec::new();
    walk(node, schema, schema, 0, &mut out);
    out
}

/// Deeper than any manifest; a guard against a schema that refers to itself.
const MAX_DEPTH: usize = 64;

fn walk(node: &Node, schema: &Value, root: &Value, depth: usize, out: &mut Vec<Unknown>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(schema) = resolve(schema, root, depth) else {
        return;
    };
    match node {
        Node::Scalar => {}
        Node::Seq(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    walk(item, item_schema, root, depth + 1, out);
                }
            }
        }
        Node::Map(entries) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                // A map of free keys (`labels`): only its values have a schema.
                if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                    for (_, value) in entries {
                        walk(value, extra, root, depth + 1, out);
                    }
                }
                return;
            };
            let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
            for (key, value) in entries {
                let Some(name) = key.value.0.as_deref() else {
                    continue;
                };
                match props.get(name) {
                    Some(s) => walk(value, s, root, depth + 1, out),
                    None if closed => out.push(Unknown {
                        field: Loc {
                            value: name.to_string(),
                            pos: key.pos,
                        },
                        expected: props.keys().cloned().collect(),
                    }),
                    None => {}
                }
            }
        }
    }
}

/// The schema that applies: `$ref`s followed, and of `anyOf`/`oneOf` the one alternative that
/// is not `null` and not a plain scalar. `None` when that is ambiguous.
fn resolve<'a>(schema: &'a Value, root: &'a Value, depth: usize) -> Option<&'a Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/")?;
        return resolve(root.get("$defs")?.get(name)?, root, depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            let structured: Vec<&Value> = alternatives
                .iter()
                .filter_map(|a| resolve(a, root, depth + 1))
                .filter(|a| a.get("properties").is_some() || a.get("items").is_some())
                .collect();
            return match structured.as_slice() {
                [one] => Some(one),
                _ => None,
            };
        }
    }
    Some(schema)
}
