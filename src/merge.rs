//! `mssp merge`: joins the JSON outputs of `--shard 1/N … N/N` (plans with their drift
//! overview, or access reports) into the document one unsharded run would have written, and
//! refuses a set that is not exactly one run's N shards of the same manifests.

use std::collections::BTreeMap;

use crate::model::TenantRole;
use crate::plan::{self, Plan};
use crate::report::{self, Report};
use crate::shard::{self, Shard};

/// What the shards were: all plans or all reports.
#[derive(Debug, Clone)]
pub enum Merged {
    Plan(Box<Plan>),
    Report(Box<Report>),
}

/// Why a set of shard outputs cannot be merged. Every message names the file(s) concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: name the shards' JSON files")]
    NoInput,
    #[error("{file} is not JSON: {reason}")]
    NotJson { file: String, reason: String },
    #[error("{file} is neither an mssp plan nor an mssp report (JSON)")]
    UnknownKind { file: String },
    #[error("{file} is not a valid {kind}: {reason}")]
    Invalid {
        file: String,
        kind: &'static str,
        reason: String,
    },
    #[error("{file} has {kind} format {found}; this mssp merges format {known}")]
    FormatVersion {
        file: String,
        kind: &'static str,
        found: u32,
        known: u32,
    },
    #[error(
        "{file} is the output of an unsharded run (no `shard`); only the outputs of `--shard K/N` are merged"
    )]
    NotShard { file: String },
    #[error(
        "mixed inputs: {first} is a {first_kind}, {file} a {kind}; merge plans and reports separately"
    )]
    Mixed {
        first: String,
        first_kind: &'static str,
        file: String,
        kind: &'static str,
    },
    #[error("{file} is shard {shard}, {first} is shard {first_shard}: shards of one run share N")]
    Total {
        file: String,
        shard: Shard,
        first: String,
        first_shard: Shard,
    },
    #[error("{file} and {first} were made from different manifests (manifestsDigest differs)")]
    Manifests { file: String, first: String },
    #[error("{file} and {first} differ in {what}: they are not shards of one run")]
    Differ {
        file: String,
        first: String,
        what: &'static str,
    },
    #[error("shard {shard} is given twice: {first} and {file}")]
    Duplicate {
        shard: Shard,
        first: String,
        file: String,
    },
    #[error("shard{s} {missing} of {total} missing; a merge of an incomplete set would hide tenants", s = if missing.contains(',') { "s" } else { "" })]
    Missing { missing: String, total: u32 },
    #[error("tenant {tenant} is in {first} and in {file}: the shards overlap")]
    Overlap {
        tenant: String,
        first: String,
        file: String,
    },
    #[error("{file} is shard {shard} but lists the MSSP tenant, which only shard 1 plans")]
    ProviderOutsideShard1 { file: String, shard: Shard },
}

/// One input: its name (for messages) and text.
pub struct Input {
    pub name: String,
    pub text: String,
}

/// Merges shard outputs. The order of `inputs` does not matter.
pub(crate) fn merge(inputs: &[Input]) -> Result<Merged, MergeError> {
    let Some(first) = inputs.first() else {
        return Err(MergeError::NoInput);
    };
    let kinds: Vec<&'static str> = inputs.iter().map(kind_of).collect::<Result<_, _>>()?;
    if let Some((i, k)) = kinds.iter().enumerate().find(|(_, k)| **k != kinds[0]) {
        return Err(MergeError::Mixed {
            first: first.name.clone(),
            first_kind: kinds[0],
            file: inputs[i].name.clone(),
            kind: k,
        });
    }
    if kinds[0] == "plan" {
        merge_plans(inputs).map(|p| Merged::Plan(Box::new(p)))
    } else {
        merge_reports(inputs).map(|r| Merged::Report(Box::new(r)))
    }
}

fn kind_of(input: &Input) -> Result<&'static str, MergeError> {
    let v: serde_json::Value =
        serde_json::from_str(&input.text).map_err(|e| MergeError::NotJson {
            file: input.name.clone(),
            reason: e.to_string(),
        })?;
    if v.get("tenants").is_some_and(serde_json::Value::is_array) {
        Ok("plan")
    } else if v.get("customers").is_some_and(serde_json::Value::is_array) {
        Ok("report")
    } else {
        Err(MergeError::UnknownKind {
            file: input.name.clone(),
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    input: &Input,
    kind: &'static str,
) -> Result<T, MergeError> {
    serde_json::from_str(&input.text).map_err(|e| MergeError::Invalid {
        file: input.name.clone(),
        kind,
        reason: e.to_string(),
    })
}

/// The shard facts every kind is checked on.
struct Part<'a> {
    file: &'a str,
    shard: Option<Shard>,
    digest: Option<&'a str>,
}

/// Checks that `parts` are shards 1..=N of one N, each once, of the same manifests; returns
/// the indices of `parts` in shard order.
fn check_set(parts: &[Part<'_>]) -> Result<Vec<usize>, MergeError> {
    let mut by_index: BTreeMap<u32, usize> = BTreeMap::new();
    let mut first: Option<(usize, Shard)> = None;
    for (i, p) in parts.iter().enumerate() {
        let Some(shard) = p.shard else {
            return Err(MergeError::NotShard {
                file: p.file.to_string(),
            });
        };
        let (f, fs) = *first.get_or_insert((i, shard));
        if shard.total != fs.total {
            return Err(MergeError::Total {
                file: p.file.to_string(),
                shard,
                first: parts[f].file.to_string(),
                first_shard: fs,
            });
        }
        if p.digest.is_none() || p.digest != parts[f].digest {
            return Err(MergeError::Manifests {
                file: p.file.to_string(),
                first: parts[f].file.to_string(),
            });
        }
        if let Some(&seen) = by_index.get(&shard.index) {
            return Err(MergeError::Duplicate {
                shard,
                first: parts[seen].file.to_string(),
                file: p.file.to_string(),
            });
        }
        by_index.insert(shard.index, i);
    }
    let total = first.map_or(0, |(_, s)| s.total);
    let missing: Vec<String> = (1..=total)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            total,
        });
    }
    Ok(by_index.into_values().collect())
}

