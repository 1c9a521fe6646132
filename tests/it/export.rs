//! `mssp export`: a tenant configured by hand through raw Graph calls becomes a Customer
//! manifest that validates and whose plan is empty.

use std::time::Duration;

use mssp::export::{self, ExportOptions};
use mssp::plan::Op;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{PROVIDER, World, changes};

const WOODGROVE: &str = "0a000000-0000-4000-8000-0000000000c3";
const EM: &str = "identityGovernance/entitlementManagement";

/// A world with one more tenant, Woodgrove, that no manifest describes yet.
async fn world() -> World {
    let w = World::with_seed(
        "world",
        // The by-hand set-up below chains raw calls the way a person clicks: no lag.
        |o| o.replication_delay = std::time::Duration::ZERO,
        |seed| {
            seed.customers.push(mssp::sandbox::TenantSeed {
                tenant_id: WOODGROVE.parse().expect("uuid"),
                domain: "woodgrove.onmicrosoft.com".into(),
                display_name: "Woodgrove Bank".into(),
                defender_licensed: true,
                alerts: 0,
            });
            // Lets export look up the tenant's name and domain.
            seed.provisioning_roles
                .push("CrossTenantInformation.ReadBasic.All".into());
        },
    )
    .await;
    // The provider's SIEM application (and the other customers) exist.
    w.apply().await;
    w
}

