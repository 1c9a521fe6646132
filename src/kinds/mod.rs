//! Resource kinds: what each kind of object the tool manages is and does, one file per kind,
//! each implementing [`ResourceKind`]; `registry.rs` lists them and is the only place that
//! matches on the kind.
//!
//! # How to add a kind
//!
//! 1. A new file `kinds/my_kind.rs` with the kind's spec type (`#[derive(Debug, Clone,
//!    PartialEq, Serialize)]`, the desired state expansion produces) and
//!    `impl ResourceKind for MySpec`. Required: [`ResourceKind::NAME`] (its name in
//!    addresses), [`ResourceKind::READ_PERMISSIONS`] and [`ResourceKind::WRITE_PERMISSIONS`]
//!    (the sandbox grants exactly these, so the tests prove them sufficient),
//!    [`ResourceKind::observe`] and [`ResourceKind::create`]. Everything else has a default
//!    that fits a kind with no compared fields and nothing to update or delete:
//!    `FIELDS`, `IMMUTABLE`, `PROTECTED`, `ADOPTABLE`, `read_by_id`, `reads`, `view`,
//!    `prunable`, `leftovers`, `adoption_hint`, `update`, `delete`.
//! 2. One line in the `kinds!` list of `registry.rs` (`MyKind => my_kind::MySpec,`), at the
//!    place in the plan order where it belongs, and `pub mod my_kind;` below.
//! 3. Its expansion from the manifests in `expand.rs`.
//!
//! Writes go through `graph::write`: the [`Writer`] context, and for a kind whose objects
//! live in one collection, a `Collection` constant (its path: create with recovery of a lost
//! answer, patch, put, delete, read by id), so the kind's file says only its bodies and its
//! natural key; `upsert_keyed` for kinds Graph upserts by an alternate key. Reads are declared
//! as [`Read`]s and observed from the [`Snapshot`] (`keyed_or_adopted` / `named_or_adopted`
//! find the one object that is the resource, `present` makes the observation). The trait's
//! methods hold the kind's code; a kind never imports `apply` or `plan`.

pub mod access_package;
pub mod app_role_grant;
pub mod application;
pub mod assignment_policy;
pub mod catalog;
pub mod catalog_resource;
pub mod connected_organization;
pub mod cross_tenant_partner;
pub mod defender_role;
pub mod defender_role_assignment;
pub mod detection_rule;
pub mod federated_credential;
pub mod gdap_access_assignment;
pub mod gdap_relationship;
pub mod gdap_termination;
pub mod group;
pub mod key_credential;
pub mod manual;
pub mod password_credential;
pub mod registry;
pub mod role_scope;
pub mod service_principal;

use std::future::Future;
use std::path::Path;

use serde_json::Value;

use crate::graph::Version;
use crate::graph::write::{WriteError, Writer};
pub use crate::model::observe as graph_map;
pub use crate::model::{
    Address, DesiredResource, DesiredTenant, Ids, Kind, ObserveError, Observed, Read, Snapshot,
    Spec, TenantRole,
};

/// Application permissions, as a list of requirements that must all be met; each inner list
/// is "any of", least privileged first (Microsoft Graph permissions reference, per API page).
pub type Permissions = &'static [&'static [&'static str]];

/// What observing one desired resource may look at.
pub struct ObserveContext<'a> {
    /// Every resource the plan reads in this tenant (a credential looks up its application).
    pub tenant: &'a DesiredTenant,
    pub snap: &'a Snapshot,
    pub ids: &'a Ids,
    /// The manifests' folder (certificate files and secret sinks are relative to it).
    pub base_dir: &'a Path,
}

