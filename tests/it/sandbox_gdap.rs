//! The sandbox's GDAP API (partner side): prerequisites, the relationship lifecycle with the
//! customer's approval played by the control endpoint, ETags, asynchronous assignment updates,
//! termination and expiry.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::sandbox::{Env, GRAPH, group_body, seed, start_with};

const REL: &str = "/v1.0/tenantRelationships/delegatedAdminRelationships";
const PCDA: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const SECURITY_OPERATOR: &str = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

async fn gdap_env(delay_ms: u64) -> Env {
    let mut s = seed();
    s.provisioning_roles
        .push("DelegatedAdminRelationship.ReadWrite.All".into());
    start_with(|o| o.replication_delay = Duration::from_millis(delay_ms), s).await
}

fn relationship_body(name: &str, customer: &str, roles: &[&str], auto: &str) -> Value {
    json!({
        "displayName": name, "duration": "P730D", "autoExtendDuration": auto,
        "customer": {"tenantId": customer, "displayName": "Contoso"},
        "accessDetails": {"unifiedRoles": roles.iter().map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()}
    })
}

/// Polls `path` until `field` equals `want` (the sandbox moves status on by time).
async fn wait_for(env: &Env, tok: &str, path: &str, field: &str, want: &str) -> Value {
    for _ in 0..100 {
        let (s, v) = env.call(tok, Method::GET, path, None).await;
        assert_eq!(s, 200, "{v}");
        if v[field] == json!(want) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path}: {field} never became {want}");
}

async fn provision_sp(env: &Env, tok: &str) {
    let (s, v) = env
        .call(
            tok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": PCDA})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["displayName"],
        "Partner Customer Delegated Administration"
    );
}

#[tokio::test]
async fn gdap_needs_its_permission_and_the_partner_service_principal() {
    // Without DelegatedAdminRelationship.* in the token: the permission check answers.
    let plain = start_with(|_| {}, seed()).await;
    let tok = plain.token(plain.provider, GRAPH).await;
    let (s, v) = plain.call(&tok, Method::GET, REL, None).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");

    // With the permission but without the Partner Customer Delegated Administration SP.
    let env = gdap_env(0).await;
    let tok = env.token(env.provider, GRAPH).await;
    let (s, v) = env.call(&tok, Method::GET, REL, None).await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(PCDA),
        "{v}"
    );
    let body = relationship_body("x", &env.customer.to_string(), &[SECURITY_READER], "PT0S");
    let (s, _) = env.call(&tok, Method::POST, REL, Some(body)).await;
    assert_eq!(s, 403, "no write may pass before the SP exists");

    provision_sp(&env, &tok).await;
    let (s, v) = env.call(&tok, Method::GET, REL, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"], json!([]));
    let (s, v) = env
        .call(&tok, Method::GET, &format!("{REL}?$top=301"), None)
        .await;
    assert_eq!(s, 400, "$top is limited to 300: {v}");
}

