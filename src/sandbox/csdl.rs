//! Request-body checking against Graph's published metadata. The full v1.0 CSDL (3.5 MB) is not
//! shipped; `csdl_subset.json` holds, for each type a route accepts (and the complex types they
//! reach), its properties with type, nullability and read-only/key flags. It is generated from
//! `../shared/graph/v1.0.csdl.xml` by `UPDATE_CSDL=1 cargo test --test it sandbox_csdl` and checked
//! against that file by the same test. Beta-only types (Defender unified RBAC) are not in the v1.0
//! CSDL, so they are listed by hand in [`BETA_TYPES`].
//!
//! Read-only flags: the CSDL marks few properties `Core.Computed`, so the generator adds the
//! properties the API reference pages call read-only ([`ACCEPTED`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::GraphError;

/// One property of a type in the subset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prop {
    /// `Edm.String`, `microsoft.graph.identitySource`, … (element type for collections).
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub collection: bool,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub nullable: bool,
    #[serde(default, rename = "readOnly", skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub key: bool,
    /// Navigation property that may be set on create to bind an existing object (`catalog: {id}`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bind: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub properties: BTreeMap<String, Prop>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Subset {
    pub types: BTreeMap<String, TypeDef>,
    pub enums: Vec<String>,
}

/// A type routes accept as a request body, with the properties its reference page calls read-only
/// and the navigation properties that may bind an existing object.
pub struct AcceptedType {
    pub name: &'static str,
    pub read_only: &'static [&'static str],
    pub bindable: &'static [&'static str],
}

