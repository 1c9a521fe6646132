//! Access packages, one per tier.

use serde::Serialize;

use crate::model::Address;

/// Natural key: (catalog, `displayName`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageSpec {
    pub catalog: Address,
    /// The tier group the package grants: finds the package again after a rename.
    pub group: Address,
    pub display_name: String,
    pub description: String,
    pub is_hidden: bool,
}

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{
    Ambiguous, ENTITLEMENT, Ids, Observed, Read, Snapshot, project, single, str_of,
};

const COMPARED: &[&str] = &["displayName", "description", "isHidden"];
pub const KEY: &str = "access-packages";

/// All packages with their catalog and role scopes: one read serves packages and role scopes.
pub fn reads(_spec: &AccessPackageSpec) -> Vec<Read> {
    vec![Read::list(
        KEY,
        Version::V1,
        format!(
            "{ENTITLEMENT}/accessPackages?$expand=catalog,resourceRoleScopes($expand=role,scope)"
        ),
    )]
}

/// Whether a package grants the Member role of `group_id`.
pub(crate) fn grants_group(package: &Value, group_id: &str) -> bool {
    let origin = format!("Member_{group_id}");
    package
        .get("resourceRoleScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            s.get("role")
                .is_some_and(|r| str_of(r, "originId").eq_ignore_ascii_case(&origin))
        })
}

pub(crate) fn observe(
    spec: &AccessPackageSpec,
    snap: &Snapshot,
    ids: &Ids,
) -> Result<Observed, Ambiguous> {
    let Some(cat) = ids.of(&spec.catalog) else {
        return Ok(Observed::Absent);
    };
    let Some(items) = snap.items(KEY) else {
        return Ok(Observed::Unknown);
    };
    let in_catalog = |p: &&Value| in_catalog(p, cat);
    let what = format!("access package \"{}\"", spec.display_name);
    let mut found = single(what.clone(), items.iter().filter(|p| is_key(p, spec, cat)))?;
    // Renamed (e.g. the tier's group got a new display name): the package that grants the
    // tier's group in our catalog is the same package, to be updated, not replaced.
    if found.is_none()
        && let Some(group) = ids.of(&spec.group)
    {
        found = single(
            what,
            items
                .iter()
                .filter(in_catalog)
                .filter(|p| grants_group(p, group)),
        )?;
    }
    Ok(match found {
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        },
    })
}

fn in_catalog(p: &Value, catalog_id: &str) -> bool {
    p.get("catalog")
        .is_some_and(|c| str_of(c, "id").eq_ignore_ascii_case(catalog_id))
}

/// The natural key: this display name in our catalog.
fn is_key(p: &Value, spec: &AccessPackageSpec, catalog_id: &str) -> bool {
    str_of(p, "displayName") == spec.display_name && in_catalog(p, catalog_id)
}

pub fn view(spec: &AccessPackageSpec) -> Value {
    json!({"displayName": spec.display_name, "description": spec.description, "isHidden": spec.is_hidden})
}

pub(crate) fn create_body(spec: &AccessPackageSpec, ids: &Ids) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "isHidden": spec.is_hidden,
        "catalog": {"id": ids.or_later(&spec.catalog)},
    })
}

use crate::graph::write::{WriteError, Writer};

pub async fn create(
    spec: &AccessPackageSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let cat = w.id_of(at, &spec.catalog)?;
    let body = create_body(spec, &w.ids());
    crate::graph::write::create_listed(
        w,
        at,
        &format!("{ENTITLEMENT}/accessPackages"),
        &body,
        &reads(spec)[0].url,
        |p| is_key(p, spec, &cat),
    )
    .await
}

pub async fn update(
    spec: &AccessPackageSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::patch_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/accessPackages/{id}"),
        &view(spec),
    )
    .await
}

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/accessPackages/{id}"),
    )
    .await
}

impl crate::kinds::ResourceKind for AccessPackageSpec {
    const NAME: &'static str = "access-package";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = &["displayName", "description", "isHidden"];
    const PROTECTED: bool = true;

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::V1,
            format!("identityGovernance/entitlementManagement/accessPackages/{id}"),
        ))
    }
    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap, cx.ids)?)
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
