//! Sandbox behaviour over real HTTPS: each test starts its own sandbox on a free port and talks
//! to it with a reqwest client that trusts only the generated CA.

use std::time::Duration;

use mssp::sandbox::{FaultSettings, Sandbox, SandboxOptions, Seed, TenantSeed};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

pub const GRAPH: &str = "https://graph.microsoft.com/.default";
pub const MDE: &str = "https://api.securitycenter.microsoft.com/.default";

pub struct Env {
    pub sb: Sandbox,
    pub http: reqwest::Client,
    pub provider: Uuid,
    pub customer: Uuid,
    pub unlicensed: Uuid,
    /// Holds ca.pem for the sandbox's lifetime.
    pub _dir: tempfile::TempDir,
}

fn tenant(domain: &str, licensed: bool, alerts: usize) -> TenantSeed {
    TenantSeed {
        tenant_id: Uuid::new_v4(),
        domain: domain.into(),
        display_name: domain.split('.').next().unwrap_or(domain).into(),
        defender_licensed: licensed,
        alerts,
    }
}

pub fn seed() -> Seed {
    Seed {
        provider: tenant("mssp.onmicrosoft.com", true, 0),
        customers: vec![
            tenant("contoso.onmicrosoft.com", true, 5),
            tenant("fabrikam.onmicrosoft.com", false, 0),
        ],
        provisioning_roles: [
            "Group.ReadWrite.All",
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "EntitlementManagement.ReadWrite.All",
            "Policy.ReadWrite.CrossTenantAccess",
            "CrossTenantInformation.ReadBasic.All",
            "RoleManagement.ReadWrite.Defender",
            "SecurityAlert.Read.All",
            "SecurityIncident.Read.All",
        ]
        .map(String::from)
        .to_vec(),
        tenant_roles: Default::default(),
        defender_roles: vec!["Alert.Read.All".into()],
    }
}

pub async fn start_with(f: impl FnOnce(&mut SandboxOptions), seed: Seed) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions {
        ca_dir: dir.path().to_path_buf(),
        retry_after_secs: 0,
        // One behaviour at a time: the lag has tests of its own.
        replication_delay: std::time::Duration::ZERO,
        ..Default::default()
    };
    f(&mut opts);
    let (provider, customer, unlicensed) = (
        seed.provider.tenant_id,
        seed.customers[0].tenant_id,
        seed.customers[1].tenant_id,
    );
    let sb = Sandbox::start(opts, seed).await.unwrap();
    let ca = reqwest::Certificate::from_pem(std::fs::read(&sb.ca_cert_path).unwrap().as_slice())
        .unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Env {
        sb,
        http,
        provider,
        customer,
        unlicensed,
        _dir: dir,
    }
}

pub async fn start() -> Env {
    start_with(|_| {}, seed()).await
}

impl Env {
    pub async fn token_response(&self, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.sb.url))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn token(&self, tenant: Uuid, scope: &str) -> String {
        let (status, body) = self
            .token_response(
                &tenant.to_string(),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &self.sb.client_id),
                    ("client_secret", &self.sb.client_secret),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn call_with(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.sb.url)
        };
        let mut req = self.http.request(method, url).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            headers,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, b) = self.call_with(token, method, path, body, &[]).await;
        (s, b)
    }

    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/_sandbox/{path}", self.sb.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }
}

pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub fn group_body(name: &str) -> Value {
    json!({"displayName": name, "mailEnabled": false, "mailNickname": name.replace(' ', ""), "securityEnabled": true})
}

