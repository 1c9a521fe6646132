//! A group added to the catalog (`resourceRequests` adminAdd / adminRemove).

use serde::Serialize;

use crate::model::Address;

/// Natural key: (catalog, group object id).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogResourceSpec {
    pub catalog: Address,
    pub group: Address,
}

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};

fn key(catalog_id: &str) -> String {
    format!("catalog-resources:{catalog_id}")
}

pub fn reads(spec: &CatalogResourceSpec, ids: &Ids) -> Vec<Read> {
    let Some(cat) = ids.of(&spec.catalog) else {
        return vec![];
    };
    vec![Read::list(
        key(cat),
        Version::V1,
        format!("{ENTITLEMENT}/catalogs/{cat}/resources?$expand=roles,scopes"),
    )]
}

/// The catalog resource of the group, if the group is in the catalog.
pub fn find<'a>(spec: &CatalogResourceSpec, snap: &'a Snapshot, ids: &Ids) -> Option<&'a Value> {
    let cat = ids.of(&spec.catalog)?;
    let group = ids.of(&spec.group)?;
    snap.items(&key(cat))?.iter().find(|r| {
        str_of(r, "originId").eq_ignore_ascii_case(group) && str_of(r, "originSystem") == "AadGroup"
    })
}

pub fn observe(spec: &CatalogResourceSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    // A catalog or group that does not exist yet has no resources in it.
    let (Some(cat), Some(_)) = (ids.of(&spec.catalog), ids.of(&spec.group)) else {
        return Observed::Absent;
    };
    if snap.items(&key(cat)).is_none() {
        return Observed::Unknown;
    }
    match find(spec, snap, ids) {
        Some(r) => Observed::Present {
            id: str_of(r, "id").to_string(),
            view: json!({}),
        },
        None => Observed::Absent,
    }
}

pub fn view(_spec: &CatalogResourceSpec) -> Value {
    json!({})
}

/// `POST resourceRequests` adding the group to the catalog.
pub fn add_request(spec: &CatalogResourceSpec, ids: &Ids, group_name: &str) -> Value {
    json!({
        "requestType": "adminAdd",
        "resource": {
            "originId": ids.or_later(&spec.group),
            "originSystem": "AadGroup",
            "displayName": group_name,
        },
        "catalog": {"id": ids.or_later(&spec.catalog)},
    })
}

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err, outcome_unknown};

/// Finds the group's resource in the catalog, with its Member role and root scope.
pub async fn lookup(
    w: &Writer<'_>,
    at: &crate::model::Address,
    catalog_id: &str,
    group_id: &str,
) -> Result<Option<Value>, crate::graph::GraphError> {
    let items = w
        .list(
            at,
            Service::Graph(Version::V1),
            &format!("{ENTITLEMENT}/catalogs/{catalog_id}/resources?$expand=roles,scopes"),
        )
        .await?;
    let _ = at;
    Ok(items.into_iter().find(|r| {
        str_of(r, "originId").eq_ignore_ascii_case(group_id)
            && str_of(r, "originSystem") == "AadGroup"
    }))
}

/// Adding a group to a catalog is asynchronous: the request is accepted, the resource
/// appears later. Wait for it, so role scopes can refer to it.
pub async fn create(
    spec: &CatalogResourceSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
    group_name: &str,
) -> Result<(), WriteError> {
    let cat = w.id_of(at, &spec.catalog)?;
    let group = w.id_of(at, &spec.group)?;
    if let Ok(Some(r)) = lookup(w, at, &cat, &group).await {
        w.set_id(at, str_of(&r, "id"));
        return Ok(());
    }
    let body = add_request(spec, &w.ids(), group_name);
    match w
        .call(
            at,
            Service::Graph(Version::V1),
            reqwest::Method::POST,
            &format!("{ENTITLEMENT}/resourceRequests"),
            Some(&body),
            &[],
        )
        .await
    {
        Ok(_) => {}
        // Lost answer: the wait below finds out whether the request went through.
        Err(e) if outcome_unknown(&e) => {}
        Err(e) => return Err(graph_err(at)(e)),
    }
    let id = w
        .await_visible(at, "the group to appear in the catalog", || async {
            Ok(lookup(w, at, &cat, &group)
                .await?
                .map(|r| str_of(&r, "id").to_string()))
        })
        .await?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn delete(
    spec: &CatalogResourceSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let ids = w.ids();
    let (Some(cat), Some(group)) = (ids.of(&spec.catalog), ids.of(&spec.group)) else {
        return Ok(());
    };
    let body = json!({
        "requestType": "adminRemove",
        "resource": {"originId": group, "originSystem": "AadGroup"},
        "catalog": {"id": cat},
    });
    w.call(
        at,
        Service::Graph(Version::V1),
        reqwest::Method::POST,
        &format!("{ENTITLEMENT}/resourceRequests"),
        Some(&body),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

impl crate::kinds::ResourceKind for CatalogResourceSpec {
    const NAME: &'static str = "catalog-resource";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = &[
        crate::kinds::perms::EM_WRITE[0],
        // Adding a group to a catalog with application permissions also needs group rights.
        crate::kinds::perms::GROUP_WRITE[0],
    ];

    fn reads(&self, ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self, ids)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap, cx.ids))
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        // The resource request names the group by its display name.
        let name = w
            .tenant
            .resources
            .iter()
            .find_map(|x| match &x.spec {
                crate::model::Spec::Group(g) if x.address == self.group => {
                    Some(g.display_name.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        create(self, at, w, &name).await
    }
    async fn delete(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(self, at, w).await
    }
}
