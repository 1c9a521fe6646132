//! Reading a tenant: the reads every desired (and prunable) resource needs, sent as JSON
//! batches per Graph version in as few rounds as the ids allow (most tenants: one v1.0 batch,
//! one follow-up batch for reads that need ids, one beta batch for Defender roles).
//!
//! Any failed read fails the whole tenant: a failed read is never taken for "absent".

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;

use crate::graph::{BatchRequest, GraphError, GraphErrorKind, Service, TenantGraph, Version};
use crate::kinds::ObserveContext;
use crate::model::observe::{Answer, Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, DesiredTenant, ObserveError, Spec};

/// Why a tenant could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{address}: {source}")]
    Observe {
        address: Address,
        source: ObserveError,
    },
    /// Objects created moments ago are still missing from lists (see `plan::recent`).
    #[error("{0}")]
    NotVisibleYet(String),
    /// The tenant was not among those read (an apply of a plan that names it anyway).
    #[error("not read")]
    NotRead,
}

/// What was read from a tenant, and what each resource of `universe` turned out to be.
#[derive(Debug, Default)]
pub struct TenantState {
    pub snapshot: Snapshot,
    pub ids: Ids,
    pub observed: BTreeMap<Address, Observed>,
    /// Owned objects found in what was read that no manifest names any more (a detection rule
    /// removed from the library): pruning candidates besides the universe's, observed above.
    pub leftovers: Vec<crate::model::DesiredResource>,
}

const MAX_ROUNDS: usize = 4;

/// An app role's value (`SecurityAlert.Read.All`) from the Graph or Defender service
/// principal a read found, by the resource's object id and the role's id.
pub fn role_value<'a>(snap: &'a Snapshot, resource_id: &str, role_id: &str) -> Option<&'a str> {
    [crate::expand::GRAPH_APP_ID, crate::expand::DEFENDER_APP_ID]
        .iter()
        .filter_map(|app| {
            snap.object(&crate::kinds::service_principal::key(app))
                .flatten()
        })
        .find(|sp| str_of(sp, "id") == resource_id)?
        .get("appRoles")?
        .as_array()?
        .iter()
        .find(|r| str_of(r, "id") == role_id)
        .and_then(|r| r.get("value"))
        .and_then(Value::as_str)
}

/// Reads everything `universe` needs. `ids` may carry run-wide facts (the SIEM app id).
pub(crate) async fn read_tenant(
    tg: &TenantGraph,
    universe: &DesiredTenant,
    mut ids: Ids,
    base_dir: &Path,
) -> Result<TenantState, ReadError> {
    let mut snap = Snapshot::default();
    let mut observed = BTreeMap::new();
    for _ in 0..MAX_ROUNDS {
        let mut seen = HashSet::new();
        let pending: Vec<Read> = universe
            .resources
            .iter()
            .flat_map(|r| r.spec.reads(&ids))
            .filter(|r| !snap.answers.contains_key(&r.key) && seen.insert(r.key.clone()))
            .collect();
        if pending.is_empty() {
            break;
        }
        for version in [Version::V1, Version::Beta] {
            let reads: Vec<&Read> = pending.iter().filter(|r| r.version == version).collect();
            if !reads.is_empty() {
                execute(tg, version, &reads, &mut snap).await?;
            }
        }
        observed = observe_all(universe, &snap, &mut ids, base_dir)?;
    }
    if observed.is_empty() {
        observed = observe_all(universe, &snap, &mut ids, base_dir)?;
    }
    let leftovers = crate::kinds::registry::leftovers(universe, &snap);
    for r in &leftovers {
        let cx = ObserveContext {
            tenant: universe,
            snap: &snap,
            ids: &ids,
            base_dir,
        };
        let o = r.spec.observe(&cx).map_err(|source| ReadError::Observe {
            address: r.address.clone(),
            source,
        })?;
        observed.insert(r.address.clone(), o);
    }
    Ok(TenantState {
        snapshot: snap,
        ids,
        observed,
        leftovers,
    })
}

/// Observes resources in expansion order, so the ids of dependencies are known before the
/// resources that refer to them.
fn observe_all(
    universe: &DesiredTenant,
    snap: &Snapshot,
    ids: &mut Ids,
    base_dir: &Path,
) -> Result<BTreeMap<Address, Observed>, ReadError> {
    let mut out = BTreeMap::new();
    for r in &universe.resources {
        let cx = ObserveContext {
            tenant: universe,
            snap,
            ids,
            base_dir,
        };
        let o = r.spec.observe(&cx).map_err(|source| ReadError::Observe {
            address: r.address.clone(),
            source,
        })?;
        if let Observed::Present { id, .. } = &o {
            ids.objects.insert(r.address.clone(), id.clone());
            if let Spec::Application(app) = &r.spec
                && let Some(obj) = crate::kinds::application::object(app, snap)
            {
                ids.siem_app_id = Some(str_of(obj, "appId").to_string());
            }
        }
        out.insert(r.address.clone(), o);
    }
    Ok(out)
}

async fn execute(
    tg: &TenantGraph,
    version: Version,
    reads: &[&Read],
    snap: &mut Snapshot,
) -> Result<(), GraphError> {
    let requests: Vec<BatchRequest> = reads
        .iter()
        .enumerate()
        .map(|(i, r)| BatchRequest::get(i.to_string(), r.url.clone()))
        .collect();
    let answers = tg.batch(version, requests).await?;
    for (read, answer) in reads.iter().zip(answers) {
        let path = format!("/{}{}", version.as_str(), read.url);
        if read.keyed && answer.status == 404 {
            snap.answers.insert(read.key.clone(), Answer::Absent);
            continue;
        }
        let body = answer.into_result(tg, &path)?;
        // A body that is not the documented shape is a failed read, never "nothing there".
        let value = if read.list {
            Answer::Items(
                tg.collect_pages_at(Service::Graph(version), &path, body)
                    .await?,
            )
        } else if body.is_object() {
            Answer::Object(body)
        } else {
            return Err(GraphError {
                tenant: tg.tenant.clone(),
                method: "GET".into(),
                path,
                kind: GraphErrorKind::Decode(format!(
                    "expected a JSON object, got {}",
                    if body.is_null() {
                        "nothing"
                    } else {
                        "another JSON value"
                    }
                )),
            });
        };
        snap.answers.insert(read.key.clone(), value);
    }
    Ok(())
}

/// A stable fingerprint of what was observed for one address.
pub(crate) fn fingerprint(o: &Observed) -> String {
    use sha2::{Digest, Sha256};
    match o {
        Observed::Absent => "absent".into(),
        Observed::Unknown => "unknown".into(),
        Observed::Present { id, view } => {
            let canonical = canonical_json(view);
            let mut h = Sha256::new();
            h.update(id.as_bytes());
            h.update([0]);
            h.update(canonical.as_bytes());
            format!("sha256:{}", hex::encode(h.finalize()))
        }
    }
}

/// JSON with object keys sorted, so equal values hash equally whatever their order.
pub(crate) fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap_or_default(),
                        canonical_json(&m[*k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
