//! Validation hands later stages typed values: derived names, parsed durations and dates, so
//! nothing downstream parses a manifest string again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mssp::kinds::Spec;
use mssp::validate::ValidCredential;

const DAY: u64 = 86_400;

fn load(dir: &Path) -> mssp::manifest::LoadOutcome {
    mssp::manifest::load_paths(&[dir.to_path_buf()])
}

#[test]
fn the_examples_validate_into_parsed_durations_dates_and_names() {
    let v = super::support::load(Path::new("examples"));
    let siem = v
        .provider
        .siem
        .as_ref()
        .expect("the examples declare a SIEM app");
    assert_eq!(siem.expiry_warning.get(), Duration::from_secs(30 * DAY));
    assert_eq!(siem.expiry_warning.to_string(), "P30D");

    let prefix = &v.provider.doc.spec.naming.prefix.value;
    assert_eq!(v.provider.tiers.len(), v.provider.doc.spec.tiers.len());
    for t in &v.provider.tiers {
        assert_eq!(t.unique_name, format!("{prefix}-{}", t.tier.name.value));
    }

    let contoso = v.customer("contoso").expect("contoso example");
    assert_eq!(contoso.exceptions.len(), 1);
    assert_eq!(
        contoso.exceptions[0].expires,
        jiff::civil::date(2099, 6, 30)
    );

    // Expansion uses the validated names as they are: the group's uniqueName and
    // mailNickname, and the Defender role assignment named after the group.
    let tenant = mssp::expand::expand_customer(&v.provider, &contoso.doc);
    let mut groups = 0;
    for r in &tenant.resources {
        let tier = v
            .provider
            .tiers
            .iter()
            .find(|t| t.tier.name.value == r.address.name);
        match &r.spec {
            Spec::Group(g) => {
                let tier = tier.expect("a group per tier");
                assert_eq!(g.unique_name, tier.unique_name);
                assert_eq!(g.mail_nickname, tier.unique_name);
                groups += 1;
            }
            Spec::DefenderRoleAssignment(a) => {
                assert_eq!(a.display_name, tier.expect("a tier").unique_name);
            }
            Spec::AccessPackage(p) => {
                assert_eq!(p.display_name, tier.expect("a tier").package_display_name);
            }
            _ => {}
        }
    }
    assert!(groups > 0, "contoso has tiers");
}

/// A secret's validity and rotation window reach the password credential parsed.
#[test]
fn secret_lifetimes_reach_the_plan_parsed() {
    let v = super::support::load(Path::new("tests/fixtures/world"));
    let siem = v
        .provider
        .siem
        .as_ref()
        .expect("the world declares a SIEM app");
    let secret = siem
        .credentials
        .iter()
        .find_map(|c| match c {
            ValidCredential::Secret(s) => Some(s),
            _ => None,
        })
        .expect("the world's SIEM app has a client secret");
    assert_eq!(secret.validity.get(), Duration::from_secs(90 * DAY));
    let tenants = mssp::expand::expand_all(&v);
    let spec = tenants
        .iter()
        .flat_map(|t| &t.resources)
        .find_map(|r| match &r.spec {
            Spec::PasswordCredential(p) => Some(p),
            _ => None,
        })
        .expect("the secret is a desired resource");
    assert_eq!(spec.validity.get(), Duration::from_secs(90 * DAY));
    assert_eq!(spec.validity.to_string(), "P90D");
}

/// One name rule for validation and expansion: a tier whose `<prefix>-<tier>` is exactly
/// Graph's 64-character limit validates and becomes that group; one character more is an
/// error at the tier's name.
#[test]
fn the_unique_name_limit_checks_the_name_expansion_uses() {
    let prefix = "p".repeat(10);
    let fits = format!("t{}", "x".repeat(64 - prefix.len() - 2));
    let too_long = format!("{fits}y");
    assert_eq!(prefix.len() + 1 + fits.len(), 64);

    let provider = |tier: &str| {
        format!(
            "apiVersion: mssp.io/v1
kind: Provider
metadata:
  name: names-soc
spec:
  tenantId: 11111111-1111-4111-8111-111111111111
  domain: namessoc.onmicrosoft.com
  displayName: Names SOC
  naming:
    prefix: {prefix}
  tiers:
    - name: {tier}
      group: {{ displayName: Long Tier }}
      accessPackage:
        approval: {{ required: false }}
"
        )
    };
    let customer = |tier: &str| {
        format!(
            "apiVersion: mssp.io/v1
kind: Customer
metadata:
  name: contoso
spec:
  tenantId: 22222222-2222-4222-8222-222222222222
  domain: contoso.onmicrosoft.com
  displayName: Contoso
  access:
    tiers: [{tier}]
"
        )
    };
    let write = |tier: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("provider.yaml"), provider(tier)).expect("write");
        std::fs::write(dir.path().join("contoso.yaml"), customer(tier)).expect("write");
        dir
    };
    let today = jiff::civil::date(2026, 1, 1);

    let dir = write(&fits);
    let loaded = load(dir.path());
    let (v, diags) = mssp::validate::validate(&loaded.set, today);
    let v = v.unwrap_or_else(|| panic!("fits the limit:\n{}", diags.render()));
    let tenant = mssp::expand::expand_customer(&v.provider, &v.customers[0].doc);
    let group = tenant
        .resources
        .iter()
        .find_map(|r| match &r.spec {
            Spec::Group(g) => Some(g),
            _ => None,
        })
        .expect("the tier's group");
    assert_eq!(group.unique_name, format!("{prefix}-{fits}"));
    assert_eq!(group.unique_name.len(), 64);

    let dir = write(&too_long);
    let loaded = load(dir.path());
    let (v, diags) = mssp::validate::validate(&loaded.set, today);
    assert!(v.is_none());
    let rendered = diags.render();
    let at: PathBuf = dir.path().join("provider.yaml");
    assert!(
        rendered.contains(&format!(
            "{}:12:13: error: derived uniqueName `{prefix}-{too_long}` is 65 characters",
            at.display()
        )),
        "{rendered}"
    );
}
