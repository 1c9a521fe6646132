//! The sandbox's world: every tenant and its directory / entitlement / security objects, the
//! provisioning app's credentials, the CA and the token signing key. Serialisable as one JSON
//! document so a sandbox survives restarts (`--state`), written atomically (temp file + rename).
//!
//! Objects are kept as JSON exactly as Graph would render them, plus private `_`-prefixed fields
//! (credential hashes, certificate keys) that [`render`] strips before anything leaves the sandbox.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::errors::SandboxError;
use super::tls::CaMaterial;
use super::{Seed, TenantSeed};

pub const GROUPS: &str = "groups";
pub const APPLICATIONS: &str = "applications";
pub const SERVICE_PRINCIPALS: &str = "servicePrincipals";
pub const APP_ROLE_ASSIGNMENTS: &str = "appRoleAssignments";
pub const FICS: &str = "federatedIdentityCredentials";
pub const CONNECTED_ORGS: &str = "connectedOrganizations";
pub const CATALOGS: &str = "catalogs";
pub const RESOURCE_REQUESTS: &str = "resourceRequests";
pub const RESOURCES: &str = "resources";
pub const ACCESS_PACKAGES: &str = "accessPackages";
pub const ROLE_SCOPES: &str = "resourceRoleScopes";
pub const POLICIES: &str = "assignmentPolicies";
pub const ASSIGNMENTS: &str = "assignments";
pub const PARTNERS: &str = "partners";
pub const DEFENDER_ROLES: &str = "defenderRoleDefinitions";
pub const DEFENDER_ASSIGNMENTS: &str = "defenderRoleAssignments";
pub const ALERTS: &str = "alerts";
pub const INCIDENTS: &str = "incidents";
pub const DETECTION_RULES: &str = "detectionRules";
pub const DELETED: &str = "deletedItems";
pub const GDAP_RELATIONSHIPS: &str = "delegatedAdminRelationships";
pub const GDAP_ASSIGNMENTS: &str = "delegatedAdminAccessAssignments";
pub const GDAP_REQUESTS: &str = "delegatedAdminRelationshipRequests";
pub const GDAP_OPERATIONS: &str = "delegatedAdminRelationshipOperations";

pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const DEFENDER_APP_ID: &str = "fc780465-2017-40d4-a0c5-307022471b92";
/// Microsoft's "Partner Customer Delegated Administration" application: app-only GDAP calls
/// need its service principal in the partner tenant (Graph GDAP API pages, "Important" note).
pub const PARTNER_CDA_APP_ID: &str = crate::gdap::PARTNER_CDA_APP_ID;
pub const PARTNER_CDA_NAME: &str = "Partner Customer Delegated Administration";
/// Microsoft's own tenant, owner of the first-party apps.
pub const MICROSOFT_SERVICES_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Microsoft Graph application permissions (app roles) the sandbox knows, with their real ids
/// (cross-checked in public permission lists; see docs/sandbox.md).
pub const GRAPH_ROLES: &[(&str, &str)] = &[
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "Application.ReadWrite.OwnedBy",
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "CrossTenantInformation.ReadBasic.All",
        "cac88765-0581-4025-9725-5ebc13f729ee",
    ),
    // The sandbox's own id, not Microsoft's: no source at hand confirms the real app role id of
    // CustomDetection.Read.All. The tool resolves role ids from `appRoles` by value, so the id
    // never matters to it; the sandbox needs the role to grant least privilege for plan reads.
    (
        "CustomDetection.Read.All",
        "0000c057-de7e-4c70-8000-00000000000d",
    ),
    (
        "CustomDetection.ReadWrite.All",
        "e0fd9c8d-a12e-4cc9-9827-20c8c3cd6fb8",
    ),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    ),
    (
        "DelegatedAdminRelationship.Read.All",
        "f6e9e124-4586-492f-adc0-c6f96e4823fd",
    ),
    (
        "DelegatedAdminRelationship.ReadWrite.All",
        "cc13eba4-8cd8-44c6-b4d4-f93237adce58",
    ),
    (
        "EntitlementManagement.Read.All",
        "c74fd47d-ed3c-45c3-9a9e-b8676de685d2",
    ),
    (
        "EntitlementManagement.ReadWrite.All",
        "9acd699f-1e81-4958-b001-93b1d2506e19",
    ),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
    ),
    ("Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68"),
    (
        "Policy.ReadWrite.CrossTenantAccess",
        "338163d7-f101-4c92-94ba-ca46fe52447c",
    ),
    (
        "RoleManagement.Read.Defender",
        "4d6e30d1-e64e-4ae7-bf9d-c706cc928cef",
    ),
    (
        "RoleManagement.ReadWrite.Defender",
        "8b7e8c0a-7e9d-4049-97ec-04b5e1bcaf05",
    ),
    (
        "SecurityAlert.Read.All",
        "472e4a4d-bb4a-4026-98d1-0b0d74cb74a5",
    ),
    (
        "SecurityAlert.ReadWrite.All",
        "ed4fca05-be46-441f-9803-1873825f8fdb",
    ),
    (
        "SecurityIncident.Read.All",
        "45cc0394-e837-488b-a098-1918f48d186c",
    ),
    (
        "SecurityIncident.ReadWrite.All",
        "34bf0e97-1971-4929-b999-9e2442d941d7",
    ),
    (
        "SecurityEvents.Read.All",
        "bf394140-e372-4bf9-a898-299cfc7564e5",
    ),
];

