//! A group added to the catalog (`resourceRequests` adminAdd / adminRemove).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::write::{WriteError, Writer, graph_err, outcome_unknown};
use crate::graph::{GraphError, Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError, Spec};

/// Natural key: (catalog, group object id).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogResourceSpec {
    pub catalog: Address,
    pub group: Address,
}

fn key(catalog_id: &str) -> String {
    format!("catalog-resources:{catalog_id}")
}

/// The catalog's resources with their roles and scopes (what role scopes are built from).
fn resources_url(catalog_id: &str) -> String {
    format!("{ENTITLEMENT}/catalogs/{catalog_id}/resources?$expand=roles,scopes")
}

/// The group's resource among a catalog's resources: the natural key.
fn group_in<'a>(items: &'a [Value], group_id: &str) -> Option<&'a Value> {
    items.iter().find(|r| {
        str_of(r, "originId").eq_ignore_ascii_case(group_id)
            && str_of(r, "originSystem") == "AadGroup"
    })
}

/// Finds the group's resource in the catalog, with its Member role and root scope.
pub(crate) async fn lookup(
    w: &Writer<'_>,
    at: &Address,
    catalog_id: &str,
    group_id: &str,
) -> Result<Option<Value>, GraphError> {
    let items = w
        .list(at, Service::Graph(Version::V1), &resources_url(catalog_id))
        .await?;
    Ok(group_in(&items, group_id).cloned())
}

/// Where a catalog resource found while writing is kept for the role scopes that need its
/// role and scope ids (`Writer::resolved`).
pub(crate) fn resolved_key(catalog_id: &str, group_id: &str) -> String {
    format!(
        "catalog-resource:{}:{}",
        catalog_id.to_ascii_lowercase(),
        group_id.to_ascii_lowercase()
    )
}

impl CatalogResourceSpec {
    /// The catalog resource of the group, if the plan read the group in the catalog.
    pub(crate) fn find<'a>(&self, snap: &'a Snapshot, ids: &Ids) -> Option<&'a Value> {
        let cat = ids.of(&self.catalog)?;
        let group = ids.of(&self.group)?;
        group_in(snap.items(&key(cat))?, group)
    }

    /// A `resourceRequests` body adding (`adminAdd`) or removing (`adminRemove`) the group.
    fn request(request_type: &str, resource: Value, catalog_id: &str) -> Value {
        json!({"requestType": request_type, "resource": resource, "catalog": {"id": catalog_id}})
    }

    /// Sends a resource request (the only way Graph adds or removes a catalog's resources).
    async fn send_request(w: &Writer<'_>, at: &Address, body: &Value) -> Result<(), GraphError> {
        w.call(
            at,
            Service::Graph(Version::V1),
            reqwest::Method::POST,
            &format!("{ENTITLEMENT}/resourceRequests"),
            Some(body),
            &[],
        )
        .await
        .map(drop)
    }
}

impl ResourceKind for CatalogResourceSpec {
    const NAME: &'static str = "catalog-resource";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = &[
        perms::EM_WRITE[0],
        // Adding a group to a catalog with application permissions also needs group rights.
        perms::GROUP_WRITE[0],
    ];

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        let Some(cat) = ids.of(&self.catalog) else {
            return vec![];
        };
        vec![Read::list(key(cat), Version::V1, resources_url(cat))]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        // A catalog or group that does not exist yet has no resources in it.
        let (Some(cat), Some(_)) = (cx.ids.of(&self.catalog), cx.ids.of(&self.group)) else {
            return Ok(Observed::Absent);
        };
        if cx.snap.items(&key(cat)).is_none() {
            return Ok(Observed::Unknown);
        }
        Ok(present(self.find(cx.snap, cx.ids), |_| json!({})))
    }

    /// Adding a group to a catalog is asynchronous: the request is accepted, the resource
    /// appears later. Wait for it, so role scopes can refer to it.
    ///
    /// The plan read the catalog's resources (or the catalog is new), so the request is sent
    /// without looking first; only an answer saying the group is already there (a run whose
    /// answer was lost, a hand-made addition) leads to the lookup. The resource found, with its
    /// roles and scopes, is kept for the role scopes of the same run.
    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let cat = w.id_of(at, &self.catalog)?;
        let group = w.id_of(at, &self.group)?;
        // The resource request names the group by its display name.
        let name = w
            .tenant
            .resources
            .iter()
            .find_map(|x| match &x.spec {
                Spec::Group(g) if x.address == self.group => Some(g.display_name.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let resource = json!({"originId": group, "originSystem": "AadGroup", "displayName": name});
        let body = Self::request("adminAdd", resource, &cat);
        match Self::send_request(w, at, &body).await {
            Ok(()) => {}
            // Lost answer: the wait below finds out whether the request went through.
            Err(e) if outcome_unknown(&e) => {}
            // Refused: perhaps because the group is in the catalog already.
            Err(e) if e.status() == Some(400) || e.status() == Some(409) => {
                match lookup(w, at, &cat, &group).await {
                    Ok(Some(r)) => {
                        w.set_id(at, str_of(&r, "id"));
                        w.resolved.remember(&resolved_key(&cat, &group), r);
                        return Ok(());
                    }
                    _ => return Err(graph_err(at)(e)),
                }
            }
            Err(e) => return Err(graph_err(at)(e)),
        }
        let id = w
            .await_visible(at, "the group to appear in the catalog", || async {
                Ok(lookup(w, at, &cat, &group).await?.map(|r| {
                    let id = str_of(&r, "id").to_string();
                    w.resolved.remember(&resolved_key(&cat, &group), r);
                    id
                }))
            })
            .await?;
        w.set_id(at, &id);
        Ok(())
    }

    async fn delete(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let ids = w.ids();
        let (Some(cat), Some(group)) = (ids.of(&self.catalog), ids.of(&self.group)) else {
            return Ok(());
        };
        let resource = json!({"originId": group, "originSystem": "AadGroup"});
        let body = Self::request("adminRemove", resource, cat);
        Self::send_request(w, at, &body)
            .await
            .map_err(graph_err(at))
    }
}