async fn call(w: &World, method: Method, path: &str, body: Value) -> Value {
    let body = (method != Method::GET).then_some(body);
    w.graph(WOODGROVE, method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Tier 1 and its approvers, set up the way an engineer following Microsoft's MSSP guide
/// would: portal-style names and descriptions, groups without uniqueName, a Defender role
/// assignment under their own name. Plus two things the manifest cannot express.
async fn configure_by_hand(w: &World) -> Value {
    let group = |name: &str, nick: &str| {
        json!({"displayName": name, "description": format!("{name} (set up by hand)"),
               "mailEnabled": false, "mailNickname": nick, "securityEnabled": true})
    };
    let approvers = id(&call(
        w,
        Method::POST,
        "groups",
        group("Test Approvers", "approvers"),
    )
    .await);
    let tier1 = id(&call(w, Method::POST, "groups", group("Test Tier 1", "tier1")).await);
    let org = id(&call(
        w,
        Method::POST,
        &format!("{EM}/connectedOrganizations"),
        json!({"displayName": "Test SOC", "description": "Our MSSP",
               "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource",
                                     "domainName": "testsoc.onmicrosoft.com", "displayName": "testsoc.onmicrosoft.com"}],
               "state": "configured"}),
    )
    .await);
    let catalog = id(&call(
        w,
        Method::POST,
        &format!("{EM}/catalogs"),
        json!({"displayName": "SOC access", "description": "MSSP analysts",
               "isExternallyVisible": true, "state": "published"}),
    )
    .await);
    let mut packages = Vec::new();
    for (group_id, name, package) in [
        (&approvers, "Test Approvers", "Test Approvers"),
        (&tier1, "Test Tier 1", "SOC Tier 1"),
    ] {
        call(
            w,
            Method::POST,
            &format!("{EM}/resourceRequests"),
            json!({"requestType": "adminAdd", "catalog": {"id": catalog},
                   "resource": {"originId": group_id, "originSystem": "AadGroup", "displayName": name}}),
        )
        .await;
        let resource = catalog_resource(w, &catalog, group_id).await;
        let pkg = id(&call(
            w,
            Method::POST,
            &format!("{EM}/accessPackages"),
            json!({"displayName": package, "description": format!("{name} for the SOC"),
                   "isHidden": false, "catalog": {"id": catalog}}),
        )
        .await);
        let role = resource["roles"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["displayName"] == "Member"))
            .cloned()
            .expect("Member role");
        let scope = resource["scopes"][0].clone();
        let res = json!({"id": resource["id"], "originId": resource["originId"], "originSystem": "AadGroup"});
        call(
            w,
            Method::POST,
            &format!("{EM}/accessPackages/{pkg}/resourceRoleScopes"),
            json!({"role": {"id": role["id"], "displayName": "Member", "originSystem": "AadGroup",
                            "originId": role["originId"], "resource": res},
                   "scope": {"id": scope["id"], "originId": scope["originId"], "originSystem": "AadGroup", "isRootScope": true}}),
        )
        .await;
        packages.push(pkg);
    }
    for (pkg, name, approver) in [
        (
            &packages[0],
            "Approvers from the MSSP",
            json!({"@odata.type": "#microsoft.graph.externalSponsors"}),
        ),
        (
            &packages[1],
            "Initial policy",
            json!({"@odata.type": "#microsoft.graph.groupMembers", "groupId": approvers}),
        ),
    ] {
        call(
            w,
            Method::POST,
            &format!("{EM}/assignmentPolicies"),
            json!({
                "displayName": name,
                "description": "Requests from the MSSP",
                "allowedTargetScope": "specificConnectedOrganizationUsers",
                "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.connectedOrganizationMembers",
                                            "connectedOrganizationId": org}],
                "expiration": {"type": "afterDuration", "duration": "P180D"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": true,
                                      "enableTargetsToSelfUpdateAccess": false,
                                      "enableTargetsToSelfRemoveAccess": true},
                "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": true,
                                            "isRequestorJustificationRequired": true,
                                            "stages": [{"durationBeforeAutomaticDenial": "P14D",
                                                        "isApproverJustificationRequired": true,
                                                        "isEscalationEnabled": false,
                                                        "primaryApprovers": [approver]}]},
                "reviewSettings": {"isEnabled": false},
                "accessPackage": {"id": pkg},
            }),
        )
        .await;
    }
    // A package in the MSSP's catalog that is not a tier.
    call(
        w,
        Method::POST,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Break glass", "description": "Emergency access",
               "isHidden": true, "catalog": {"id": catalog}}),
    )
    .await;
    call(
        w,
        Method::POST,
        "policies/crossTenantAccessPolicy/partners",
        json!({"tenantId": PROVIDER, "inboundTrust": {"isMfaAccepted": true, "isCompliantDeviceAccepted": false}}),
    )
    .await;
    let role = id(&call(
        w,
        Method::POST,
        "beta/roleManagement/defender/roleDefinitions",
        json!({"displayName": "SOC L1", "description": "SOC tier 1 analysts",
               "rolePermissions": [{"allowedResourceActions": ["microsoft.xdr/secops/securitydata/read"]}]}),
    )
    .await);
    call(
        w,
        Method::POST,
        "beta/roleManagement/defender/roleAssignments",
        json!({"displayName": "SOC tier 1", "roleDefinitionId": role,
               "principalIds": [tier1], "directoryScopeIds": ["/"]}),
    )
    .await;
    // The SIEM app, consented with the documented grants, plus one grant too many.
    let siem_app = w
        .objects(PROVIDER, "applications")
        .await
        .into_iter()
        .find(|a| a["uniqueName"] == "tsoc-siem")
        .expect("SIEM app");
    let siem = id(&call(
        w,
        Method::POST,
        "servicePrincipals",
        json!({"appId": siem_app["appId"]}),
    )
    .await);
    for (app_id, roles) in [
        (
            "00000003-0000-0000-c000-000000000000",
            &[
                "SecurityAlert.Read.All",
                "SecurityIncident.Read.All",
                "SecurityEvents.Read.All",
            ][..],
        ),
        (
            "fc780465-2017-40d4-a0c5-307022471b92",
            &["Alert.Read.All"][..],
        ),
    ] {
        let sp = call(
            w,
            Method::GET,
            &format!("servicePrincipals(appId='{app_id}')"),
            Value::Null,
        )
        .await;
        for value in roles {
            let role = sp["appRoles"]
                .as_array()
                .and_then(|r| r.iter().find(|r| r["value"] == *value))
                .unwrap_or_else(|| panic!("app role {value}"));
            call(
                w,
                Method::POST,
                &format!("servicePrincipals/{}/appRoleAssignedTo", id(&sp)),
                json!({"principalId": siem, "resourceId": id(&sp), "appRoleId": role["id"]}),
            )
            .await;
        }
    }
    json!({"approvers": approvers, "tier1": tier1})
}