/// WindowsDefenderATP application permissions (api-contract §3.1).
pub const DEFENDER_ROLES_TABLE: &[(&str, &str)] = &[
    ("Alert.Read.All", "71fe6b80-7034-4028-9ed8-0f316df9c3ff"),
    (
        "Alert.ReadWrite.All",
        "0f7000ec-157b-497f-b70e-ef0b0584f140",
    ),
    ("Machine.Read.All", "ea8291d3-4b9a-44b5-bc3a-6cea3026dc79"),
    (
        "AdvancedQuery.Read.All",
        "93489bf5-0fbc-4f2d-b901-33f2fe08ff05",
    ),
    ("Ti.ReadWrite.All", "fc511a58-3adf-4d71-af24-00f13e35e479"),
];

/// One stored object. `v` is the Graph rendering plus private `_` fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub v: Value,
    /// Milliseconds since the epoch from which reads and references see the object (replication delay).
    pub visible_at_ms: i64,
    /// Owning object for contained collections (application of a FIC, catalog of a resource, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For soft-deleted objects: the collection they came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Entry {
    pub fn id(&self) -> &str {
        self.v.get("id").and_then(Value::as_str).unwrap_or_default()
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        self.v.get(key).and_then(Value::as_str)
    }
    pub fn visible(&self, now: i64) -> bool {
        self.visible_at_ms <= now
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub domain: String,
    pub display_name: String,
    pub defender_licensed: bool,
    #[serde(default)]
    pub collections: BTreeMap<String, Vec<Entry>>,
}

