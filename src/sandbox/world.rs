//! The sandbox's live world: one lock per tenant, so requests to unrelated tenants never wait
//! for each other (one lock over every tenant made the sandbox, not the tool, the bottleneck of
//! large benchmarks). A request locks only the tenant of its token; what it needs from other
//! tenants comes from data that never changes after start (tenant names and domains) or from a
//! copy of each tenant's applications refreshed after every write there (an app's home tenant
//! is another tenant for every multi-tenant service principal). A request therefore never holds
//! two tenant locks, and the state file, which locks them all, cannot deadlock with it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use uuid::Uuid;

use super::errors::SandboxError;
use super::state::{self, APPLICATIONS, Entry, Provisioning, State, Tenant};
use super::tls::CaMaterial;

/// What never changes about a tenant once the sandbox runs.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub id: Uuid,
    pub domain: String,
    pub display_name: String,
}

/// A tenant and its lock. The lock is asynchronous: a request waiting for a busy tenant parks
/// its task instead of blocking one of the runtime's few threads.
pub struct TenantCell {
    pub info: TenantInfo,
    pub data: tokio::sync::Mutex<Tenant>,
}

type Guards<'a> = Vec<tokio::sync::MutexGuard<'a, Tenant>>;

/// Every tenant, each behind its own lock, plus the world-wide secrets of [`State`].
pub struct World {
    pub format: u32,
    pub ca: CaMaterial,
    pub signing_key_pkcs8: String,
    pub signing_kid: String,
    pub provisioning: Provisioning,
    pub provider_tenant: Uuid,
    tenants: BTreeMap<Uuid, TenantCell>,
    /// Lower-cased domain → tenant (token endpoint, connected organizations).
    domains: HashMap<String, Uuid>,
    /// Each tenant's applications as of its last completed write.
    apps: Mutex<HashMap<Uuid, Vec<Entry>>>,
}