/// The earliest of the shards' timestamps: when the merged run began reading.
fn earliest<'a>(stamps: impl Iterator<Item = &'a str>) -> String {
    stamps
        .min_by_key(|s| s.parse::<jiff::Timestamp>().ok())
        .unwrap_or_default()
        .to_string()
}

fn merge_plans(inputs: &[Input]) -> Result<Plan, MergeError> {
    let plans: Vec<Plan> = inputs
        .iter()
        .map(|i| parse::<Plan>(i, "plan"))
        .collect::<Result<_, _>>()?;
    for (p, i) in plans.iter().zip(inputs) {
        if p.format_version != plan::FORMAT_VERSION {
            return Err(MergeError::FormatVersion {
                file: i.name.clone(),
                kind: "plan",
                found: p.format_version,
                known: plan::FORMAT_VERSION,
            });
        }
    }
    let parts: Vec<Part<'_>> = plans
        .iter()
        .zip(inputs)
        .map(|(p, i)| Part {
            file: &i.name,
            shard: p.shard,
            digest: Some(p.manifests_digest.as_str()),
        })
        .collect();
    let order = check_set(&parts)?;
    let head = &plans[order[0]];
    let head_file = &inputs[order[0]].name;
    let mut provider = Vec::new();
    let mut customers = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for &i in &order {
        let p = &plans[i];
        let file = inputs[i].name.as_str();
        for (what, differs) in [
            ("toolVersion", p.tool_version != head.tool_version),
            ("prune", p.prune != head.prune),
            ("manifestPaths", p.manifest_paths != head.manifest_paths),
            ("customers", p.customers != head.customers),
        ] {
            if differs {
                return Err(MergeError::Differ {
                    file: file.to_string(),
                    first: head_file.clone(),
                    what,
                });
            }
        }
        for t in &p.tenants {
            if let Some(first) = seen.insert(t.name.clone(), file) {
                return Err(MergeError::Overlap {
                    tenant: t.name.clone(),
                    first: first.to_string(),
                    file: file.to_string(),
                });
            }
            match (t.role, p.shard) {
                (TenantRole::Provider, Some(s)) if !s.owns_provider() => {
                    return Err(MergeError::ProviderOutsideShard1 {
                        file: file.to_string(),
                        shard: s,
                    });
                }
                (TenantRole::Provider, _) => provider.push(t.clone()),
                (TenantRole::Customer, _) => customers.push(t.clone()),
            }
        }
    }
    // The order an unsharded plan has: the MSSP tenant first, then customers by name.
    customers.sort_by(|a, b| a.name.cmp(&b.name));
    provider.extend(customers);
    let mut merged = Plan {
        format_version: plan::FORMAT_VERSION,
        tool_version: head.tool_version.clone(),
        created_at: earliest(plans.iter().map(|p| p.created_at.as_str())),
        manifests_digest: head.manifests_digest.clone(),
        manifest_paths: head.manifest_paths.clone(),
        prune: head.prune,
        tenants: provider,
        summary: plan::Counts::default(),
        drift: vec![],
        shard: None,
        customers: head.customers.clone(),
    };
    shard::retotal(&mut merged);
    Ok(merged)
}

fn merge_reports(inputs: &[Input]) -> Result<Report, MergeError> {
    let reports: Vec<Report> = inputs
        .iter()
        .map(|i| parse::<Report>(i, "report"))
        .collect::<Result<_, _>>()?;
    for (r, i) in reports.iter().zip(inputs) {
        if r.format_version != report::FORMAT_VERSION {
            return Err(MergeError::FormatVersion {
                file: i.name.clone(),
                kind: "report",
                found: r.format_version,
                known: report::FORMAT_VERSION,
            });
        }
    }
    let parts: Vec<Part<'_>> = reports
        .iter()
        .zip(inputs)
        .map(|(r, i)| Part {
            file: &i.name,
            shard: r.shard,
            digest: r.manifests_digest.as_deref(),
        })
        .collect();
    let order = check_set(&parts)?;
    let head = &reports[order[0]];
    let head_file = &inputs[order[0]].name;
    let mut customers = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for &i in &order {
        let r = &reports[i];
        let file = inputs[i].name.as_str();
        if r.provider != head.provider {
            return Err(MergeError::Differ {
                file: file.to_string(),
                first: head_file.clone(),
                what: "provider",
            });
        }
        for c in &r.customers {
            if let Some(first) = seen.insert(c.name.clone(), file) {
                return Err(MergeError::Overlap {
                    tenant: c.name.clone(),
                    first: first.to_string(),
                    file: file.to_string(),
                });
            }
            customers.push(c.clone());
        }
    }
    customers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Report {
        format_version: report::FORMAT_VERSION,
        generated_at: earliest(reports.iter().map(|r| r.generated_at.as_str())),
        provider: head.provider.clone(),
        customers,
        shard: None,
        manifests_digest: None,
    })
}
