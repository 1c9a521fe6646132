//! `mssp sandbox serve`, and the seed that turns manifests into sandbox tenants.

use std::path::PathBuf;

use super::Error;
use crate::engine;
use crate::exit;
use crate::permissions;
use crate::sandbox::{Seed, ServeArgs, TenantSeed};
use crate::validate::Validated;

/// Alerts seeded per tenant, so `mssp alerts` has something to fetch.
const SEEDED_ALERTS: usize = 5;

/// Sandbox tenants for the provider and every customer of the manifests, with the tool's
/// documented permissions granted to its app in each.
pub fn seed_from(v: &Validated) -> Seed {
    let tenant = |id: &str, domain: &str, name: &str| -> Option<TenantSeed> {
        Some(TenantSeed {
            tenant_id: id.parse().ok()?,
            domain: domain.to_string(),
            display_name: name.to_string(),
            defender_licensed: true,
            alerts: SEEDED_ALERTS,
        })
    };
    let p = &v.provider.doc.spec;
    let provider = tenant(&p.tenant_id, &p.domain, &p.display_name).unwrap_or_else(|| TenantSeed {
        tenant_id: uuid::Uuid::nil(),
        domain: p.domain.value.clone(),
        display_name: p.display_name.clone(),
        defender_licensed: true,
        alerts: 0,
    });
    Seed {
        provider,
        customers: v
            .customers
            .iter()
            .filter_map(|c| {
                let s = &c.doc.spec;
                tenant(&s.tenant_id, &s.domain, &s.display_name)
            })
            .collect(),
        provisioning_roles: permissions::all_graph_roles(),
        // Least privilege per tenant, as `mssp permissions` lists it: the tests prove that
        // list sufficient, and a request the list forgot fails here as it would for real.
        tenant_roles: permissions::needs(v, &[])
            .into_iter()
            .filter_map(|t| {
                let id = t.tenant_id.parse().ok()?;
                Some((id, t.needed().into_iter().map(str::to_string).collect()))
            })
            .collect(),
        defender_roles: vec![],
    }
}

pub fn serve(args: &ServeArgs) -> super::Outcome {
    let seed = if args.seed.is_empty() {
        None
    } else {
        let (validated, diags, _) = engine::load_and_validate(&args.seed);
        eprint!("{}", diags.render_brief());
        let v = validated.ok_or(Error::InvalidSeed)?;
        Some(seed_from(&v))
    };
    let seed = seed.unwrap_or_else(empty_seed);
    engine::block_on(async {
        crate::sandbox::serve(args.options(), seed)
            .await
            .map_err(Error::Sandbox)
    })?;
    Ok(exit::SUCCESS)
}

/// Without manifests: one MSSP tenant and one customer, for trying the API by hand.
fn empty_seed() -> Seed {
    let t = |n: u128, domain: &str, name: &str| TenantSeed {
        tenant_id: uuid::Uuid::from_u128(n),
        domain: domain.into(),
        display_name: name.into(),
        defender_licensed: true,
        alerts: SEEDED_ALERTS,
    };
    Seed {
        provider: t(0x1111, "mssp.onmicrosoft.com", "Sandbox MSSP"),
        customers: vec![t(0x2222, "customer.onmicrosoft.com", "Sandbox customer")],
        provisioning_roles: permissions::all_graph_roles(),
        tenant_roles: Default::default(),
        defender_roles: vec![],
    }
}

/// Where `--sandbox` keeps the in-process sandbox's state and CA.
pub fn default_dir() -> PathBuf {
    PathBuf::from(".mssp-sandbox")
}