impl Tenant {
    pub fn list(&self, collection: &str) -> &[Entry] {
        self.collections
            .get(collection)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
    pub fn list_mut(&mut self, collection: &str) -> &mut Vec<Entry> {
        self.collections.entry(collection.to_string()).or_default()
    }
    pub fn find(&self, collection: &str, id: &str) -> Option<&Entry> {
        self.list(collection)
            .iter()
            .find(|e| e.id().eq_ignore_ascii_case(id))
    }
    pub fn find_mut(&mut self, collection: &str, id: &str) -> Option<&mut Entry> {
        self.list_mut(collection)
            .iter_mut()
            .find(|e| e.id().eq_ignore_ascii_case(id))
    }
    pub fn remove(&mut self, collection: &str, id: &str) -> Option<Entry> {
        let list = self.list_mut(collection);
        let pos = list.iter().position(|e| e.id().eq_ignore_ascii_case(id))?;
        Some(list.remove(pos))
    }
    pub fn find_by(&self, collection: &str, key: &str, value: &str) -> Option<&Entry> {
        self.list(collection)
            .iter()
            .find(|e| e.str(key).is_some_and(|v| v.eq_ignore_ascii_case(value)))
    }
    pub fn sp_by_app_id(&self, app_id: &str) -> Option<&Entry> {
        self.find_by(SERVICE_PRINCIPALS, "appId", app_id)
    }
    pub fn insert(&mut self, collection: &str, entry: Entry) {
        self.list_mut(collection).push(entry);
    }
}

/// The provisioning app (the tool's own identity).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provisioning {
    pub client_id: Uuid,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    pub ca: CaMaterial,
    /// PKCS#8 DER of the RSA token signing key, base64.
    pub signing_key_pkcs8: String,
    pub signing_kid: String,
    pub provisioning: Provisioning,
    pub provider_tenant: Uuid,
    pub tenants: BTreeMap<Uuid, Tenant>,
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn now_iso() -> String {
    iso(now_ms())
}

pub fn new_id() -> String {
    Uuid::new_v4().to_string()
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A random URL-safe secret of Entra's shape (40 chars).
pub fn random_secret() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Opaque base64url id like appRoleAssignment ids.
pub fn opaque_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strips private fields before an object is shown to a client.
pub fn render(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, val) in map {
                if k.starts_with('_') {
                    continue;
                }
                out.insert(k.clone(), render(val));
            }
            if let Some(Value::Array(creds)) = out.get_mut("keyCredentials") {
                // Graph never returns certificate key material on GET.
                for c in creds.iter_mut() {
                    if let Some(o) = c.as_object_mut() {
                        o.insert("key".into(), Value::Null);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(render).collect()),
        other => other.clone(),
    }
}

fn app_roles(table: &[(&str, &str)], resource: &str) -> Value {
    Value::Array(
        table
            .iter()
            .map(|(value, id)| {
                json!({"allowedMemberTypes":["Application"],"description":format!("Allows the app to use {value} on {resource}."),
                       "displayName":value,"id":id,"isEnabled":true,"origin":"Application","value":value})
            })
            .collect(),
    )
}

fn first_party_sp(app_id: &str, name: &str, roles: Value) -> Entry {
    Entry {
        v: json!({
            "id": new_id(), "deletedDateTime": null, "accountEnabled": true, "appDisplayName": name,
            "appId": app_id, "appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT, "appRoleAssignmentRequired": false,
            "displayName": name, "servicePrincipalType": "Application", "servicePrincipalNames": [app_id],
            "signInAudience": "AzureADMultipleOrgs", "tags": [], "appRoles": roles, "keyCredentials": [],
            "passwordCredentials": [], "createdDateTime": now_iso()
        }),
        visible_at_ms: 0,
        parent: None,
        origin: None,
    }
}

/// A new tenant with the first-party service principals Microsoft pre-provisions.
pub fn new_tenant(seed: &TenantSeed) -> Tenant {
    let mut t = Tenant {
        id: seed.tenant_id,
        domain: seed.domain.clone(),
        display_name: seed.display_name.clone(),
        defender_licensed: seed.defender_licensed,
        collections: BTreeMap::new(),
    };
    t.insert(
        SERVICE_PRINCIPALS,
        first_party_sp(
            GRAPH_APP_ID,
            "Microsoft Graph",
            app_roles(GRAPH_ROLES, "Microsoft Graph"),
        ),
    );
    if seed.defender_licensed {
        t.insert(
            SERVICE_PRINCIPALS,
            first_party_sp(
                DEFENDER_APP_ID,
                "WindowsDefenderATP",
                app_roles(DEFENDER_ROLES_TABLE, "WindowsDefenderATP"),
            ),
        );
        super::routes::security::seed_alerts(&mut t, seed.alerts);
    }
    t
}

impl State {
    /// A fresh world from a seed.
    pub fn from_seed(seed: &Seed, ca: CaMaterial, signing_key_pkcs8: String) -> State {
        let mut st = State {
            format: 1,
            ca,
            signing_key_pkcs8,
            signing_kid: opaque_id()[..16].to_string(),
            provisioning: Provisioning {
                client_id: Uuid::new_v4(),
                client_secret: random_secret(),
            },
            provider_tenant: seed.provider.tenant_id,
            tenants: BTreeMap::new(),
        };
        st.add_missing_tenants(seed);
        st
    }

    /// Adds tenants of `seed` that the state does not hold yet (state wins over seed otherwise);
    /// false when the state already held everything the seed asks for.
    pub fn add_missing_tenants(&mut self, seed: &Seed) -> bool {
        let all = std::iter::once(&seed.provider).chain(seed.customers.iter());
        let mut added = Vec::new();
        for ts in all {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                self.tenants.entry(ts.tenant_id)
            {
                slot.insert(new_tenant(ts));
                added.push(ts.tenant_id);
            }
        }
        let mut changed = !added.is_empty();
        if self.tenants.get(&self.provider_tenant).is_some_and(|t| {
            t.find_by(
                APPLICATIONS,
                "appId",
                &self.provisioning.client_id.to_string(),
            )
            .is_none()
        }) {
            self.create_provisioning_app();
            changed = true;
        }
        let consented = |tid: &Uuid| -> Vec<String> {
            match seed.tenant_roles.get(tid) {
                Some(only) => seed
                    .provisioning_roles
                    .iter()
                    .filter(|r| only.contains(r))
                    .cloned()
                    .collect(),
                None => seed.provisioning_roles.clone(),
            }
        };
        for tid in &added {
            self.consent_provisioning_app(*tid, &consented(tid), &seed.defender_roles);
        }
        // Tenants the state already held: the manifests may need more than they were seeded
        // with (a customer turned SIEM on, the apply lease). There is no consent page here, so
        // the sandbox plays the administrator who grants what `mssp permissions` lists, and
        // says so; nothing is ever taken away.
        let seeded = std::iter::once(&seed.provider).chain(seed.customers.iter());
        for tid in seeded.map(|t| t.tenant_id).filter(|t| !added.contains(t)) {
            let granted = self.consent_provisioning_app(tid, &consented(&tid), &[]);
            changed |= !granted.is_empty();
            if !granted.is_empty() {
                eprintln!(
                    "sandbox: tenant {tid}: granted {} to the tool's app (admin consent for what the manifests now need)",
                    granted.join(", ")
                );
            }
        }
        changed
    }

    fn create_provisioning_app(&mut self) {
        let app_id = self.provisioning.client_id.to_string();
        let secret = self.provisioning.client_secret.clone();
        let Some(provider) = self.tenants.get_mut(&self.provider_tenant) else {
            return;
        };
        let created = now_iso();
        let key_id = new_id();
        let app = json!({
            "id": new_id(), "appId": app_id, "displayName": "mssp provisioning", "uniqueName": "mssp-provisioning",
            "signInAudience": "AzureADMultipleOrgs", "createdDateTime": created, "deletedDateTime": null,
            "publisherDomain": provider.domain, "identifierUris": [], "tags": [], "keyCredentials": [],
            "passwordCredentials": [{"customKeyIdentifier": null, "displayName": "sandbox", "endDateTime": "2099-01-01T00:00:00Z",
                "hint": secret.chars().take(3).collect::<String>(), "keyId": key_id, "secretText": null, "startDateTime": created}],
            "requiredResourceAccess": [], "_secrets": [{"keyId": key_id, "sha256": sha256_hex(&secret)}]
        });
        provider.insert(
            APPLICATIONS,
            Entry {
                v: app,
                visible_at_ms: 0,
                parent: None,
                origin: None,
            },
        );
    }

    /// Instantiates the provisioning app's SP in `tid` and grants it the seeded roles.
    /// Grants the provisioning app these roles in `tid` (those it does not hold yet); returns
    /// the ones granted now.
    fn consent_provisioning_app(
        &mut self,
        tid: Uuid,
        graph_roles: &[String],
        defender_roles: &[String],
    ) -> Vec<String> {
        let mut granted = Vec::new();
        let app_id = self.provisioning.client_id.to_string();
        let owner = self.provider_tenant.to_string();
        let Some(t) = self.tenants.get_mut(&tid) else {
            return granted;
        };
        if t.sp_by_app_id(&app_id).is_none() {
            let sp = json!({"id": new_id(), "appId": app_id, "displayName": "mssp provisioning", "appDisplayName": "mssp provisioning",
                "accountEnabled": true, "appOwnerOrganizationId": owner, "servicePrincipalType": "Application",
                "appRoleAssignmentRequired": false, "servicePrincipalNames": [app_id], "appRoles": [], "tags": [],
                "keyCredentials": [], "passwordCredentials": [], "signInAudience": "AzureADMultipleOrgs", "deletedDateTime": null});
            t.insert(
                SERVICE_PRINCIPALS,
                Entry {
                    v: sp,
                    visible_at_ms: 0,
                    parent: None,
                    origin: None,
                },
            );
        }
        let Some(principal) = t.sp_by_app_id(&app_id).map(|e| e.id().to_string()) else {
            return granted;
        };
        for (resource_app, wanted) in [
            (GRAPH_APP_ID, graph_roles),
            (DEFENDER_APP_ID, defender_roles),
        ] {
            let Some(resource) = t.sp_by_app_id(resource_app).cloned() else {
                continue;
            };
            for role in wanted {
                let Some(role_id) = role_id(&resource.v, role) else {
                    continue;
                };
                let held = t.list(APP_ROLE_ASSIGNMENTS).iter().any(|e| {
                    e.v.get("principalId").and_then(Value::as_str) == Some(principal.as_str())
                        && e.v.get("resourceId").and_then(Value::as_str) == Some(resource.id())
                        && e.v.get("appRoleId").and_then(Value::as_str) == Some(role_id.as_str())
                });
                if held {
                    continue;
                }
                granted.push(role.clone());
                let a = json!({"id": opaque_id(), "deletedDateTime": null, "appRoleId": role_id, "createdDateTime": now_iso(),
                    "principalDisplayName": "mssp provisioning", "principalId": principal, "principalType": "ServicePrincipal",
                    "resourceDisplayName": resource.str("displayName"), "resourceId": resource.id()});
                t.insert(
                    APP_ROLE_ASSIGNMENTS,
                    Entry {
                        v: a,
                        visible_at_ms: 0,
                        parent: None,
                        origin: None,
                    },
                );
            }
        }
        granted
    }

    pub fn load(path: &Path) -> Result<Option<State>, SandboxError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| {
                SandboxError::ParseState {
                    path: path.to_path_buf(),
                    source,
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SandboxError::ReadState {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the state atomically (see [`save_json`]).
    pub fn save(&self, path: &Path) -> Result<(), SandboxError> {
        save_json(self, path)
    }
}

/// The id of the app role `value` on a resource service principal.
pub fn role_id(resource_sp: &Value, value: &str) -> Option<String> {
    resource_sp
        .get("appRoles")?
        .as_array()?
        .iter()
        .find_map(|r| {
            (r.get("value")?.as_str()? == value)
                .then(|| r.get("id")?.as_str().map(str::to_string))?
        })
}

/// The value of the app role `id` on a resource service principal.
pub fn role_value(resource_sp: &Value, id: &str) -> Option<String> {
    resource_sp
        .get("appRoles")?
        .as_array()?
        .iter()
        .find_map(|r| {
            (r.get("id")?.as_str()?.eq_ignore_ascii_case(id))
                .then(|| r.get("value")?.as_str().map(str::to_string))?
        })
}

/// Writes a state file atomically: a crash mid-write leaves the previous file intact. The file
/// holds the client secret and the CA's private key, so it is created readable by its owner only
/// (0600), temporary file included. Written as it is serialised: a 10,000-tenant world is
/// hundreds of megabytes, which need not be held in memory a second time.
pub fn save_json<T: Serialize>(value: &T, path: &Path) -> Result<(), SandboxError> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let werr = |source| SandboxError::WriteState {
        path: path.to_path_buf(),
        source,
    };
    // A mode only applies to a file being created: a leftover temporary file (or a link
    // planted in its place) must not lend its own.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(werr(e)),
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        open.mode(0o600);
    }
    let file = open.open(&tmp).map_err(werr)?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, value).map_err(SandboxError::SerialiseState)?;
    out.flush().map_err(werr)?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Whether only the owner may read `path` (always true where modes do not exist).
pub fn is_private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

/// Creates `dir` and its missing parents readable by the owner only (0700): the sandbox's
/// folder holds its state file (secrets) and CA. An existing folder is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}