#[tokio::test]
async fn gdap_relationship_lifecycle_with_etags_and_operations() {
    let env = gdap_env(150).await;
    let tok = env.token(env.provider, GRAPH).await;
    provision_sp(&env, &tok).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let customer = env.customer.to_string();

    // Documented limits on create.
    let ga = relationship_body("ga", &customer, &[GLOBAL_ADMIN], "P180D");
    let (s, v) = env.call(&tok, Method::POST, REL, Some(ga)).await;
    assert_eq!(s, 400, "Global Administrator cannot auto-extend: {v}");
    let mut long = relationship_body("long", &customer, &[SECURITY_READER], "PT0S");
    long["duration"] = json!("P731D");
    let (s, _) = env.call(&tok, Method::POST, REL, Some(long)).await;
    assert_eq!(s, 400, "at most P2Y");
    let mut odd = relationship_body("odd", &customer, &[SECURITY_READER], "P90D");
    odd["duration"] = json!("P30D");
    let (s, _) = env.call(&tok, Method::POST, REL, Some(odd)).await;
    assert_eq!(s, 400, "autoExtendDuration is P0D, PT0S or P180D");

    let body = relationship_body(
        "mssp-contoso",
        &customer,
        &[SECURITY_READER, SECURITY_OPERATOR],
        "P180D",
    );
    let (s, h, rel) = env
        .call_with(&tok, Method::POST, REL, Some(body.clone()), &[])
        .await;
    assert_eq!(s, 201, "{rel}");
    assert_eq!(rel["status"], "created");
    let id = rel["id"].as_str().unwrap().to_string();
    assert!(id.starts_with(&customer), "id is <customer>-<guid>: {id}");
    assert!(h["location"].to_str().unwrap().ends_with(&id));
    let etag = rel["@odata.etag"].as_str().unwrap().to_string();
    let (s, _) = env.call(&tok, Method::POST, REL, Some(body)).await;
    assert_eq!(
        s, 409,
        "displayName is unique across the partner's relationships"
    );

    // ETags: required, and must be current.
    let one = format!("{REL}/{id}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let patch = json!({"autoExtendDuration": "PT0S"});
    let (s, v) = env
        .call(&tok, Method::PATCH, &one, Some(patch.clone()))
        .await;
    assert_eq!(s, 400, "If-Match is required: {v}");
    let (s, _, v) = env
        .call_with(
            &tok,
            Method::PATCH,
            &one,
            Some(patch.clone()),
            &[("If-Match", "W/\"stale\"")],
        )
        .await;
    assert_eq!(s, 412, "{v}");
    let (s, _, v) = env
        .call_with(
            &tok,
            Method::PATCH,
            &one,
            Some(patch),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["autoExtendDuration"], "PT0S");
    assert_ne!(v["@odata.etag"], json!(etag), "an update changes the ETag");

    // No assignment before the customer approves; the approval is the customer's, not an API call.
    let (s, g) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("GDAP Tier 1")),
        )
        .await;
    assert_eq!(s, 201);
    let group = g["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let assignment = |roles: &[&str]| {
        json!({"accessContainer": {"accessContainerId": group, "accessContainerType": "securityGroup"},
               "accessDetails": {"unifiedRoles": roles.iter().map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()}})
    };
    let assignments = format!("{one}/accessAssignments");
    let (s, _) = env
        .call(
            &tok,
            Method::POST,
            &assignments,
            Some(assignment(&[SECURITY_READER])),
        )
        .await;
    assert_eq!(s, 400, "the relationship is not active yet");

    let (s, h, r) = env
        .call_with(
            &tok,
            Method::POST,
            &format!("{one}/requests"),
            Some(json!({"action": "lockForApproval"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert!(h["location"].to_str().unwrap().contains("/requests/"));
    wait_for(&env, &tok, &one, "status", "approvalPending").await;

    env.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    let active = wait_for(&env, &tok, &one, "status", "active").await;
    assert!(active["activatedDateTime"].is_string());

    // Assignments: roles must be a subset of the relationship's; they start pending.
    let (s, v) = env
        .call(
            &tok,
            Method::POST,
            &assignments,
            Some(assignment(&[GLOBAL_ADMIN])),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, a) = env
        .call(
            &tok,
            Method::POST,
            &assignments,
            Some(assignment(&[SECURITY_READER])),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["status"], "pending");
    let aid = a["id"].as_str().unwrap().to_string();
    let one_a = format!("{assignments}/{aid}");
    let a = wait_for(&env, &tok, &one_a, "status", "active").await;
    let a_etag = a["@odata.etag"].as_str().unwrap().to_string();

    // Unchanged update: 200 with the object; a change: 202 + operation.
    let same = json!({"accessDetails": {"unifiedRoles": [{"roleDefinitionId": SECURITY_READER}]}});
    let (s, _, v) = env
        .call_with(
            &tok,
            Method::PATCH,
            &one_a,
            Some(same),
            &[("If-Match", &a_etag)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let more = json!({"accessDetails": {"unifiedRoles": [{"roleDefinitionId": SECURITY_READER}, {"roleDefinitionId": SECURITY_OPERATOR}]}});
    let (s, h, _) = env
        .call_with(
            &tok,
            Method::PATCH,
            &one_a,
            Some(more),
            &[("If-Match", &a_etag)],
        )
        .await;
    assert_eq!(s, 202);
    assert!(h.contains_key("retry-after"));
    let op = h["location"].to_str().unwrap().to_string();
    assert!(op.contains(&format!("{id}/operations/")), "{op}");
    let done = wait_for(&env, &tok, &op, "status", "succeeded").await;
    assert_eq!(
        done["operationType"],
        "delegatedAdminAccessAssignmentUpdate"
    );
    let (_, a) = env.call(&tok, Method::GET, &one_a, None).await;
    assert_eq!(
        a["accessDetails"]["unifiedRoles"].as_array().unwrap().len(),
        2
    );
    assert_ne!(a["@odata.etag"], json!(a_etag));

    // Delete with the old ETag is refused; with the current one it goes.
    let (s, _, _) = env
        .call_with(&tok, Method::DELETE, &one_a, None, &[("If-Match", &a_etag)])
        .await;
    assert_eq!(s, 412);
    let now_etag = a["@odata.etag"].as_str().unwrap().to_string();
    let (s, _, _) = env
        .call_with(
            &tok,
            Method::DELETE,
            &one_a,
            None,
            &[("If-Match", &now_etag)],
        )
        .await;
    assert_eq!(s, 204);

    // An active relationship cannot be deleted, only terminated.
    let (_, rel) = env.call(&tok, Method::GET, &one, None).await;
    let e = rel["@odata.etag"].as_str().unwrap().to_string();
    let (s, _, _) = env
        .call_with(&tok, Method::DELETE, &one, None, &[("If-Match", &e)])
        .await;
    assert_eq!(s, 400);
    let (s, r) = env
        .call(
            &tok,
            Method::POST,
            &format!("{one}/requests"),
            Some(json!({"action": "terminate"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    wait_for(&env, &tok, &one, "status", "terminated").await;
}

#[tokio::test]
async fn gdap_expiry_follows_auto_extension() {
    let env = gdap_env(0).await;
    let tok = env.token(env.provider, GRAPH).await;
    provision_sp(&env, &tok).await;
    let customer = env.customer.to_string();
    let mut ids = Vec::new();
    for (name, auto) in [("fixed", "PT0S"), ("rolling", "P180D")] {
        let (s, rel) = env
            .call(
                &tok,
                Method::POST,
                REL,
                Some(relationship_body(name, &customer, &[SECURITY_READER], auto)),
            )
            .await;
        assert_eq!(s, 201, "{rel}");
        let id = rel["id"].as_str().unwrap().to_string();
        env.call(
            &tok,
            Method::POST,
            &format!("{REL}/{id}/requests"),
            Some(json!({"action": "lockForApproval"})),
        )
        .await;
        env.control(Method::POST, &format!("gdap/{id}/approve"), None)
            .await;
        wait_for(&env, &tok, &format!("{REL}/{id}"), "status", "active").await;
        ids.push(id);
    }
    let end = "2026-01-01T00:00:00Z";
    let v = env
        .control(
            Method::POST,
            &format!("gdap/{}/end", ids[0]),
            Some(json!({"endDateTime": end})),
        )
        .await;
    assert_eq!(v["status"], "expired", "an end date in the past expires it");
    for id in &ids[1..] {
        env.control(Method::POST, &format!("gdap/{id}/expire"), None)
            .await;
    }
    let (_, rolling) = env
        .call(&tok, Method::GET, &format!("{REL}/{}", ids[1]), None)
        .await;
    assert_eq!(rolling["status"], "active", "P180D rolls the end forward");
    let end: jiff::Timestamp = rolling["endDateTime"].as_str().unwrap().parse().unwrap();
    assert!(
        end > jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24 * 179))
            .unwrap()
    );
}