fn lock_std<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl World {
    pub(crate) fn new(st: State) -> World {
        let mut domains = HashMap::new();
        let mut apps = HashMap::new();
        let mut tenants = BTreeMap::new();
        for (id, t) in st.tenants {
            // The first tenant claiming a domain wins, as `State::tenant_by_domain` did.
            domains.entry(t.domain.to_ascii_lowercase()).or_insert(id);
            if !t.list(APPLICATIONS).is_empty() {
                apps.insert(id, t.list(APPLICATIONS).to_vec());
            }
            let info = TenantInfo {
                id,
                domain: t.domain.clone(),
                display_name: t.display_name.clone(),
            };
            tenants.insert(
                id,
                TenantCell {
                    info,
                    data: tokio::sync::Mutex::new(t),
                },
            );
        }
        World {
            format: st.format,
            ca: st.ca,
            signing_key_pkcs8: st.signing_key_pkcs8,
            signing_kid: st.signing_kid,
            provisioning: st.provisioning,
            provider_tenant: st.provider_tenant,
            tenants,
            domains,
            apps: Mutex::new(apps),
        }
    }

    pub(crate) fn cell(&self, id: &Uuid) -> Option<&TenantCell> {
        self.tenants.get(id)
    }

    /// Every tenant's id, in order.
    pub(crate) fn tenant_ids(&self) -> Vec<Uuid> {
        self.tenants.keys().copied().collect()
    }

    pub(crate) fn info(&self, id: &Uuid) -> Option<&TenantInfo> {
        self.tenants.get(id).map(|c| &c.info)
    }

    /// The tenant that owns `domain` (verified domain = the seeded one).
    pub(crate) fn by_domain(&self, domain: &str) -> Option<&TenantInfo> {
        self.domains
            .get(&domain.to_ascii_lowercase())
            .and_then(|id| self.info(id))
    }

    /// A tenant named by id or by domain, as the token endpoint's path names it.
    pub(crate) fn resolve(&self, tenant: &str) -> Option<&TenantInfo> {
        Uuid::parse_str(tenant)
            .ok()
            .and_then(|id| self.info(&id))
            .or_else(|| self.by_domain(tenant))
    }

    /// The home application of `app_id` in any tenant but `except`, as of each tenant's last
    /// completed write.
    pub(crate) fn home_app(&self, app_id: &str, except: Option<Uuid>) -> Option<(Uuid, Entry)> {
        let apps = lock_std(&self.apps);
        let mut homes: Vec<(&Uuid, &Vec<Entry>)> =
            apps.iter().filter(|(t, _)| Some(**t) != except).collect();
        // Same answer as a scan of the tenants in order, should two tenants claim one appId.
        homes.sort_by_key(|(t, _)| **t);
        homes.into_iter().find_map(|(t, list)| {
            list.iter()
                .find(|e| {
                    e.str("appId")
                        .is_some_and(|v| v.eq_ignore_ascii_case(app_id))
                })
                .map(|e| (*t, e.clone()))
        })
    }

    /// Refreshes the copy of `t`'s applications other tenants' requests see. Called with `t`
    /// still locked, after each write to it.
    pub(crate) fn note_apps(&self, t: &Tenant) {
        let list = t.list(APPLICATIONS);
        let mut apps = lock_std(&self.apps);
        if list.is_empty() {
            apps.remove(&t.id);
        } else {
            apps.insert(t.id, list.to_vec());
        }
    }

    /// Every tenant locked, in id order. Requests hold one tenant lock at most, so taking them
    /// all in a fixed order cannot deadlock; holding them all gives a consistent cut of the
    /// world (a service principal is never saved without the application it came from).
    pub(crate) async fn lock_all(&self) -> Guards<'_> {
        let mut guards = Vec::with_capacity(self.tenants.len());
        for cell in self.tenants.values() {
            guards.push(cell.data.lock().await);
        }
        guards
    }

    /// [`World::lock_all`] without waiting, for callers that cannot wait (a `Drop`); `None`
    /// when a request holds a tenant.
    pub(crate) fn try_lock_all(&self) -> Option<Guards<'_>> {
        self.tenants
            .values()
            .map(|cell| cell.data.try_lock().ok())
            .collect()
    }

    fn view<'a>(&'a self, guards: &'a Guards<'a>) -> StateView<'a> {
        StateView {
            format: self.format,
            ca: &self.ca,
            signing_key_pkcs8: &self.signing_key_pkcs8,
            signing_kid: &self.signing_kid,
            provisioning: &self.provisioning,
            provider_tenant: self.provider_tenant,
            tenants: TenantsView(guards),
        }
    }

    /// The whole world as the state file holds it (the `/_sandbox/state` dump).
    pub(crate) fn to_value(&self, guards: &Guards<'_>) -> Value {
        serde_json::to_value(self.view(guards)).unwrap_or(Value::Null)
    }

    /// Writes the state file from locked tenants (see [`state::save_json`]).
    pub(crate) fn save_locked(&self, guards: &Guards<'_>, path: &Path) -> Result<(), SandboxError> {
        state::save_json(&self.view(guards), path)
    }

    pub(crate) async fn save(&self, path: &Path) -> Result<(), SandboxError> {
        let guards = self.lock_all().await;
        self.save_locked(&guards, path)
    }
}

/// [`State`]'s JSON shape over locked tenants, so the file format does not change.
#[derive(Serialize)]
struct StateView<'a> {
    format: u32,
    ca: &'a CaMaterial,
    signing_key_pkcs8: &'a str,
    signing_kid: &'a str,
    provisioning: &'a Provisioning,
    provider_tenant: Uuid,
    tenants: TenantsView<'a>,
}

struct TenantsView<'a>(&'a Guards<'a>);

impl Serialize for TenantsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for t in self.0 {
            map.serialize_entry(&t.id, &**t)?;
        }
        map.end()
    }
}

/// What one request sees: its token's tenant, locked (`None` when the token names a tenant the
/// sandbox does not hold), and the rest of the world through [`World`]'s shared views.
pub struct Scope<'a> {
    pub world: &'a World,
    pub tenant: Option<&'a mut Tenant>,
}

impl Scope<'_> {
    /// The home application of `app_id`: the request's own tenant as it is now, then the others.
    pub(crate) fn home_app(&self, app_id: &str) -> Option<(Uuid, Entry)> {
        let own = self.tenant.as_deref().and_then(|t| {
            t.find_by(APPLICATIONS, "appId", app_id)
                .map(|e| (t.id, e.clone()))
        });
        let others = || {
            self.world
                .home_app(app_id, self.tenant.as_deref().map(|t| t.id))
        };
        match own {
            // Keep the scan order of one lock over all tenants: a lower tenant id wins.
            Some((tid, e)) => match others() {
                Some(o) if o.0 < tid => Some(o),
                _ => Some((tid, e)),
            },
            None => others(),
        }
    }
}
