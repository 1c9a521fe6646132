//! `mssp permissions`: the application permissions the manifests need, per tenant, with the
//! admin-consent link to grant them. Offline; `mssp apply` checks the same set against the
//! token's roles before any write.

use std::collections::BTreeSet;

use crate::cli::PermissionsArgs;
use crate::exit;
use crate::kinds::TenantRole;
use crate::plan::Endpoints;

pub fn run(args: &PermissionsArgs) -> u8 {
    let (validated, diags, _) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        return exit::ERROR;
    };
    let client_id = args.client_id.as_deref().unwrap_or("<client id>");
    for t in crate::permissions::needs(&v, &[]) {
        // Reads included: a plan reads more than the manifests write (what it could prune).
        let needed: BTreeSet<&str> = t.needed();
        let role = match t.role {
            TenantRole::Provider => "MSSP tenant",
            TenantRole::Customer => "customer",
        };
        println!("{} ({role}, {}, {} cloud)", t.name, t.tenant_id, t.cloud);
        if needed.is_empty() {
            println!("  nothing to grant: the manifests manage and read nothing here");
            continue;
        }
        for p in &needed {
            println!("  Microsoft Graph application permission: {p}");
        }
        let profile = Endpoints::default().profile(t.cloud);
        println!(
            "  admin consent: {}",
            profile.admin_consent_url(&t.tenant_id, client_id)
        );
    }
    exit::SUCCESS
}
