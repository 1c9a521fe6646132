//! `mssp twins`: finds objects the tool owns that match one natural key more than once (left by
//! concurrent applies before the apply lease existed, or by hand), and removes all but the
//! oldest of each with explicit consent, children first.
//!
//! Twins are exactly what makes a plan block a tenant (`graph_map::Ambiguous`): the keys are the
//! plan's own, so only objects the manifests derive (owned by the tool) are ever considered. A
//! parent's twins hide its children's (their reads need the parent's id), so removal repeats
//! reading until the tenant reads cleanly.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use reqwest::Method;
use serde_json::Value;

use super::Error;
use crate::apply::lease;
use crate::engine;
use crate::exit;
use crate::graph::{GraphError, Service, TenantGraph, Version};
use crate::kinds::{DesiredTenant, Kind, ObserveError};
use crate::model::observe::{ENTITLEMENT, Ids, str_of};
use crate::plan::read::{self, ReadError};

#[derive(Debug, clap::Args)]
pub struct TwinsArgs {
    #[command(flatten)]
    pub manifests: super::ManifestArgs,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// The customers to check (the MSSP tenant is always checked).
    #[command(flatten)]
    pub selection: super::TenantSelection,
    /// Delete every twin but the oldest (with its packages, policies or role assignments).
    #[arg(long)]
    pub remove_newer: bool,
    /// Consent to `--remove-newer` without asking.
    #[arg(long)]
    pub yes: bool,
}

/// One natural key matched by several objects.
#[derive(Debug)]
struct Twins {
    address: String,
    what: String,
    kind: Kind,
    /// `(id, createdDateTime)`, oldest first; the first is kept.
    objects: Vec<(String, Option<String>)>,
}

pub fn run(args: &TwinsArgs) -> super::Outcome {
    engine::block_on(run_async(args))
}

async fn run_async(args: &TwinsArgs) -> super::Outcome {
    let v = engine::load_checked(&args.manifests.paths, None)?;
    if args.remove_newer && !args.yes && !confirm()? {
        return Err(Error::NothingRemoved);
    }
    let (session, sandbox) = engine::connect(&args.connection, &v).await?;
    let p = &v.provider.doc.spec;
    let provider_tg = session
        .graph
        .tenant(&p.tenant_id.value, session.endpoints.profile(p.cloud));
    // Removing twins while an apply writes would race it: hold the apply lease meanwhile.
    let held = if args.remove_newer {
        match lease::acquire(
            &provider_tg,
            &p.naming.prefix.value,
            lease::DEFAULT_TTL,
            std::time::Duration::ZERO,
        )
        .await
        {
            Ok(l) => Some(l),
            Err(e) => return Err(Error::TwinsLease(e)),
        }
    } else {
        None
    };
    let mut tenants: Vec<(String, DesiredTenant)> = vec![(
        v.provider.doc.metadata.name.value.clone(),
        crate::expand::provider_tenant(&v),
    )];
    for c in &v.customers {
        let name = &c.doc.metadata.name.value;
        let wanted = &args.selection.customers;
        if wanted.is_empty() || wanted.contains(name) {
            tenants.push((
                name.clone(),
                crate::expand::universe_customer(&v.provider, &c.doc),
            ));
        }
    }
    let base = v.base_dir();
    // Each tenant is tried whatever happened in the others; failures are reported at the end.
    let mut failures = Vec::new();
    let mut found_any = false;
    let mut siem_app_id = None;
    for (name, universe) in &tenants {
        let tg = session.graph.tenant(
            &universe.tenant_id,
            session.endpoints.profile(universe.cloud),
        );
        // Each round removes one key's twins; a catalog's twins hide its packages' twins.
        for _round in 0..50 {
            let ids = Ids {
                siem_app_id: siem_app_id.clone(),
                ..Ids::default()
            };
            let twins = match read::read_tenant(&tg, universe, ids, &base).await {
                Ok(state) => {
                    if siem_app_id.is_none() {
                        siem_app_id = state.ids.siem_app_id;
                    }
                    break;
                }
                Err(ReadError::Observe {
                    address,
                    source: ObserveError::Ambiguous(a),
                }) => {
                    let Some(r) = universe.resources.iter().find(|r| r.address == address) else {
                        break;
                    };
                    // Defender roles carry no creation time: the one with role assignments
                    // is the one in use, so it stays.
                    let assigned = if r.spec.kind() == Kind::DefenderRole {
                        tg.list(
                            Service::Graph(Version::Beta),
                            "roleManagement/defender/roleAssignments",
                        )
                        .await
                        .unwrap_or_default()
                    } else {
                        vec![]
                    };
                    let mut ranked = Vec::new();
                    for (index, c) in a.candidates.iter().enumerate() {
                        let id = c.split(" (").next().unwrap_or_default().to_string();
                        let created = created_at(&tg, r.spec.kind(), &id).await;
                        let users = assigned
                            .iter()
                            .filter(|x| str_of(x, "roleDefinitionId") == id)
                            .count();
                        ranked.push((
                            created.is_none(),
                            created,
                            std::cmp::Reverse(users),
                            index,
                            id,
                        ));
                    }
                    // Oldest first; without creation times, the most used, then Graph's order.
                    ranked.sort();
                    let objects = ranked
                        .into_iter()
                        .map(|(_, created, _, _, id)| (id, created))
                        .collect();
                    Twins {
                        address: address.to_string(),
                        what: a.what.clone(),
                        kind: r.spec.kind(),
                        objects,
                    }
                }
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    break;
                }
            };
            found_any = true;
            print_twins(name, &twins);
            if !args.remove_newer {
                break;
            }
            if let Err(e) = remove_newer(&tg, &twins).await {
                failures.push(format!("{name}: {}: {e}", twins.address));
                break;
            }
        }
    }
    if let Some(l) = held
        && let Err(e) = l.release().await
    {
        eprintln!("warning: the apply lease could not be released (it expires on its own): {e}");
    }
    engine::disconnect(sandbox).await;
    if !failures.is_empty() {
        return Err(Error::Failures(failures));
    }
    match (found_any, args.remove_newer) {
        (false, _) => {
            println!("No twins: every natural key matches at most one object.");
            Ok(exit::SUCCESS)
        }
        (true, true) => {
            println!("Twins removed; the oldest of each was kept. Run `mssp plan` to review.");
            Ok(exit::SUCCESS)
        }
        (true, false) => {
            eprintln!(
                "Twins found (a plan blocks these tenants). Keep the oldest, remove the rest: mssp twins --remove-newer"
            );
            Ok(exit::TWINS_FOUND)
        }
    }
}

