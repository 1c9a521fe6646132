//! `mssp portal [CUSTOMER]...`: the tenant-specific links analysts need, from the manifests
//! alone (no sign-in): the Defender portal with `?tid=`, and My Access for the customer's domain.
//! With `--live` (or `--sandbox`) the tenants are read for each access package's own request
//! link, `…/@<domain>#/access-packages/<id>`, since package ids exist only in the tenant, and,
//! for customers reached through GDAP, the approval link of each relationship still waiting for
//! the customer's Global Administrator (read in the MSSP tenant).

use super::Error;
use crate::cli::PortalArgs;
use crate::engine::{self, EngineError};
use crate::exit;
use crate::manifest::CustomerManifest;

pub fn run(args: &PortalArgs) -> super::Outcome {
    let v = engine::load_checked(&args.paths, None)?;
    engine::check_customers(&v, &args.customers)?;
    let mut selected: Vec<&CustomerManifest> = args
        .customers
        .iter()
        .filter_map(|name| v.customer(name).map(|c| &c.doc))
        .collect();
    if args.customers.is_empty() {
        selected = v.customers.iter().map(|c| &c.doc).collect();
        selected.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    }
    let (packages, approvals) = if args.live || args.connection.sandbox {
        live(&v, &selected, &args.connection)?
    } else {
        Default::default()
    };
    // A browser that does not open is reported once every customer's links are printed.
    let mut not_opened = None;
    for c in selected {
        let cloud = c
            .spec
            .cloud
            .as_ref()
            .map_or(v.provider.doc.spec.cloud, |l| l.value);
        let profile = crate::plan::Endpoints::default().profile(cloud);
        let tenant = c.spec.tenant_id.value.to_ascii_lowercase();
        let defender = profile.portal_link(&tenant);
        let myaccess = profile.myaccess_link(&c.spec.domain.value);
        println!(
            "{} — {} ({} cloud)",
            c.metadata.name.value, c.spec.display_name, cloud
        );
        match &defender {
            Some(link) => println!("  Defender portal: {link}"),
            None => println!("  Defender portal: none documented for the {cloud} cloud"),
        }
        match &myaccess {
            Some(link) => {
                println!("  My Access (request access packages): {link}");
                for (name, id) in packages.get(&c.metadata.name.value).into_iter().flatten() {
                    match id {
                        Some(id) => println!("    {name}: {link}#/access-packages/{id}"),
                        None => println!("    {name}: not created yet (run mssp apply)"),
                    }
                }
            }
            None => println!("  My Access: no host documented for the {cloud} cloud"),
        }
        let pending = approvals.get(&tenant).into_iter().flatten();
        for (i, (name, link)) in pending.enumerate() {
            if i == 0 {
                println!(
                    "  GDAP approval (for a Global Administrator of the customer tenant to open):"
                );
            }
            println!("    {name}: {link}");
        }
        if args.open
            && let Some(link) = &defender
            && let Err(e) = open(link)
        {
            not_opened = Some(e);
        }
    }
    match not_opened {
        Some(e) => Err(Error::Browser(e)),
        None => Ok(exit::SUCCESS),
    }
}

/// Access packages per customer: (display name, id when it exists), read from the tenants.
type PackageIds = std::collections::BTreeMap<String, Vec<(String, Option<String>)>>;

/// GDAP relationships awaiting approval per customer tenant id: (name, approval link).
type Approvals = std::collections::BTreeMap<String, Vec<(String, String)>>;

/// The links only the tenants know: access package ids, and pending GDAP approvals.
fn live(
    v: &crate::validate::Validated,
    customers: &[&CustomerManifest],
    connection: &super::ConnectionArgs,
) -> Result<(PackageIds, Approvals), EngineError> {
    use crate::kinds::{Kind, Spec};
    engine::block_on(async {
        let (session, sandbox) = engine::connect(connection, v).await?;
        let base = std::path::Path::new(".");
        let mut out = PackageIds::new();
        for c in customers {
            let desired = crate::expand::expand_customer(&v.provider, c);
            let tg = session
                .graph
                .tenant(&desired.tenant_id, session.endpoints.profile(desired.cloud));
            let state = crate::plan::read::read_tenant(&tg, &desired, Default::default(), base)
                .await
                .map_err(|source| EngineError::ReadTenant {
                    tenant: c.metadata.name.value.clone(),
                    source,
                })?;
            let list = desired
                .resources
                .iter()
                .filter(|r| r.address.kind == Kind::AccessPackage)
                .filter_map(|r| match &r.spec {
                    Spec::AccessPackage(p) => Some((
                        p.display_name.clone(),
                        state.ids.of(&r.address).map(str::to_string),
                    )),
                    _ => None,
                })
                .collect();
            out.insert(c.metadata.name.value.clone(), list);
        }
        let approvals = if customers.iter().any(|c| c.spec.access.gdap.is_some()) {
            pending_approvals(&session, v, base).await?
        } else {
            Approvals::new()
        };
        if let Some(sb) = sandbox {
            let _ = sb.shutdown().await;
        }
        Ok((out, approvals))
    })
}

/// Relationships in `approvalPending`, from the MSSP tenant's read (as the plan reads it).
async fn pending_approvals(
    session: &crate::session::Session,
    v: &crate::validate::Validated,
    base: &std::path::Path,
) -> Result<Approvals, EngineError> {
    use crate::kinds::gdap_relationship::{LIST_KEY, status};
    use crate::model::observe::str_of;
    let provider = crate::expand::provider_tenant(v);
    let tg = session.graph.tenant(
        &provider.tenant_id,
        session.endpoints.profile(provider.cloud),
    );
    let state = crate::plan::read::read_tenant(&tg, &provider, Default::default(), base)
        .await
        .map_err(|source| EngineError::ReadTenant {
            tenant: provider.name.clone(),
            source,
        })?;
    let mut out = Approvals::new();
    for r in state.snapshot.items(LIST_KEY).unwrap_or_default() {
        if status(r) != "approvalPending" {
            continue;
        }
        let tenant = r
            .pointer("/customer/tenantId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        out.entry(tenant).or_default().push((
            crate::graph::sanitize::clean_line(str_of(r, "displayName")),
            crate::graph::sanitize::clean_line(&crate::gdap::approval_link(str_of(r, "id"))),
        ));
    }
    Ok(out)
}

/// Why the desktop's URL handler did not open the link.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{program}: {source}")]
    NotRun {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("{program} exited with {status}")]
    Failed {
        program: &'static str,
        status: std::process::ExitStatus,
    },
}

/// Opens a URL with the desktop's handler.
fn open(url: &str) -> Result<(), BrowserError> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(url)
        .status()
        .map_err(|source| BrowserError::NotRun { program, source })
        .and_then(|status| {
            if status.success() {
                Ok(())
            } else {
                Err(BrowserError::Failed { program, status })
            }
        })
}