/// Adding a group to a catalog is asynchronous: wait until it shows.
async fn catalog_resource(w: &World, catalog: &str, group: &str) -> Value {
    for _ in 0..100 {
        let list = call(
            w,
            Method::GET,
            &format!("{EM}/catalogs/{catalog}/resources?$expand=roles,scopes"),
            Value::Null,
        )
        .await;
        if let Some(r) = list["value"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["originId"] == group))
        {
            return r.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("group {group} never appeared in catalog {catalog}");
}

fn options(owner: Option<&str>) -> ExportOptions {
    ExportOptions {
        tenant_id: WOODGROVE.into(),
        name: None,
        domain: None,
        display_name: None,
        cloud: None,
        owner: owner.map(str::to_string),
        keep_days: 90,
        today: jiff::civil::date(2026, 11, 23),
        pending_detections: Default::default(),
    }
}

#[tokio::test]
async fn a_hand_configured_tenant_round_trips_with_an_empty_plan() {
    let w = world().await;
    let hand = configure_by_hand(&w).await;
    let v = w.manifests();
    let e = export::export(
        &v,
        w.session.graph.clone(),
        &w.session.endpoints,
        &options(Some("soc-lead@testsoc.example")),
    )
    .await
    .expect("export");

    assert_eq!(e.name, "woodgrove-bank");
    assert_eq!(e.tiers, ["approvers", "tier1"]);
    let adopted: Vec<(&str, &str)> = e
        .adopted
        .iter()
        .map(|a| (a.resource.as_str(), a.id.as_str()))
        .collect();
    assert!(adopted.contains(&("group/tier1", hand["tier1"].as_str().expect("id"))));
    assert!(adopted.contains(&("group/approvers", hand["approvers"].as_str().expect("id"))));
    assert!(
        adopted
            .iter()
            .any(|(r, _)| *r == "defender-role-assignment/tier1")
    );
    assert!(e.remaining.is_empty(), "plan not empty: {:#?}", e.remaining);
    // Hand-made values are kept as exceptions, not silently overwritten.
    assert!(
        e.excepted
            .iter()
            .any(|x| x.starts_with("assignment-policy/tier1 expiration")),
        "{:#?}",
        e.excepted
    );
    // What the manifest cannot hold is listed.
    let unplaceable = e.unplaceable.join("\n");
    assert!(unplaceable.contains("\"Break glass\""), "{unplaceable}");
    assert!(!unplaceable.contains("\"SOC Tier 1\""), "{unplaceable}");
    assert!(
        e.excepted
            .iter()
            .any(|x| x.starts_with("access-package/tier1 displayName")),
        "{:#?}",
        e.excepted
    );
    assert!(
        unplaceable.contains("SecurityEvents.Read.All"),
        "{unplaceable}"
    );
    assert!(e.notes.iter().any(|n| n.contains("notification rules")));

    // Written next to the others, the manifest validates and the whole plan is empty there.
    std::fs::write(w.path().join("woodgrove.yaml"), &e.manifest).expect("write");
    let plan = w.plan().await;
    let t = plan
        .tenants
        .iter()
        .find(|t| t.tenant_id == WOODGROVE)
        .expect("woodgrove planned");
    assert!(t.blocked_reason.is_none(), "{:?}", t.blocked_reason);
    assert!(
        changes(&plan, "woodgrove-bank").is_empty(),
        "{:?}",
        changes(&plan, "woodgrove-bank")
    );
    assert!(t.actions.iter().all(|a| a.op == Op::NoOp));
    assert!(t.actions.iter().any(|a| !a.excepted.is_empty()));
    assert!(e.manifest.contains("owner: \"soc-lead@testsoc.example\""));
}

#[tokio::test]
async fn without_an_owner_differences_are_listed_and_groups_offered_for_adoption() {
    let w = world().await;
    let hand = configure_by_hand(&w).await;
    let v = w.manifests();
    let e = export::export(
        &v,
        w.session.graph.clone(),
        &w.session.endpoints,
        &options(None),
    )
    .await
    .expect("export");
    assert!(e.excepted.is_empty());
    // Why adoption pins ids: Graph's uniqueName cannot be added to an existing group.
    let err = w
        .graph(
            WOODGROVE,
            Method::PATCH,
            &format!("groups/{}", hand["tier1"].as_str().expect("id")),
            Some(json!({"uniqueName": "tsoc-tier1"})),
        )
        .await
        .expect_err("uniqueName is read-only");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert!(
        e.remaining
            .iter()
            .any(|r| r.starts_with("update group/tier1") && r.contains("description")),
        "{:#?}",
        e.remaining
    );
    assert!(!e.manifest.contains("exceptions:"));

    // Without the adopt entries, the plan would create twins, and says what to do instead.
    let without_adopt: String = {
        let m = &e.manifest;
        let start = m.find("  # Made by hand").expect("adopt block");
        let end = m[start..]
            .find("\n  exceptions:")
            .map_or(m.len(), |i| start + i);
        format!("{}{}", &m[..start], &m[end..])
    };
    std::fs::write(w.path().join("woodgrove.yaml"), without_adopt).expect("write");
    let plan = w.plan().await;
    let t = plan
        .tenants
        .iter()
        .find(|t| t.tenant_id == WOODGROVE)
        .expect("planned");
    let create = t
        .actions
        .iter()
        .find(|a| a.address == "group/tier1")
        .expect("group action");
    assert_eq!(create.op, Op::Create);
    let note = create.note.as_deref().unwrap_or_default();
    assert!(
        note.contains(hand["tier1"].as_str().expect("id")) && note.contains("adopt"),
        "{note}"
    );
}

#[tokio::test]
async fn a_tenant_already_managed_is_refused() {
    let w = World::new("world", |_| {}).await;
    let v = w.manifests();
    let mut o = options(None);
    o.tenant_id = crate::support::ALPHA.into();
    let err = export::export(&v, w.session.graph.clone(), &w.session.endpoints, &o)
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("already managed by customer `alpha`"),
        "{err}"
    );
}

