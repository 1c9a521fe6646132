//! `mssp portal [CUSTOMER]...`: the tenant-specific links analysts need, from the manifests
//! alone (no sign-in): the Defender portal with `?tid=`, and My Access for the customer's domain.
//! With `--live` (or `--sandbox`) the tenants are read for each access package's own request
//! link, `…/@<domain>#/access-packages/<id>`, since package ids exist only in the tenant.

use crate::cli::PortalArgs;
use crate::exit;
use crate::manifest::CustomerManifest;

pub fn run(args: &PortalArgs) -> u8 {
    let (validated, diags, _) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        return exit::ERROR;
    };
    let mut selected: Vec<&CustomerManifest> = Vec::new();
    for name in &args.customers {
        match v.customer(name) {
            Some(c) => selected.push(&c.doc),
            None => {
                eprintln!("error: no customer named `{name}` in the manifests");
                return exit::ERROR;
            }
        }
    }
    if args.customers.is_empty() {
        selected = v.customers.iter().map(|c| &c.doc).collect();
        selected.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    }
    let packages = if args.live || args.connection.sandbox {
        match package_ids(&v, &selected, &args.connection) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
        }
    } else {
        Default::default()
    };
    let mut code = exit::SUCCESS;
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
        if args.open
            && let Some(link) = &defender
            && let Err(e) = open(link)
        {
            eprintln!("error: cannot open a browser: {e}");
            code = exit::ERROR;
        }
    }
    code
}

/// Access packages per customer: (display name, id when it exists), read from the tenants.
type PackageIds = std::collections::BTreeMap<String, Vec<(String, Option<String>)>>;

fn package_ids(
    v: &crate::validate::Validated,
    customers: &[&CustomerManifest],
    connection: &super::ConnectionArgs,
) -> Result<PackageIds, String> {
    use crate::kinds::{Kind, Spec};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let (session, sandbox) = super::connect(connection, v).await?;
        let base = std::path::Path::new(".");
        let mut out = PackageIds::new();
        for c in customers {
            let desired = crate::expand::expand_customer(&v.provider.doc, c);
            let tg = session
                .graph
                .tenant(&desired.tenant_id, session.endpoints.profile(desired.cloud));
            let state = crate::plan::read::read_tenant(&tg, &desired, Default::default(), base)
                .await
                .map_err(|e| format!("cannot read {}: {e}", c.metadata.name.value))?;
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
        if let Some(sb) = sandbox {
            let _ = sb.shutdown().await;
        }
        Ok(out)
    })
}

/// Opens a URL with the desktop's handler.
fn open(url: &str) -> Result<(), String> {
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
        .map_err(|e| format!("{program}: {e}"))
        .and_then(|s| {
            if s.success() {
                Ok(())
            } else {
                Err(format!("{program} exited with {s}"))
            }
        })
}
