//! Shared vocabulary of the per-kind Graph mappings: the reads a kind asks for, the snapshot
//! of answers, the ids resolved so far, and what was observed for one desired resource.

use std::collections::HashMap;

use serde_json::Value;

use super::Address;
use crate::graph::Version;

/// Marker for a value Graph assigns when an object that does not exist yet is created.
pub(crate) const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// One GET a kind needs. Reads with the same `key` are sent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub key: String,
    pub version: Version,
    /// Relative URL without the version.
    pub url: String,
    /// A collection: follow `@odata.nextLink` and keep the items.
    pub list: bool,
    /// A keyed address (`groups(uniqueName='…')`): 404 means absent, not a failure.
    pub keyed: bool,
}

impl Read {
    pub(crate) fn list(key: impl Into<String>, version: Version, url: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            version,
            url: url.into(),
            list: true,
            keyed: false,
        }
    }

    pub(crate) fn keyed(key: impl Into<String>, version: Version, url: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            version,
            url: url.into(),
            list: false,
            keyed: true,
        }
    }
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A single object.
    Object(Value),
    /// A keyed address that does not exist.
    Absent,
    /// All items of a collection.
    Items(Vec<Value>),
}

/// Everything read from one tenant, by read key.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub answers: HashMap<String, Answer>,
}

impl Snapshot {
    pub(crate) fn items(&self, key: &str) -> Option<&[Value]> {
        match self.answers.get(key) {
            Some(Answer::Items(v)) => Some(v),
            _ => None,
        }
    }

    /// `Some(None)` when the keyed object is absent; `None` when it was not read.
    pub(crate) fn object(&self, key: &str) -> Option<Option<&Value>> {
        match self.answers.get(key) {
            Some(Answer::Object(v)) => Some(Some(v)),
            Some(Answer::Absent) => Some(None),
            _ => None,
        }
    }
}

/// Ids Graph assigned, as far as they are known, plus run-wide facts.
#[derive(Debug, Default, Clone)]
pub struct Ids {
    pub objects: HashMap<Address, String>,
    /// The MSSP's SIEM application id (`appId`), read from the provider tenant.
    pub siem_app_id: Option<String>,
}

impl Ids {
    pub(crate) fn of(&self, a: &Address) -> Option<&str> {
        self.objects.get(a).map(String::as_str)
    }

    /// The id, or the "known after apply" marker for objects still to be created.
    pub(crate) fn or_later(&self, a: &Address) -> String {
        self.of(a)
            .map_or_else(|| KNOWN_AFTER_APPLY.to_string(), str::to_string)
    }
}

/// What exists for one desired resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Absent,
    Present {
        id: String,
        /// The compared fields, normalised like the desired view.
        view: Value,
    },
    /// The read it depends on was not made yet (an id from an earlier phase is missing).
    Unknown,
}

/// A read that cannot be trusted: the natural key matched several objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} matches {} objects: {}", candidates.len(), candidates.join("; "))]
pub struct Ambiguous {
    pub what: String,
    pub candidates: Vec<String>,
}

/// Picks the one item matching, or reports ambiguity with candidate ids and names.
pub(crate) fn single<'a>(
    what: impl Into<String>,
    items: impl IntoIterator<Item = &'a Value>,
) -> Result<Option<&'a Value>, Ambiguous> {
    let found: Vec<&Value> = items.into_iter().collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Ambiguous {
            what: what.into(),
            candidates: many
                .iter()
                .map(|v| {
                    // Server text, shown in the blocked reason.
                    crate::graph::sanitize::clean_line(&format!(
                        "{} ({})",
                        str_of(v, "id"),
                        v.get("displayName").and_then(Value::as_str).unwrap_or("")
                    ))
                })
                .collect(),
        }),
    }
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Quotes a value for an OData string literal (single quotes doubled).
pub(crate) fn odata_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Percent-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Keeps only `fields` of an object (missing ones become null), in that order.
pub(crate) fn project(v: &Value, fields: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for f in fields {
        out.insert((*f).to_string(), v.get(*f).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

pub(crate) const ENTITLEMENT: &str = "/identityGovernance/entitlementManagement";