/// One kind of resource: implemented by the kind's spec type.
pub trait ResourceKind: Sized + Sync {
    /// The kind's name in addresses (`group/tier1`).
    const NAME: &'static str;
    /// Application permissions the plan needs to read this kind.
    const READ_PERMISSIONS: Permissions;
    /// Application permissions needed to write this kind.
    const WRITE_PERMISSIONS: Permissions;
    /// The Graph fields the plan compares (what drift exceptions may name).
    const FIELDS: &'static [&'static str] = &[];
    /// Fields whose change cannot be applied in place (the object is replaced).
    const IMMUTABLE: &'static [&'static str] = &[];
    /// Access grants and the SIEM app: deleting them needs the explicit flag and the
    /// customer's consent in its manifest, every time.
    const PROTECTED: bool = false;
    /// Whether `spec.adopt` may pin an object of this kind (its natural key a hand-made
    /// object may lack).
    const ADOPTABLE: bool = false;

    /// Where an object of this kind is read by id, for kinds Graph finds only by display name
    /// (a create whose answer was lost may have made a twin).
    fn read_by_id(_id: &str) -> Option<(Version, String)> {
        None
    }

    /// The reads this resource needs, given the ids known so far.
    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![]
    }

    /// What exists in the tenant for this resource.
    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError>;

    /// The desired values of the compared fields, in the same shape as
    /// [`Observed::Present`]'s view.
    fn view(&self, _ids: &Ids) -> Value {
        serde_json::json!({})
    }

    /// Whether an owned object no longer declared may be deleted when pruning.
    fn prunable(&self) -> bool {
        true
    }

    /// Objects of this kind the tool owns (they carry its ownership mark) that no manifest names
    /// any more, found in what was read, as `(address name, spec)`: pruning candidates beyond
    /// the universe, for kinds whose mark outlives the manifest entry that made them. `ours`
    /// are this kind's resources in the universe of the tenant.
    fn leftovers(_ours: &[&Self], _snap: &Snapshot) -> Vec<(String, Self)> {
        vec![]
    }

    /// A note on a planned create when a similar object exists that could be adopted instead.
    fn adoption_hint(&self, _address: &str, _snap: &Snapshot) -> Option<String> {
        None
    }

    /// A step only a person can take before the object is usable (a customer's approval),
    /// given what was observed; the plan lists it as a manual item instead of a no-op.
    fn manual_step(&self, _observed: &Observed) -> Option<crate::kinds::manual::ManualSpec> {
        None
    }

    /// Why the resource cannot be written yet although it is missing or differs (it needs a
    /// person's step first); the plan then lists it as a no-op with this note.
    fn waiting(&self, _snap: &Snapshot) -> Option<String> {
        None
    }

    /// Plan warnings about the observed object (an end date coming close).
    fn warnings(&self, _observed: &Observed) -> Vec<String> {
        vec![]
    }

    /// Creates the object (an upsert where Graph offers one) and records its id in `w`.
    fn create(
        &self,
        at: &Address,
        w: &Writer<'_>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Updates the existing object `id` in place. Kinds without compared fields never plan one.
    fn update(
        &self,
        _id: &str,
        _at: &Address,
        _w: &Writer<'_>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send {
        async { Ok(()) }
    }

    /// Deletes the owned object `id`; "already gone" counts as done.
    fn delete(
        &self,
        _id: &str,
        _at: &Address,
        _w: &Writer<'_>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send {
        async { Ok(()) }
    }
}

/// What a lookup found: the object with the compared view `view` makes of it, or nothing.
pub(crate) fn present(found: Option<&Value>, view: impl FnOnce(&Value) -> Value) -> Observed {
    match found {
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: graph_map::str_of(v, "id").to_string(),
            view: view(v),
        },
    }
}

/// The one listed object that is this resource: the one its natural key (`is_key`) picks, or
/// the hand-made one `spec.adopt` pins by id. Two matches are ambiguous; a pinned object that
/// is gone is an error, never silently created again. `what` names the kind in messages
/// (`Defender role`), `name` the resource.
pub(crate) fn keyed_or_adopted<'a>(
    what: &str,
    name: &str,
    adopt_id: Option<&str>,
    items: &'a [Value],
    is_key: impl Fn(&Value) -> bool,
) -> Result<Option<&'a Value>, ObserveError> {
    let pinned =
        |v: &Value| adopt_id.is_some_and(|id| graph_map::str_of(v, "id").eq_ignore_ascii_case(id));
    let matching = items.iter().filter(|v| is_key(v) || pinned(v));
    match graph_map::single(format!("{what} \"{name}\""), matching)? {
        None => match adopt_id {
            Some(id) => Err(crate::model::adopted_missing(what, id)),
            None => Ok(None),
        },
        found => Ok(found),
    }
}

/// [`keyed_or_adopted`] for kinds whose natural key is their `displayName`.
pub(crate) fn named_or_adopted<'a>(
    what: &str,
    name: &str,
    adopt_id: Option<&str>,
    items: &'a [Value],
) -> Result<Option<&'a Value>, ObserveError> {
    keyed_or_adopted(what, name, adopt_id, items, |v| {
        graph_map::str_of(v, "displayName") == name
    })
}

/// Permission sets several kinds share (each list "any of", least privileged first).
pub mod perms {
    use super::Permissions;

    pub(crate) const GROUP_READ: Permissions = &[&[
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ]];
    pub(crate) const GROUP_WRITE: Permissions =
        &[&["Group.ReadWrite.All", "Directory.ReadWrite.All"]];
    pub(crate) const EM_READ: Permissions = &[&[
        "EntitlementManagement.Read.All",
        "EntitlementManagement.ReadWrite.All",
    ]];
    pub(crate) const EM_WRITE: Permissions = &[&["EntitlementManagement.ReadWrite.All"]];
    pub(crate) const DEFENDER_READ: Permissions = &[&[
        "RoleManagement.Read.Defender",
        "RoleManagement.ReadWrite.Defender",
    ]];
    pub(crate) const DEFENDER_WRITE: Permissions = &[&["RoleManagement.ReadWrite.Defender"]];
    /// Applications, service principals (`servicePrincipals(appId=…)` for Graph,
    /// WindowsDefenderATP and the SIEM app) and their appRoleAssignments.
    pub(crate) const APP_READ: Permissions = &[&[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ]];
    pub(crate) const APP_WRITE: Permissions =
        &[&["Application.ReadWrite.All", "Directory.ReadWrite.All"]];
}