/// The command line: a customer the tool set up, whose manifest was lost, is exported back
/// and plans empty (`--detailed-exitcode` 0); an existing `--out` is not overwritten.
#[test]
fn the_cli_exports_a_customer_whose_manifest_was_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::support::copy_dir(std::path::Path::new("tests/fixtures/world"), dir.path());
    let sandbox = dir.path().join(".sandbox");
    let sandbox_arg = sandbox.display().to_string();
    let manifests = dir.path().display().to_string();
    let mssp = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = mssp(&[
        "apply",
        "--sandbox",
        "--sandbox-dir",
        &sandbox_arg,
        "--auto-approve",
        &manifests,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Each access package gets its own My Access request link once it exists.
    let out = mssp(&[
        "portal",
        "--sandbox",
        "--sandbox-dir",
        &sandbox_arg,
        "--manifests",
        &manifests,
        "alpha",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "Test Tier 1: https://myaccess.microsoft.com/@alpha.onmicrosoft.com#/access-packages/"
        ),
        "{stdout}"
    );

    // Keep only alpha's document: beta's manifest is "lost".
    let customers = dir.path().join("customers.yaml");
    let text = std::fs::read_to_string(&customers).expect("read");
    let alpha = text.split("\n---\n").next().expect("alpha").to_string();
    std::fs::write(&customers, alpha).expect("write");

    let target = dir.path().join("beta.yaml");
    let target_arg = target.display().to_string();
    let export = [
        "export",
        "--sandbox",
        "--sandbox-dir",
        &sandbox_arg,
        "--customer-tenant",
        crate::support::BETA,
        "--name",
        "beta",
        "--domain",
        "beta.onmicrosoft.com",
        "--display-name",
        "Beta Ltd",
        "--out",
        &target_arg,
        &manifests,
    ];
    let out = mssp(&export);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the plan for this manifest is empty"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&target).expect("manifest written");
    assert!(written.contains("trustMfa: false"), "{written}");

    let out = mssp(&[
        "plan",
        "--sandbox",
        "--sandbox-dir",
        &sandbox_arg,
        "--detailed-exitcode",
        &manifests,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let out = mssp(&export);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --force"));
}

/// `spec.adopt` names an adoptable resource of this customer, by GUID, each once.
#[test]
fn bad_adoptions_are_reported_where_they_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::support::copy_dir(std::path::Path::new("tests/fixtures/world"), dir.path());
    let customers = dir.path().join("customers.yaml");
    let text = std::fs::read_to_string(&customers).expect("read");
    let adopt = "  adopt:\n    - resource: group/tier9\n      id: 11111111-2222-3333-4444-555555555555\n    - resource: access-package/tier1\n      id: not-a-guid\n  attestations:\n";
    std::fs::write(&customers, text.replacen("  attestations:\n", adopt, 1)).expect("write");
    let (v, diags, _) = mssp::engine::load_and_validate(&[dir.path().to_path_buf()]);
    assert!(v.is_none());
    let out = diags.render();
    let file = customers.display().to_string();
    for expected in [
        format!("{file}:16:17: error: adoption names unknown resource `group/tier9`"),
        format!("{file}:18:17: error: `access-package/tier1` cannot be adopted"),
        format!("{file}:19:11: error: adopted object id `not-a-guid` is not a GUID"),
    ] {
        assert!(out.contains(&expected), "missing {expected} in:\n{out}");
    }
}