#[tokio::test]
async fn tokens_carry_per_tenant_roles_and_errors_are_aadsts() {
    let env = start().await;
    let t = claims(&env.token(env.customer, GRAPH).await);
    assert_eq!(t["aud"], "https://graph.microsoft.com");
    assert_eq!(t["tid"], env.customer.to_string());
    assert_eq!(t["appid"], env.sb.client_id);
    assert!(
        t["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Group.ReadWrite.All")
    );
    assert!(t["exp"].as_i64().unwrap() - t["iat"].as_i64().unwrap() == 3599);
    let mde = claims(&env.token(env.customer, MDE).await);
    assert_eq!(mde["roles"], json!(["Alert.Read.All"]));
    let (id, secret) = (env.sb.client_id.clone(), env.sb.client_secret.clone());
    let form = |tenant: &str, client: &str, secret: &str, scope: &str| {
        (
            tenant.to_string(),
            vec![
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("client_id".into(), client.into()),
                ("client_secret".into(), secret.into()),
                ("scope".into(), scope.into()),
            ],
        )
    };
    let cases = [
        (
            form(&Uuid::new_v4().to_string(), &id, &secret, GRAPH),
            90002,
        ),
        (
            form(
                &env.customer.to_string(),
                &Uuid::new_v4().to_string(),
                &secret,
                GRAPH,
            ),
            700016,
        ),
        (
            form(&env.customer.to_string(), &id, "wrong", GRAPH),
            7000215,
        ),
        (form(&env.unlicensed.to_string(), &id, &secret, MDE), 500011),
    ];
    for ((tenant, f), code) in cases {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (status, body) = env.token_response(&tenant, &pairs).await;
        assert!(status == 400 || status == 401, "{status}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{code}:"))
        );
        assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
    }
    // No SP in the tenant: AADSTS7000229. Create a fresh multi-tenant app in the provider and ask for a token in the customer.
    let tok = env.token(env.provider, GRAPH).await;
    let (s, app) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "other", "signInAudience": "AzureADMultipleOrgs"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, pw) = env
        .call(
            &tok,
            Method::POST,
            &format!(
                "/v1.0/applications/{}/addPassword",
                app["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let f = [
        ("grant_type", "client_credentials"),
        ("client_id", app["appId"].as_str().unwrap()),
        ("client_secret", pw["secretText"].as_str().unwrap()),
        ("scope", GRAPH),
    ];
    let (status, body) = env.token_response(&env.customer.to_string(), &f).await;
    assert_eq!(
        (status, body["error_codes"].clone()),
        (401, json!([7000229])),
        "{body}"
    );
    // The new secret works in the home tenant (SP-less app → 7000229 there too until an SP exists).
    let (s, _) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app["appId"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (status, body) = env.token_response(&env.provider.to_string(), &f).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        claims(body["access_token"].as_str().unwrap())
            .get("roles")
            .is_none(),
        "nothing granted, no roles claim"
    );
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn azure_identity_client_secret_credential_gets_a_token() {
    use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
    use azure_core::credentials::TokenCredential;
    use azure_core::http::{ClientOptions, Transport};
    let env = start().await;
    let mut custom = CustomConfiguration::default();
    custom.authority_host = env.sb.url.clone();
    let options = azure_identity::ClientSecretCredentialOptions {
        client_options: ClientOptions {
            cloud: Some(std::sync::Arc::new(CloudConfiguration::Custom(custom))),
            transport: Some(Transport::new(std::sync::Arc::new(env.http.clone()))),
            ..Default::default()
        },
    };
    let cred = azure_identity::ClientSecretCredential::new(
        &env.customer.to_string(),
        env.sb.client_id.clone(),
        env.sb.client_secret.clone().into(),
        Some(options),
    )
    .unwrap();
    let token = cred.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(
        claims(token.token.secret())["tid"],
        env.customer.to_string()
    );
    let (s, _) = env
        .call(token.token.secret(), Method::GET, "/v1.0/groups", None)
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn groups_verbs_upsert_and_error_shape() {
    let env = start().await;
    let tok = env.token(env.customer, GRAPH).await;
    let (s, g) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("Tier 1")),
        )
        .await;
    assert_eq!(s, 201);
    let id = g["id"].as_str().unwrap();
    assert_eq!(
        env.call(
            &tok,
            Method::PATCH,
            &format!("/v1.0/groups/{id}"),
            Some(json!({"description": "d"}))
        )
        .await
        .0,
        204
    );
    let (s, got) = env
        .call(
            &tok,
            Method::GET,
            &format!("/v1.0/groups/{id}?$select=id,description"),
            None,
        )
        .await;
    assert_eq!(
        (s, got["description"].clone(), got.get("displayName")),
        (200, json!("d"), None)
    );
    // Upsert: 404 without Prefer, 201 with it, 204 on update.
    let path = "/v1.0/groups(uniqueName='mssp-contoso-tier2')";
    assert_eq!(
        env.call(&tok, Method::PATCH, path, Some(group_body("Tier 2")))
            .await
            .0,
        404
    );
    let prefer = [("Prefer", "create-if-missing")];
    let (s, _, created) = env
        .call_with(
            &tok,
            Method::PATCH,
            path,
            Some(group_body("Tier 2")),
            &prefer,
        )
        .await;
    assert_eq!(
        (s, created["uniqueName"].clone()),
        (201, json!("mssp-contoso-tier2"))
    );
    assert_eq!(
        env.call_with(
            &tok,
            Method::PATCH,
            path,
            Some(json!({"description": "x"})),
            &prefer
        )
        .await
        .0,
        204
    );
    // Errors carry request ids in body and header; unknown/read-only properties are named.
    let (s, h, e) = env.call_with(&tok, Method::POST, "/v1.0/groups", Some(json!({"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true, "colour": "red"})), &[]).await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (400, json!("Request_BadRequest"))
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("'colour'"));
    assert_eq!(
        h["request-id"].to_str().unwrap(),
        e["error"]["innerError"]["request-id"].as_str().unwrap()
    );
    let (s, e) = env
        .call(
            &tok,
            Method::PATCH,
            &format!("/v1.0/groups/{id}"),
            Some(json!({"createdDateTime": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'createdDateTime' is read-only")
    );
    // Unsupported filter / $skip on directory objects.
    let (s, e) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/groups?$filter=description eq 'x'",
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (400, json!("Request_UnsupportedQuery"))
    );
    assert_eq!(
        env.call(&tok, Method::GET, "/v1.0/groups?$skip=1", None)
            .await
            .0,
        400
    );
    let (s, list) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/groups?$filter=uniqueName eq 'mssp-contoso-tier2'",
            None,
        )
        .await;
    assert_eq!((s, list["value"].as_array().unwrap().len()), (200, 1));
    // Security groups are deleted for good.
    assert_eq!(
        env.call(&tok, Method::DELETE, &format!("/v1.0/groups/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        env.call(&tok, Method::GET, &format!("/v1.0/groups/{id}"), None)
            .await
            .0,
        404
    );
    let (_, deleted) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/directory/deletedItems/microsoft.graph.group",
            None,
        )
        .await;
    assert_eq!(deleted["value"], json!([]));
    // Missing / bad token.
    let (s, _, e) = env
        .call_with("garbage", Method::GET, "/v1.0/groups", None, &[])
        .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (401, json!("InvalidAuthenticationToken"))
    );
    let mde = env.token(env.customer, MDE).await;
    assert_eq!(
        env.call(&mde, Method::GET, "/v1.0/groups", None).await.0,
        401,
        "a Defender token is not a Graph token"
    );
}

#[tokio::test]
async fn paging_with_page_size_two_returns_everything_once() {
    let env = start_with(|o| o.page_size = 2, seed()).await;
    let tok = env.token(env.customer, GRAPH).await;
    for i in 0..5 {
        assert_eq!(
            env.call(
                &tok,
                Method::POST,
                "/v1.0/groups",
                Some(group_body(&format!("g{i}")))
            )
            .await
            .0,
            201
        );
    }
    let mut url = "/v1.0/groups?$select=displayName".to_string();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (s, page) = env.call(&tok, Method::GET, &url, None).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["displayName"].as_str().unwrap().to_string()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("$skiptoken="));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["g0", "g1", "g2", "g3", "g4"]);
    let (_, top) = env
        .call(&tok, Method::GET, "/v1.0/groups?$top=4", None)
        .await;
    assert_eq!(top["value"].as_array().unwrap().len(), 4);
    assert_eq!(
        env.call(&tok, Method::GET, "/v1.0/groups?$top=1000", None)
            .await
            .0,
        400
    );
    assert_eq!(
        env.call(&tok, Method::GET, "/v1.0/groups?$skiptoken=forged", None)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn applications_secrets_fics_and_service_principals() {
    let env = start().await;
    let tok = env.token(env.provider, GRAPH).await;
    let body = json!({"displayName": "SIEM", "uniqueName": "mssp-siem", "signInAudience": "AzureADMultipleOrgs"});
    let (s, app) = env
        .call(&tok, Method::POST, "/v1.0/applications", Some(body.clone()))
        .await;
    assert_eq!(s, 201);
    let (s, e) = env
        .call(&tok, Method::POST, "/v1.0/applications", Some(body))
        .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("uniqueName")
    );
    let id = app["id"].as_str().unwrap();
    let app_id = app["appId"].as_str().unwrap();
    // secretText exactly once.
    let (s, pw) = env
        .call(
            &tok,
            Method::POST,
            &format!("/v1.0/applications(appId='{app_id}')/addPassword"),
            Some(json!({"passwordCredential": {"displayName": "siem"}})),
        )
        .await;
    assert_eq!(s, 200);
    let secret = pw["secretText"].as_str().unwrap();
    assert_eq!(pw["hint"].as_str().unwrap(), &secret[..3]);
    let (_, got) = env
        .call(&tok, Method::GET, &format!("/v1.0/applications/{id}"), None)
        .await;
    assert_eq!(got["passwordCredentials"][0]["secretText"], Value::Null);
    assert!(
        !got.to_string().contains(secret),
        "secret never shown again"
    );
    let log = env.control(Method::GET, "requests", None).await;
    assert!(!log.to_string().contains(secret) && !log.to_string().contains(&env.sb.client_secret));
    assert_eq!(
        env.call(
            &tok,
            Method::POST,
            &format!("/v1.0/applications/{id}/removePassword"),
            Some(json!({"keyId": pw["keyId"]}))
        )
        .await
        .0,
        204
    );
    // Upsert by uniqueName.
    let prefer = [("Prefer", "create-if-missing")];
    assert_eq!(
        env.call_with(
            &tok,
            Method::PATCH,
            "/v1.0/applications(uniqueName='mssp-siem')",
            Some(json!({"displayName": "SIEM 2"})),
            &prefer
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.call_with(
            &tok,
            Method::PATCH,
            "/v1.0/applications(uniqueName='other')",
            Some(json!({"displayName": "O"})),
            &prefer
        )
        .await
        .0,
        201
    );
    // FICs: create, duplicate name conflict, one audience only.
    let fic = json!({"name": "gh", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:x/y:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]});
    let fics = format!("/v1.0/applications/{id}/federatedIdentityCredentials");
    assert_eq!(
        env.call(&tok, Method::POST, &fics, Some(fic.clone()))
            .await
            .0,
        201
    );
    assert_eq!(
        env.call(&tok, Method::POST, &fics, Some(fic.clone()))
            .await
            .0,
        409
    );
    let mut two = fic.clone();
    two["name"] = json!("gh2");
    two["audiences"] = json!(["a", "b"]);
    assert_eq!(env.call(&tok, Method::POST, &fics, Some(two)).await.0, 400);
    assert_eq!(
        env.call(
            &tok,
            Method::PATCH,
            &format!("{fics}/gh"),
            Some(json!({"name": "renamed"}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        env.call(&tok, Method::DELETE, &format!("{fics}/gh"), None)
            .await
            .0,
        204
    );
    // SP in the customer tenant for a multi-tenant app; second POST conflicts.
    let ctok = env.token(env.customer, GRAPH).await;
    let (s, sp) = env
        .call(
            &ctok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(sp["appOwnerOrganizationId"], env.provider.to_string());
    assert_eq!(
        env.call(
            &ctok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app_id}))
        )
        .await
        .0,
        409
    );
    // Single-tenant app in another tenant: NoBackingApplicationObject.
    let (_, single) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "single", "signInAudience": "AzureADMyOrg"})),
        )
        .await;
    let (s, e) = env
        .call(
            &ctok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": single["appId"]})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"][0]["code"].clone()),
        (400, json!("NoBackingApplicationObject"))
    );
    // Grant Graph SecurityAlert.Read.All to the SP; duplicate refused; visible from both sides.
    let (_, graph) = env.call(&ctok, Method::GET, "/v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id,appRoles", None).await;
    let role = graph["appRoles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "SecurityAlert.Read.All")
        .unwrap()["id"]
        .clone();
    assert_eq!(role, "472e4a4d-bb4a-4026-98d1-0b0d74cb74a5");
    let grant = json!({"principalId": sp["id"], "resourceId": graph["id"], "appRoleId": role});
    let path = format!(
        "/v1.0/servicePrincipals/{}/appRoleAssignedTo",
        graph["id"].as_str().unwrap()
    );
    let (s, a) = env
        .call(&ctok, Method::POST, &path, Some(grant.clone()))
        .await;
    assert_eq!(s, 201);
    assert!(
        Uuid::parse_str(a["id"].as_str().unwrap()).is_err(),
        "assignment ids are opaque, not GUIDs"
    );
    assert_eq!(
        env.call(&ctok, Method::POST, &path, Some(grant)).await.0,
        400
    );
    let (_, mine) = env
        .call(
            &ctok,
            Method::GET,
            &format!(
                "/v1.0/servicePrincipals/{}/appRoleAssignments",
                sp["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(mine["value"].as_array().unwrap().len(), 1);
    // Soft delete and restore of the app.
    assert_eq!(
        env.call(
            &tok,
            Method::DELETE,
            &format!("/v1.0/applications/{id}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.call(&tok, Method::GET, &format!("/v1.0/applications/{id}"), None)
            .await
            .0,
        404
    );
    let (_, del) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/directory/deletedItems/microsoft.graph.application",
            None,
        )
        .await;
    assert_eq!(del["value"][0]["id"], id);
    let (s, restored) = env
        .call(
            &tok,
            Method::POST,
            &format!("/v1.0/directory/deletedItems/{id}/restore"),
            None,
        )
        .await;
    assert_eq!((s, restored["appId"].clone()), (200, json!(app_id)));
    assert_eq!(
        env.call(
            &tok,
            Method::DELETE,
            &format!("/v1.0/applications/{id}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.call(
            &tok,
            Method::DELETE,
            &format!("/v1.0/directory/deletedItems/{id}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.call(
            &tok,
            Method::GET,
            &format!("/v1.0/directory/deletedItems/{id}"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn replication_delay_hides_new_objects_from_reads_and_references() {
    let env = start_with(|o| o.replication_delay = Duration::from_millis(400), seed()).await;
    let tok = env.token(env.provider, GRAPH).await;
    let (_, app) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "fresh"})),
        )
        .await;
    let (s, e) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app["appId"]})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"][0]["code"].clone()),
        (400, json!("NoBackingApplicationObject"))
    );
    let (s, e) = env
        .call(
            &tok,
            Method::GET,
            &format!("/v1.0/applications/{}", app["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (404, json!("Request_ResourceNotFound"))
    );
    let (_, list) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/applications?$filter=displayName eq 'fresh'",
            None,
        )
        .await;
    assert_eq!(list["value"], json!([]));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        env.call(
            &tok,
            Method::GET,
            &format!("/v1.0/applications/{}", app["id"].as_str().unwrap()),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        env.call(
            &tok,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app["appId"]}))
        )
        .await
        .0,
        201
    );
}

#[tokio::test]
async fn a_missing_role_is_denied_with_403() {
    let env = start().await;
    let tok = env.token(env.customer, GRAPH).await;
    let (_, me) = env
        .call(
            &tok,
            Method::GET,
            &format!("/v1.0/servicePrincipals(appId='{}')", env.sb.client_id),
            None,
        )
        .await;
    let (_, grants) = env
        .call(
            &tok,
            Method::GET,
            &format!(
                "/v1.0/servicePrincipals/{}/appRoleAssignments",
                me["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let group_rw = grants["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["appRoleId"] == "62a82d76-70ea-41e2-9197-370581804d09")
        .unwrap();
    let path = format!(
        "/v1.0/servicePrincipals/{}/appRoleAssignedTo/{}",
        group_rw["resourceId"].as_str().unwrap(),
        group_rw["id"].as_str().unwrap()
    );
    assert_eq!(env.call(&tok, Method::DELETE, &path, None).await.0, 204);
    let fewer = env.token(env.customer, GRAPH).await;
    assert!(
        !claims(&fewer)["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Group.ReadWrite.All")
    );
    let (s, e) = env
        .call(&fewer, Method::POST, "/v1.0/groups", Some(group_body("x")))
        .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (403, json!("Authorization_RequestDenied"))
    );
    assert_eq!(
        e["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    // Other tenants keep their grant.
    let other = env.token(env.provider, GRAPH).await;
    assert_eq!(
        env.call(&other, Method::POST, "/v1.0/groups", Some(group_body("x")))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn entitlement_management_quirks() {
    let env = start_with(|o| o.replication_delay = Duration::from_millis(300), seed()).await;
    let tok = env.token(env.customer, GRAPH).await;
    let em = "/v1.0/identityGovernance/entitlementManagement";
    let org = json!({"displayName": "MSSP", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "mssp.onmicrosoft.com", "displayName": "mssp"}], "state": "configured"});
    let (s, created) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/connectedOrganizations"),
            Some(org),
        )
        .await;
    assert_eq!((s, created["identitySources"].clone()), (201, json!([])));
    let (s, g) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("Tier 1")),
        )
        .await;
    assert_eq!(s, 201);
    let (_, cat) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/catalogs"),
            Some(json!({"displayName": "MSSP Accesses", "isExternallyVisible": true})),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let filter = format!(
        "{em}/connectedOrganizations?$filter=identitySources/any(is:is/microsoft.graph.azureActiveDirectoryTenant/tenantId eq '{}')",
        env.provider
    );
    let (_, found) = env.call(&tok, Method::GET, &filter, None).await;
    assert_eq!(
        found["value"][0]["identitySources"][0]["tenantId"],
        env.provider.to_string(),
        "domain converted to tenant"
    );
    let org_id = found["value"][0]["id"].as_str().unwrap();
    let (s, patched) = env
        .call(
            &tok,
            Method::PATCH,
            &format!("{em}/connectedOrganizations/{org_id}"),
            Some(json!({"description": "soc"})),
        )
        .await;
    assert_eq!((s, patched["description"].clone()), (202, json!("soc")));
    // Resource request: 201 delivered, resource appears after the delay.
    let cat_id = cat["id"].as_str().unwrap();
    let rr = json!({"requestType": "adminAdd", "resource": {"originId": g["id"], "originSystem": "AadGroup"}, "catalog": {"id": cat_id}});
    let (s, r) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/resourceRequests"),
            Some(rr),
        )
        .await;
    assert_eq!((s, r["state"].clone()), (201, json!("delivered")));
    let (_, res) = env
        .call(
            &tok,
            Method::GET,
            &format!("{em}/catalogs/{cat_id}/resources?$expand=roles,scopes"),
            None,
        )
        .await;
    assert_eq!(res["value"], json!([]), "not visible yet");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, res) = env
        .call(
            &tok,
            Method::GET,
            &format!("{em}/catalogs/{cat_id}/resources?$expand=roles,scopes"),
            None,
        )
        .await;
    let resource = &res["value"][0];
    let member = resource["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()
        .clone();
    assert_eq!(
        member["originId"],
        format!("Member_{}", g["id"].as_str().unwrap())
    );
    let (_, roles) = env.call(&tok, Method::GET, &format!("{em}/catalogs/{cat_id}/resourceRoles?$filter=originSystem eq 'AadGroup' and resource/id eq '{}'&$expand=resource", resource["id"].as_str().unwrap()), None).await;
    assert_eq!(roles["value"].as_array().unwrap().len(), 2);
    // Access package + role scope (id = role_scope) + PUT-only policy.
    let (s, pkg) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/accessPackages"),
            Some(json!({"displayName": "Tier 1", "catalog": {"id": cat_id}})),
        )
        .await;
    assert_eq!(s, 201);
    let pkg_id = pkg["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let scope = &resource["scopes"][0];
    let (s, rs) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/accessPackages/{pkg_id}/resourceRoleScopes"),
            Some(json!({"role": {"id": member["id"]}, "scope": {"id": scope["id"]}})),
        )
        .await;
    assert_eq!(
        (s, rs["id"].clone()),
        (
            201,
            json!(format!(
                "{}_{}",
                member["id"].as_str().unwrap(),
                scope["id"].as_str().unwrap()
            ))
        )
    );
    let policy = json!({"displayName": "P", "allowedTargetScope": "specificConnectedOrganizationUsers",
        "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.connectedOrganizationMembers", "connectedOrganizationId": org_id}],
        "expiration": {"type": "afterDuration", "duration": "P365D"}, "accessPackage": {"id": pkg_id}});
    let (s, p) = env
        .call(
            &tok,
            Method::POST,
            &format!("{em}/assignmentPolicies"),
            Some(policy.clone()),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (s, e) = env
        .call(
            &tok,
            Method::PATCH,
            &format!("{em}/assignmentPolicies/{pid}"),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(s, 405, "{e}");
    let mut replaced = policy.clone();
    replaced["displayName"] = json!("P2");
    replaced.as_object_mut().unwrap().remove("expiration");
    let (s, put) = env
        .call(
            &tok,
            Method::PUT,
            &format!("{em}/assignmentPolicies/{pid}"),
            Some(replaced),
        )
        .await;
    assert_eq!(
        (
            s,
            put["displayName"].clone(),
            put["expiration"]["type"].clone()
        ),
        (200, json!("P2"), json!("noExpiration")),
        "omitted settings reset"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, list) = env.call(&tok, Method::GET, &format!("{em}/assignmentPolicies?$filter=accessPackage/id eq '{pkg_id}'&$expand=accessPackage"), None).await;
    assert_eq!(list["value"][0]["accessPackage"]["displayName"], "Tier 1");
    // A group that does not exist cannot be added.
    let rr = json!({"requestType": "adminAdd", "resource": {"originId": Uuid::new_v4(), "originSystem": "AadGroup"}, "catalog": {"id": cat_id}});
    assert_eq!(
        env.call(
            &tok,
            Method::POST,
            &format!("{em}/resourceRequests"),
            Some(rr)
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn partners_defender_rbac_tenant_info_and_alerts() {
    let env = start().await;
    let tok = env.token(env.customer, GRAPH).await;
    let partner = json!({"tenantId": env.provider.to_string(), "inboundTrust": {"isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false}});
    let p = "/v1.0/policies/crossTenantAccessPolicy/partners";
    assert_eq!(
        env.call(&tok, Method::POST, p, Some(partner.clone()))
            .await
            .0,
        201
    );
    assert_eq!(env.call(&tok, Method::POST, p, Some(partner)).await.0, 409);
    assert_eq!(
        env.call(
            &tok,
            Method::PATCH,
            &format!("{p}/{}", env.provider),
            Some(json!({"automaticUserConsentSettings": {"inboundAllowed": true}}))
        )
        .await
        .0,
        204
    );
    let (s, info) = env
        .call(
            &tok,
            Method::GET,
            &format!(
                "/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='{}')",
                env.provider
            ),
            None,
        )
        .await;
    assert_eq!(
        (s, info["defaultDomainName"].clone()),
        (200, json!("mssp.onmicrosoft.com"))
    );
    // URBAC is beta only; actions covered by a wildcard are dropped on read-back.
    let role = json!({"displayName": "Tier 1", "rolePermissions": [{"allowedResourceActions": ["microsoft.xdr/secops/*/read", "microsoft.xdr/secops/securitydata/read", "microsoft.xdr/secops/securitydata/alerts/manage"]}]});
    assert_eq!(
        env.call(
            &tok,
            Method::POST,
            "/v1.0/roleManagement/defender/roleDefinitions",
            Some(role.clone())
        )
        .await
        .0,
        400
    );
    let (s, created) = env
        .call(
            &tok,
            Method::POST,
            "/beta/roleManagement/defender/roleDefinitions",
            Some(role),
        )
        .await;
    assert_eq!(s, 201);
    let (_, got) = env
        .call(
            &tok,
            Method::GET,
            &format!(
                "/beta/roleManagement/defender/roleDefinitions/{}",
                created["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        got["rolePermissions"][0]["allowedResourceActions"],
        json!([
            "microsoft.xdr/secops/*/read",
            "microsoft.xdr/secops/securitydata/alerts/manage"
        ])
    );
    let (s, _) = env.call(&tok, Method::POST, "/beta/roleManagement/defender/roleAssignments", Some(json!({"displayName": "a", "roleDefinitionId": created["id"], "principalIds": [Uuid::new_v4()]}))).await;
    assert_eq!(s, 400, "scopes are required");
    // alerts_v2: newest first, filter, $top/$skip paging.
    let (_, alerts) = env
        .call(&tok, Method::GET, "/v1.0/security/alerts_v2?$top=2", None)
        .await;
    let v = alerts["value"].as_array().unwrap();
    assert!(v[0]["createdDateTime"].as_str() > v[1]["createdDateTime"].as_str());
    assert!(
        alerts["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$skip=2")
    );
    let (_, high) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/security/alerts_v2?$filter=severity eq 'high'",
            None,
        )
        .await;
    assert!(
        high["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["severity"] == "high")
    );
    // MDE shape and its error shape.
    let mde = env.token(env.customer, MDE).await;
    let (s, a) = env
        .call(&mde, Method::GET, "/api/alerts?$top=3", None)
        .await;
    assert_eq!((s, a["value"].as_array().unwrap().len()), (200, 3));
    assert!(a["value"][0]["alertCreationTime"].is_string() && a["value"][0]["incidentId"].is_i64());
    assert!(
        ["Low", "Medium", "High", "Informational"]
            .contains(&a["value"][0]["severity"].as_str().unwrap())
    );
    let (s, e) = env.call(&mde, Method::GET, "/api/alerts/nope", None).await;
    assert_eq!(
        (s, e["error"]["code"].clone(), e["error"].get("innerError")),
        (404, json!("ResourceNotFound"), None)
    );
    assert_eq!(
        env.call(&mde, Method::GET, "/api/alerts?$top=10001", None)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn batch_limit_depends_on_and_inner_throttling() {
    let env = start().await;
    let tok = env.token(env.customer, GRAPH).await;
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
        .collect();
    assert_eq!(
        env.call(
            &tok,
            Method::POST,
            "/v1.0/$batch",
            Some(json!({"requests": many}))
        )
        .await
        .0,
        400
    );
    env.control(Method::PUT, "faults", Some(json!({"one_shot": {"method": "GET", "path_prefix": "/v1.0/applications", "status": 429, "count": 1}}))).await;
    let batch = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/groups", "body": group_body("b"), "headers": {"Content-Type": "application/json"}},
        {"id": "2", "method": "POST", "url": "/groups", "body": {"displayName": "bad"}, "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/groups?$top=1", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "/applications"}
    ]});
    let (s, r) = env
        .call(&tok, Method::POST, "/v1.0/$batch", Some(batch))
        .await;
    assert_eq!(s, 200);
    // Graph answers a batch in any order: match by id.
    let mut responses: Vec<Value> = r["responses"].as_array().unwrap().clone();
    responses.sort_by_key(|x| x["id"].as_str().unwrap_or_default().to_string());
    let status: Vec<u64> = responses
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    assert_eq!(status, [201, 400, 424, 429]);
    assert_eq!(responses[3]["headers"]["Retry-After"], "0");
}

#[tokio::test]
async fn faults_throttle_fail_and_lose_responses() {
    let env = start_with(
        |o| {
            o.faults = FaultSettings {
                rate_429: 1.0,
                rate_5xx: 0.0,
                rate_lost: 0.0,
            }
        },
        seed(),
    )
    .await;
    let tok = env.token(env.customer, GRAPH).await;
    let (s, h, e) = env
        .call_with(&tok, Method::GET, "/v1.0/groups", None, &[])
        .await;
    assert_eq!(
        (
            s,
            h["retry-after"].to_str().unwrap(),
            e["error"]["code"].clone()
        ),
        (429, "0", json!("TooManyRequests"))
    );
    env.control(
        Method::PUT,
        "faults",
        Some(json!({"rate_429": 0.0, "rate_5xx": 1.0})),
    )
    .await;
    let s = env.call(&tok, Method::GET, "/v1.0/groups", None).await.0;
    assert!([500, 503, 504].contains(&s), "{s}");
    env.control(
        Method::PUT,
        "faults",
        Some(json!({"rate_5xx": 0.0, "rate_lost": 1.0})),
    )
    .await;
    let (s, _) = env
        .call(&tok, Method::POST, "/v1.0/groups", Some(group_body("lost")))
        .await;
    assert_eq!(s, 504, "the client never learns the id");
    env.control(Method::PUT, "faults", Some(json!({"rate_lost": 0.0, "one_shot": {"method": "GET", "path_prefix": "/v1.0/groups", "tenant": env.customer, "status": 503, "count": 1}}))).await;
    assert_eq!(
        env.call(&tok, Method::GET, "/v1.0/groups", None).await.0,
        503
    );
    let (s, list) = env
        .call(
            &tok,
            Method::GET,
            "/v1.0/groups?$filter=displayName eq 'lost'",
            None,
        )
        .await;
    assert_eq!(
        (s, list["value"].as_array().unwrap().len()),
        (200, 1),
        "the lost write was committed"
    );
    let other = env.token(env.provider, GRAPH).await;
    assert_eq!(
        env.call(&other, Method::GET, "/v1.0/groups", None).await.0,
        200
    );
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let s = seed();
    let env = start_with(|o| o.state_file = Some(state.clone()), s.clone()).await;
    let tok = env.token(env.customer, GRAPH).await;
    let (_, g) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("persisted")),
        )
        .await;
    let (client_id, secret, ca) = (
        env.sb.client_id.clone(),
        env.sb.client_secret.clone(),
        env.sb.ca_pem.clone(),
    );
    env.sb.shutdown().await.unwrap();
    let again = start_with(|o| o.state_file = Some(state.clone()), s).await;
    assert_eq!(
        (
            again.sb.client_id.clone(),
            again.sb.client_secret.clone(),
            again.sb.ca_pem.clone()
        ),
        (client_id, secret, ca)
    );
    let tok = again.token(again.customer, GRAPH).await;
    assert_eq!(
        again
            .call(
                &tok,
                Method::GET,
                &format!("/v1.0/groups/{}", g["id"].as_str().unwrap()),
                None
            )
            .await
            .0,
        200
    );
    let line: Value = serde_json::from_str(&again.sb.startup_line()).unwrap();
    assert_eq!(line["tenants"].as_array().unwrap().len(), 3);
    assert!(line["ca_cert"].as_str().unwrap().ends_with("ca.pem"));
}