fn print_twins(tenant: &str, t: &Twins) {
    println!(
        "{tenant}: {} — {} matches {} objects",
        t.address,
        t.what,
        t.objects.len()
    );
    for (i, (id, created)) in t.objects.iter().enumerate() {
        let when = created
            .as_deref()
            .unwrap_or("creation time not given by Graph");
        let role = if i == 0 { "keep  " } else { "newer " };
        println!("  {role} {id}  created {when}");
    }
}

/// Where one object of a kind lives, and which API version serves it.
fn object_path(kind: Kind, id: &str) -> Option<(Version, String)> {
    Some(match kind {
        Kind::Catalog => (Version::V1, format!("{ENTITLEMENT}/catalogs/{id}")),
        Kind::AccessPackage => (Version::V1, format!("{ENTITLEMENT}/accessPackages/{id}")),
        Kind::AssignmentPolicy => (
            Version::V1,
            format!("{ENTITLEMENT}/assignmentPolicies/{id}"),
        ),
        Kind::ConnectedOrganization => (
            Version::V1,
            format!("{ENTITLEMENT}/connectedOrganizations/{id}"),
        ),
        Kind::DefenderRole => (
            Version::Beta,
            format!("roleManagement/defender/roleDefinitions/{id}"),
        ),
        Kind::DefenderRoleAssignment => (
            Version::Beta,
            format!("roleManagement/defender/roleAssignments/{id}"),
        ),
        _ => return None,
    })
}

async fn created_at(tg: &TenantGraph, kind: Kind, id: &str) -> Option<String> {
    let (version, path) = object_path(kind, id)?;
    let v = tg
        .get_opt(Service::Graph(version), &path)
        .await
        .ok()
        .flatten()?;
    v.get("createdDateTime")
        .and_then(Value::as_str)
        .map(|s| s.chars().filter(|c| !c.is_control()).collect())
}

async fn delete(tg: &TenantGraph, kind: Kind, id: &str) -> Result<(), GraphError> {
    let Some((version, path)) = object_path(kind, id) else {
        return Ok(());
    };
    match tg
        .send(Service::Graph(version), Method::DELETE, &path, None, &[])
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// An access package goes after its assignment policies.
async fn delete_package(tg: &TenantGraph, package: &str) -> Result<(), GraphError> {
    let policies = tg
        .list(
            Service::Graph(Version::V1),
            &format!("{ENTITLEMENT}/assignmentPolicies?$expand=accessPackage"),
        )
        .await?;
    for p in policies
        .iter()
        .filter(|p| p.pointer("/accessPackage/id").and_then(Value::as_str) == Some(package))
    {
        delete(tg, Kind::AssignmentPolicy, str_of(p, "id")).await?;
    }
    delete(tg, Kind::AccessPackage, package).await
}

/// Deletes every twin but the first (the oldest), children first. Dependents of the kept twin
/// are untouched: existing assignments point at the oldest objects, which is why it stays.
async fn remove_newer(tg: &TenantGraph, t: &Twins) -> Result<(), RemoveError> {
    if object_path(t.kind, "x").is_none() {
        return Err(RemoveError::ByHand(t.kind));
    }
    for (id, _) in t.objects.iter().skip(1) {
        let result = match t.kind {
            Kind::Catalog => {
                let packages = tg
                    .list(
                        Service::Graph(Version::V1),
                        &format!("{ENTITLEMENT}/accessPackages?$expand=catalog"),
                    )
                    .await?;
                for p in packages.iter().filter(|p| {
                    p.pointer("/catalog/id").and_then(Value::as_str) == Some(id.as_str())
                }) {
                    delete_package(tg, str_of(p, "id")).await?;
                }
                delete(tg, Kind::Catalog, id).await
            }
            Kind::AccessPackage => delete_package(tg, id).await,
            Kind::DefenderRole => {
                let assignments = tg
                    .list(
                        Service::Graph(Version::Beta),
                        "roleManagement/defender/roleAssignments",
                    )
                    .await?;
                for a in assignments
                    .iter()
                    .filter(|a| str_of(a, "roleDefinitionId") == id)
                {
                    delete(tg, Kind::DefenderRoleAssignment, str_of(a, "id")).await?;
                }
                delete(tg, Kind::DefenderRole, id).await
            }
            kind => delete(tg, kind, id).await,
        };
        result?;
        println!("  removed {id}");
    }
    Ok(())
}

/// Why the newer twins could not all be removed.
#[derive(Debug, thiserror::Error)]
enum RemoveError {
    #[error(
        "{0:?} objects are keyed by an immutable unique value in Graph and cannot be twins; remove them by hand"
    )]
    ByHand(Kind),
    #[error("{0}")]
    Graph(#[from] GraphError),
}

fn confirm() -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::NotATerminal);
    }
    eprint!("Delete every twin but the oldest? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(line.trim() == "yes")
}