pub const ACCEPTED: &[AcceptedType] = &[
    AcceptedType {
        name: "microsoft.graph.group",
        read_only: &[
            "id",
            "deletedDateTime",
            "createdDateTime",
            "renewedDateTime",
            "securityIdentifier",
            "mail",
            "proxyAddresses",
            "onPremisesSyncEnabled",
            "onPremisesLastSyncDateTime",
            "onPremisesSecurityIdentifier",
            "expirationDateTime",
        ],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.application",
        read_only: &[
            "id",
            "appId",
            "deletedDateTime",
            "createdDateTime",
            "publisherDomain",
            "passwordCredentials",
        ],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.servicePrincipal",
        read_only: &[
            "id",
            "deletedDateTime",
            "appDisplayName",
            "appOwnerOrganizationId",
            "passwordCredentials",
            "signInAudience",
        ],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.appRoleAssignment",
        read_only: &[
            "id",
            "deletedDateTime",
            "createdDateTime",
            "principalDisplayName",
            "principalType",
            "resourceDisplayName",
        ],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.federatedIdentityCredential",
        read_only: &["id"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.passwordCredential",
        read_only: &["secretText", "hint", "keyId"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.keyCredential",
        read_only: &[],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.connectedOrganization",
        read_only: &["id", "createdDateTime", "modifiedDateTime"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageCatalog",
        read_only: &["id", "createdDateTime", "modifiedDateTime", "catalogType"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageResourceRequest",
        read_only: &["id", "createdDateTime", "state"],
        bindable: &["catalog", "resource"],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageResource",
        read_only: &[],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageResourceRole",
        read_only: &[],
        bindable: &["resource"],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageResourceScope",
        read_only: &[],
        bindable: &["resource"],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackage",
        read_only: &["id", "createdDateTime", "modifiedDateTime"],
        bindable: &["catalog"],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageResourceRoleScope",
        read_only: &["id", "createdDateTime"],
        bindable: &["role", "scope"],
    },
    AcceptedType {
        name: "microsoft.graph.accessPackageAssignmentPolicy",
        read_only: &["createdDateTime", "modifiedDateTime"],
        bindable: &["accessPackage", "catalog"],
    },
    AcceptedType {
        name: "microsoft.graph.delegatedAdminRelationship",
        read_only: &[
            "id",
            "status",
            "createdDateTime",
            "lastModifiedDateTime",
            "activatedDateTime",
            "endDateTime",
        ],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.delegatedAdminAccessAssignment",
        read_only: &["id", "status", "createdDateTime", "lastModifiedDateTime"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.delegatedAdminRelationshipRequest",
        read_only: &["id", "status", "createdDateTime", "lastModifiedDateTime"],
        bindable: &[],
    },
    AcceptedType {
        name: "microsoft.graph.crossTenantAccessPolicyConfigurationPartner",
        read_only: &["isServiceProvider", "isInMultiTenantOrganization"],
        bindable: &[],
    },
];

/// Beta-only types (not in the v1.0 CSDL), written by hand from the beta reference pages:
/// (type, [(property, type, collection, read-only)]).
/// (property, type, collection, read-only).
pub type BetaProp = (&'static str, &'static str, bool, bool);

pub(crate) const BETA_TYPES: &[(&str, &[BetaProp])] = &[
    // Custom detection rules are v1.0 now, but younger than the shared v1.0 CSDL snapshot:
    // written by hand from the reference pages (docs/detection-rules.md), without the
    // properties Microsoft retired on 2026-10-01 (`isEnabled`, `schedule.period`,
    // `responseActions`, `impactedAssets`, `lastRunDetails`, …).
    (
        "microsoft.graph.security.detectionRule",
        &[
            ("id", "Edm.String", false, false),
            ("displayName", "Edm.String", false, false),
            ("description", "Edm.String", false, false),
            ("status", "Edm.String", false, false),
            ("createdBy", "Edm.String", false, true),
            ("createdDateTime", "Edm.DateTimeOffset", false, true),
            ("lastModifiedBy", "Edm.String", false, true),
            ("lastModifiedDateTime", "Edm.DateTimeOffset", false, true),
            (
                "queryCondition",
                "microsoft.graph.security.queryCondition",
                false,
                false,
            ),
            (
                "schedule",
                "microsoft.graph.security.ruleSchedule",
                false,
                false,
            ),
            (
                "detectionAction",
                "microsoft.graph.security.detectionAction",
                false,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.security.queryCondition",
        &[("queryText", "Edm.String", false, false)],
    ),
    (
        "microsoft.graph.security.ruleSchedule",
        &[
            ("frequency", "Edm.Duration", false, false),
            ("lookback", "Edm.Duration", false, false),
        ],
    ),
    (
        "microsoft.graph.security.detectionAction",
        &[
            (
                "alertTemplate",
                "microsoft.graph.security.alertTemplate",
                false,
                false,
            ),
            (
                "automatedActions",
                "microsoft.graph.security.automatedActionSet",
                false,
                false,
            ),
            (
                "organizationalScope",
                "microsoft.graph.security.organizationalScope",
                false,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.security.organizationalScope",
        &[("deviceGroups", "Edm.String", true, false)],
    ),
    (
        "microsoft.graph.security.alertTemplate",
        &[
            ("title", "Edm.String", false, false),
            ("description", "Edm.String", false, false),
            ("severity", "Edm.String", false, false),
            ("recommendedActions", "Edm.String", false, false),
            (
                "tactics",
                "microsoft.graph.security.mitreTactic",
                true,
                false,
            ),
            (
                "entityMappings",
                "microsoft.graph.security.entityMappingConfiguration",
                false,
                false,
            ),
            (
                "customDetails",
                "microsoft.graph.security.alertCustomDetails",
                false,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.security.mitreTactic",
        &[
            ("tactic", "Edm.String", false, false),
            (
                "techniques",
                "microsoft.graph.security.mitreTechnique",
                true,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.security.mitreTechnique",
        &[("technique", "Edm.String", false, false)],
    ),
    (
        "microsoft.graph.security.automatedActionSet",
        &[
            (
                "allowFiles",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "blockFiles",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "collectInvestigationPackages",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "disableUsers",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "forceUserPasswordResets",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "hardDeleteEmails",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "initiateInvestigations",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "isolateDevices",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "markUsersAsCompromised",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "moveEmailsToDeletedItems",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "moveEmailsToInbox",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "moveEmailsToJunk",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "restrictAppExecutions",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "runAntivirusScans",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "softDeleteEmails",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
            (
                "stopAndQuarantineFiles",
                "microsoft.graph.security.automatedAction",
                true,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.unifiedRoleDefinition",
        &[
            ("id", "Edm.String", false, true),
            ("displayName", "Edm.String", false, false),
            ("description", "Edm.String", false, false),
            ("isBuiltIn", "Edm.Boolean", false, true),
            ("isEnabled", "Edm.Boolean", false, false),
            ("templateId", "Edm.String", false, false),
            ("version", "Edm.String", false, false),
            ("resourceScopes", "Edm.String", true, false),
            (
                "rolePermissions",
                "microsoft.graph.unifiedRolePermission",
                true,
                false,
            ),
        ],
    ),
    (
        "microsoft.graph.unifiedRolePermission",
        &[
            ("allowedResourceActions", "Edm.String", true, false),
            ("excludedResourceActions", "Edm.String", true, false),
            ("condition", "Edm.String", false, false),
        ],
    ),
    (
        "microsoft.graph.unifiedRoleAssignmentMultiple",
        &[
            ("id", "Edm.String", false, true),
            ("displayName", "Edm.String", false, false),
            ("description", "Edm.String", false, false),
            ("roleDefinitionId", "Edm.String", false, false),
            ("principalIds", "Edm.String", true, false),
            ("directoryScopeIds", "Edm.String", true, false),
            ("appScopeIds", "Edm.String", true, false),
            ("condition", "Edm.String", false, false),
        ],
    ),
];

pub(crate) const SUBSET_JSON: &str = include_str!("csdl_subset.json");

/// The subset plus the hand-written beta types.
pub fn subset() -> &'static Subset {
    static SUBSET: OnceLock<Subset> = OnceLock::new();
    SUBSET.get_or_init(|| {
        // A broken committed subset is caught by the conformance test; at run time fall back to empty.
        let mut s: Subset = serde_json::from_str(SUBSET_JSON).unwrap_or_default();
        for (name, props) in BETA_TYPES {
            let properties = props
                .iter()
                .map(|(p, ty, coll, ro)| {
                    (
                        p.to_string(),
                        Prop {
                            ty: ty.to_string(),
                            collection: *coll,
                            nullable: true,
                            read_only: *ro,
                            key: *p == "id",
                            bind: false,
                        },
                    )
                })
                .collect();
            s.types.insert(
                name.to_string(),
                TypeDef {
                    base: None,
                    properties,
                },
            );
        }
        s
    })
}

/// Properties of `ty`, base types included.
pub fn properties(ty: &str) -> BTreeMap<String, Prop> {
    let s = subset();
    let mut out = BTreeMap::new();
    let mut cur = Some(ty.to_string());
    while let Some(name) = cur {
        let Some(def) = s.types.get(&name) else { break };
        for (k, p) in &def.properties {
            out.entry(k.clone()).or_insert_with(|| p.clone());
        }
        cur = def.base.clone();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
    /// Full replacement (PUT): like create, `id` may be repeated.
    Replace,
}

/// Checks a request body against `ty`; the error names the offending property.
pub fn validate(ty: &str, body: &Value, mode: Mode) -> Result<(), GraphError> {
    let Value::Object(map) = body else {
        return Err(GraphError::bad_request(
            "Request body must be a JSON object.",
        ));
    };
    let props = properties(ty);
    for (k, v) in map {
        if k.starts_with('@') || k.contains("@odata.") {
            continue;
        }
        let Some(p) = props.get(k) else {
            return Err(GraphError::bad_request(format!(
                "Property '{k}' does not exist as a declared property or extension property."
            )));
        };
        if p.read_only && !(mode == Mode::Replace && k == "id") {
            return Err(GraphError::bad_request(format!(
                "Property '{k}' is read-only and cannot be set."
            )));
        }
        if p.key && mode == Mode::Update {
            return Err(GraphError::bad_request(format!(
                "Property '{k}' is read-only and cannot be set."
            )));
        }
        check_value(k, p, v)?;
    }
    Ok(())
}

fn check_value(name: &str, p: &Prop, v: &Value) -> Result<(), GraphError> {
    let mismatch = || {
        GraphError::bad_request(format!(
            "Invalid value specified for property '{name}' of resource type '{}'.",
            p.ty
        ))
    };
    if v.is_null() {
        return if p.nullable || p.collection {
            Ok(())
        } else {
            Err(mismatch())
        };
    }
    if p.collection {
        let Value::Array(items) = v else {
            return Err(mismatch());
        };
        let elem = Prop {
            collection: false,
            ..p.clone()
        };
        return items.iter().try_for_each(|i| check_value(name, &elem, i));
    }
    let ok = match p.ty.as_str() {
        "Edm.String" | "Edm.Guid" | "Edm.DateTimeOffset" | "Edm.Duration" | "Edm.Binary"
        | "Edm.Date" | "Edm.TimeOfDay" => v.is_string(),
        "Edm.Boolean" => v.is_boolean(),
        "Edm.Int32" | "Edm.Int64" | "Edm.Double" | "Edm.Int16" | "Edm.Byte" => v.is_number(),
        t if subset().enums.iter().any(|e| e == t) => v.is_string(),
        t if subset().types.contains_key(t) => {
            if !v.is_object() {
                return Err(mismatch());
            }
            let actual = v
                .get("@odata.type")
                .and_then(Value::as_str)
                .map(|s| s.trim_start_matches('#').to_string());
            let target = actual
                .filter(|a| subset().types.contains_key(a))
                .unwrap_or_else(|| t.to_string());
            // Bound navigation targets (`catalog: {id}`) carry only a key; nested read-only rules do not apply.
            return if p.bind {
                check_nested_names(&target, v)
            } else {
                validate(&target, v, Mode::Create)
            };
        }
        _ => true,
    };
    if ok { Ok(()) } else { Err(mismatch()) }
}

fn check_nested_names(ty: &str, v: &Value) -> Result<(), GraphError> {
    let props = properties(ty);
    if let Value::Object(map) = v {
        for k in map.keys() {
            if !k.starts_with('@') && !props.contains_key(k) {
                return Err(GraphError::bad_request(format!(
                    "Property '{k}' does not exist as a declared property or extension property."
                )));
            }
        }
    }
    Ok(())
}

/// Every route body type, for the conformance test (entity types the routes validate against).
pub fn route_body_types() -> Vec<&'static str> {
    ACCEPTED
        .iter()
        .map(|a| a.name)
        .chain(BETA_TYPES.iter().map(|(n, _)| *n))
        .collect()
}
