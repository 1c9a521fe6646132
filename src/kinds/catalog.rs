//! The access-package catalog (entitlement management).

use serde::Serialize;

/// Natural key: `displayName`, owned by the tool; two matches are an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSpec {
    pub display_name: String,
    pub description: String,
    pub is_externally_visible: bool,
    pub state: String,
    /// The id of a hand-made object under another name to take over (`spec.adopt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{
    ENTITLEMENT, Observed, Read, Snapshot, enc, odata_str, project, single, str_of,
};

const COMPARED: &[&str] = &["description", "isExternallyVisible", "state"];

fn key(spec: &CatalogSpec) -> String {
    format!("catalog:{}", spec.display_name)
}

pub fn reads(spec: &CatalogSpec) -> Vec<Read> {
    let filter = format!("displayName eq {}", odata_str(&spec.display_name));
    let mut out = vec![Read::list(
        key(spec),
        Version::V1,
        format!("{ENTITLEMENT}/catalogs?$filter={}", enc(&filter)),
    )];
    if let Some(id) = &spec.adopt_id {
        out.push(Read::keyed(
            format!("catalog-id:{id}"),
            Version::V1,
            format!("{ENTITLEMENT}/catalogs/{id}"),
        ));
    }
    out
}

pub(crate) fn observe(
    spec: &CatalogSpec,
    snap: &Snapshot,
) -> Result<Observed, crate::model::ObserveError> {
    let Some(items) = snap.items(&key(spec)) else {
        return Ok(Observed::Unknown);
    };
    let by_name = items
        .iter()
        .filter(|v| str_of(v, "displayName") == spec.display_name);
    // A hand-made catalog under another name, pinned by `spec.adopt`.
    let what = format!("catalog \"{}\"", spec.display_name);
    let found = single(what, by_name)?;
    let pinned = match &spec.adopt_id {
        Some(id) if found.is_none() => match snap.object(&format!("catalog-id:{id}")) {
            None => return Ok(Observed::Unknown),
            Some(None) => return Err(crate::model::adopted_missing("catalog", id)),
            Some(Some(v)) => Some(v),
        },
        _ => None,
    };
    Ok(match found.or(pinned) {
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        },
    })
}

pub fn view(spec: &CatalogSpec) -> Value {
    json!({
        "description": spec.description,
        "isExternallyVisible": spec.is_externally_visible,
        "state": spec.state,
    })
}

pub(crate) fn create_body(spec: &CatalogSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "isExternallyVisible": spec.is_externally_visible,
        "state": spec.state,
    })
}

use crate::graph::write::{WriteError, Writer};

pub async fn create(
    spec: &CatalogSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::create_listed(
        w,
        at,
        &format!("{ENTITLEMENT}/catalogs"),
        &create_body(spec),
        &reads(spec)[0].url,
        |v| str_of(v, "displayName") == spec.display_name,
    )
    .await
}

pub async fn update(
    spec: &CatalogSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::patch_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/catalogs/{id}"),
        &view(spec),
    )
    .await
}

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::V1, &format!("{ENTITLEMENT}/catalogs/{id}"))
        .await
}

impl crate::kinds::ResourceKind for CatalogSpec {
    const NAME: &'static str = "catalog";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = &["description", "isExternallyVisible", "state"];
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::V1,
            format!("identityGovernance/entitlementManagement/catalogs/{id}"),
        ))
    }
    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        observe(self, cx.snap)
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        create(self, at, w).await
    }
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        update(self, id, at, w).await
    }
    async fn delete(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(id, at, w).await
    }
}
