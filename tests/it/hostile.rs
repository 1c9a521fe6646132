//! A misbehaving Graph: a local HTTPS server (its own CA) answering with scripted, hostile
//! answers — foreign paging links, malformed bodies, endless waits, huge bodies, escape
//! sequences — and what the tool must make of them: errors that block the tenant, at once
//! where nothing can heal, and never a token sent elsewhere.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use mssp::auth::{AuthConfig, AuthMethod, Tokens};
use mssp::graph::{
    BatchRequest, Graph, GraphError, GraphErrorKind, HttpLimits, RetryPolicy, Service, TenantGraph,
    Version,
};
use mssp::plan::{Endpoints, TenantStatus};
use serde_json::{Value, json};

use crate::support::{self, World};

const TENANT: &str = "0a000000-0000-4000-8000-0000000000c3";
const TOKEN: &str = "hostile-test-token";

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

/// One request, as the script gets it.
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Req {
    fn path_and_query(&self) -> String {
        self.uri
            .path_and_query()
            .map_or_else(|| self.uri.path().to_string(), |p| p.to_string())
    }
}

type Script = Arc<dyn Fn(Req) -> BoxFuture<'static, Response> + Send + Sync>;

struct Tls {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

/// A CA and a leaf for 127.0.0.1 signed by it (webpki does not take a leaf as its own root).
fn tls_material() -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.distinguished_name
        .push(DnType::CommonName, "hostile test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("leaf params")
        .signed_by(&key, &issuer)
        .expect("leaf");
    Tls {
        ca_pem: ca_cert.pem(),
        chain_pem: format!("{}{}", leaf.pem(), ca_cert.pem()),
        key_pem: key.serialize_pem(),
    }
}

/// The scripted server. Token requests get a fixed token; everything else goes to the script.
struct Hostile {
    url: String,
    ca_pem: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: axum_server::Handle<SocketAddr>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl Hostile {
    async fn start(
        script: impl Fn(Req) -> BoxFuture<'static, Response> + Send + Sync + 'static,
    ) -> Hostile {
        let script: Script = Arc::new(script);
        let tls = tls_material();
        let config = axum_server::tls_rustls::RustlsConfig::from_pem(
            tls.chain_pem.into_bytes(),
            tls.key_pem.into_bytes(),
        )
        .await
        .expect("tls config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let seen2 = Arc::clone(&seen);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let script = Arc::clone(&script);
                let seen = Arc::clone(&seen2);
                async move {
                    let req = Req {
                        method,
                        uri,
                        headers,
                        body,
                    };
                    seen.lock().expect("seen").push(Seen {
                        path: req.path_and_query(),
                        authorization: req
                            .headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    });
                    if req.uri.path().ends_with("/oauth2/v2.0/token") {
                        return axum::Json(json!({
                            "token_type": "Bearer", "expires_in": 3599,
                            "ext_expires_in": 3599, "access_token": TOKEN
                        }))
                        .into_response();
                    }
                    script(req).await
                }
            },
        );
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, config)
            .expect("server")
            .handle(handle.clone());
        tokio::spawn(async move { server.serve(app.into_make_service()).await });
        Hostile {
            url: format!("https://127.0.0.1:{port}"),
            ca_pem: tls.ca_pem,
            seen,
            handle,
        }
    }

    /// Requests other than token requests.
    fn api_requests(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter(|s| !s.path.contains("/oauth2/"))
            .cloned()
            .collect()
    }
}

fn json_reply(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        deadline: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

fn short_limits() -> HttpLimits {
    HttpLimits {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(1),
        request: Duration::from_secs(2),
    }
}

fn graph(ca_pem: &str, limits: HttpLimits, retry: RetryPolicy) -> Arc<Graph> {
    let http = mssp::graph::http_client_with(Some(ca_pem.as_bytes()), &limits).expect("client");
    let config = AuthConfig {
        method: AuthMethod::Secret,
        client_id: Some("11111111-2222-4333-8444-555555555555".into()),
        client_secret: Some(azure_core::credentials::Secret::new(
            "not-a-real-secret".to_string(),
        )),
        certificate_path: None,
        federated_token_file: None,
        ..Default::default()
    };
    let tokens = Arc::new(Tokens::new(config, http.clone()));
    Arc::new(Graph::new(http, tokens, retry).with_limits(limits))
}

fn tenant(g: &Arc<Graph>, login: &str, graph_url: &str) -> TenantGraph {
    let endpoints = Endpoints {
        login: Some(login.to_string()),
        graph: Some(graph_url.to_string()),
        defender: Some(graph_url.to_string()),
    };
    g.tenant(TENANT, endpoints.profile(mssp::cloud::Cloud::Public))
}

/// A Graph client for `h` with short limits and quick retries.
fn client(h: &Hostile) -> TenantGraph {
    let g = graph(&h.ca_pem, short_limits(), fast_retry());
    tenant(&g, &h.url, &h.url)
}

fn client_with_login(h: &Hostile, login: &str) -> TenantGraph {
    let g = graph(&h.ca_pem, short_limits(), fast_retry());
    tenant(&g, login, &h.url)
}

/// Guards a call that misbehaved code would never finish.
async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("still running after {secs} s"))
}

fn reply(
    f: impl Fn(&Req) -> Response + Send + Sync + 'static,
) -> impl Fn(Req) -> BoxFuture<'static, Response> + Send + Sync + 'static {
    move |req| {
        let r = f(&req);
        Box::pin(async move { r })
    }
}

// ---- 1. tokens stay on the endpoint's origin ------------------------------------------

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_gets_no_token() {
    let elsewhere =
        Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"value": []})))).await;
    let foreign = format!("{}/v1.0/groups?page=2", elsewhere.url);
    let public = "https://graph.microsoft.com/v1.0/groups?page=2".to_string();
    let h = Hostile::start(reply(move |req| {
        let next = if req.uri.query() == Some("page=2") {
            None
        } else if req.uri.path().ends_with("/rebased") {
            Some(public.clone())
        } else {
            Some(foreign.clone())
        };
        json_reply(
            StatusCode::OK,
            json!({"value": [{"id": "g1"}], "@odata.nextLink": next}),
        )
    }))
    .await;
    let tg = client(&h);
    let e = within(10, tg.list(Service::Graph(Version::V1), "groups"))
        .await
        .expect_err("a foreign nextLink is an error");
    assert!(
        matches!(e.kind, GraphErrorKind::ForeignLink { .. }),
        "{e:?}"
    );
    let port = elsewhere.url.rsplit(':').next().expect("port");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(
        elsewhere.api_requests().is_empty(),
        "the other host was contacted: {:?}",
        elsewhere.api_requests()
    );

    // The public Graph host in a nextLink is the configured endpoint under another name.
    let items = within(10, tg.list(Service::Graph(Version::V1), "rebased"))
        .await
        .expect("a nextLink on the cloud's Graph host is followed on the configured host");
    assert_eq!(items.len(), 2);
}

#[tokio::test]
async fn a_redirect_to_another_host_does_not_carry_the_token() {
    let elsewhere = Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"id": "x"})))).await;
    let target = format!("{}/v1.0/organization/x", elsewhere.url);
    let h = Hostile::start(reply(move |_| {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", target.clone())],
        )
            .into_response()
    }))
    .await;
    // One client trusting both servers' CAs, so the redirect is really followed.
    let bundle = format!("{}{}", h.ca_pem, elsewhere.ca_pem);
    let g = graph(&bundle, short_limits(), fast_retry());
    let tg = tenant(&g, &h.url, &h.url);
    let _ = within(10, tg.get(Service::Graph(Version::V1), "organization/x")).await;
    let first = h.api_requests();
    assert_eq!(
        first[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let there = elsewhere.api_requests();
    assert!(!there.is_empty(), "the redirect was not followed");
    assert!(
        there.iter().all(|s| s.authorization.is_none()),
        "the token followed a redirect to another host: {there:?}"
    );
}

// ---- 2. malformed answers are failed reads --------------------------------------------

#[tokio::test]
async fn malformed_collection_pages_are_errors_not_empty_lists() {
    // Each path answers one way; a page must be an object with a `value` array.
    let h = Hostile::start(reply(|req| {
        let next = |p: &str| json!({"value": [{"id": "a"}], "@odata.nextLink": format!("https://127.0.0.1:{}/v1.0/{p}", req.uri.port_u16().unwrap_or(443))});
        match req.uri.path() {
            "/v1.0/empty" => (StatusCode::OK, "").into_response(),
            "/v1.0/novalue" => json_reply(StatusCode::OK, json!({})),
            "/v1.0/null" => json_reply(StatusCode::OK, Value::Null),
            "/v1.0/oops" => json_reply(StatusCode::OK, json!({"value": "oops"})),
            "/v1.0/then-empty" => json_reply(StatusCode::OK, next("empty")),
            "/v1.0/then-truncated" => json_reply(StatusCode::OK, next("truncated")),
            "/v1.0/truncated" => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(Bytes::from_static(b"{\"value\": [{\"id\": \"b\"},")),
                    Err(std::io::Error::other("connection lost")),
                ];
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    Body::from_stream(futures::stream::iter(chunks)),
                )
                    .into_response()
            }
            _ => json_reply(StatusCode::NOT_FOUND, json!({})),
        }
    }))
    .await;
    let tg = client(&h);
    for path in [
        "empty",
        "novalue",
        "null",
        "oops",
        "then-empty",
        "then-truncated",
    ] {
        let r = within(20, tg.list(Service::Graph(Version::V1), path)).await;
        let e = r.expect_err(&format!("{path}: a malformed page must fail the read"));
        assert!(
            matches!(
                e.kind,
                GraphErrorKind::Decode(_) | GraphErrorKind::DeadlineExceeded { .. }
            ),
            "{path}: {e:?}"
        );
    }
}

/// A `$batch` answer whose entries come from `entries(request ids)`.
fn batch_server(
    entries: impl Fn(Vec<String>) -> Value + Send + Sync + 'static,
) -> impl Fn(Req) -> BoxFuture<'static, Response> + Send + Sync + 'static {
    reply(move |req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let ids: Vec<String> = body["requests"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        json_reply(StatusCode::OK, entries(ids))
    })
}

fn three() -> Vec<BatchRequest> {
    (0..3)
        .map(|i| BatchRequest::get(i.to_string(), format!("/groups/{i}")))
        .collect()
}

#[tokio::test]
async fn batch_answers_are_matched_by_id_in_any_order() {
    let h = Hostile::start(batch_server(|ids| {
        let rev: Vec<Value> = ids
            .iter()
            .rev()
            .map(|id| json!({"id": id, "status": 200, "body": {"id": format!("obj{id}")}}))
            .collect();
        json!({"responses": rev})
    }))
    .await;
    let out = within(10, client(&h).batch(Version::V1, three()))
        .await
        .expect("reordered answers are fine");
    let got: Vec<(String, String)> = out
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.body["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("0".into(), "obj0".into()),
            ("1".into(), "obj1".into()),
            ("2".into(), "obj2".into())
        ]
    );
}

#[tokio::test]
async fn malformed_batch_answers_are_decode_errors() {
    type Shape = fn(Vec<String>) -> Value;
    let cases: Vec<(&str, Shape)> = vec![
        ("duplicated id", |ids| {
            let mut v: Vec<Value> = ids
                .iter()
                .map(|id| json!({"id": id, "status": 200, "body": {"id": "x"}}))
                .collect();
            v.push(json!({"id": ids[0], "status": 200, "body": {"id": "impostor"}}));
            json!({"responses": v})
        }),
        (
            "missing id",
            |ids| json!({"responses": ids.iter().skip(1).map(|id| json!({"id": id, "status": 200, "body": {}})).collect::<Vec<_>>()}),
        ),
        ("null entry", |ids| {
            let mut v: Vec<Value> = ids
                .iter()
                .map(|id| json!({"id": id, "status": 200, "body": {}}))
                .collect();
            v.push(Value::Null);
            json!({"responses": v})
        }),
        (
            "string status",
            |ids| json!({"responses": ids.iter().map(|id| json!({"id": id, "status": "200", "body": {}})).collect::<Vec<_>>()}),
        ),
        ("no responses", |_| json!({"value": []})),
    ];
    for (what, shape) in cases {
        let h = Hostile::start(batch_server(shape)).await;
        let e = within(15, client(&h).batch(Version::V1, three()))
            .await
            .expect_err(what);
        assert!(matches!(e.kind, GraphErrorKind::Decode(_)), "{what}: {e:?}");
    }
}

/// Plans the `world` fixture with Graph behind `proxy` (which sees and may rewrite every
/// answer of the real sandbox) and tokens from the sandbox itself.
async fn plan_through(
    w: &World,
    rewrite: impl Fn(&str, Value) -> Value + Send + Sync + 'static,
) -> mssp::plan::Plan {
    let upstream = w.sb.url.clone();
    let sandbox_http =
        mssp::graph::http_client(Some(w.sb.ca_pem.as_bytes())).expect("sandbox client");
    let rewrite = Arc::new(rewrite);
    let proxy = Hostile::start(move |req: Req| {
        let http = sandbox_http.clone();
        let url = format!("{upstream}{}", req.path_and_query());
        let rewrite = Arc::clone(&rewrite);
        Box::pin(async move {
            let mut r = http
                .request(req.method.clone(), &url)
                .body(req.body.clone());
            for (k, v) in &req.headers {
                if k == "authorization" || k == "content-type" {
                    r = r.header(k, v);
                }
            }
            let resp = r.send().await.expect("sandbox answers");
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            json_reply(status, rewrite(req.uri.path(), body))
        }) as BoxFuture<'static, Response>
    })
    .await;
    let bundle = format!("{}{}", proxy.ca_pem, w.sb.ca_pem);
    let http = mssp::graph::http_client(Some(bundle.as_bytes())).expect("client");
    let config = AuthConfig {
        method: AuthMethod::Secret,
        client_id: Some(w.sb.client_id.clone()),
        client_secret: Some(azure_core::credentials::Secret::new(
            w.sb.client_secret.clone(),
        )),
        certificate_path: None,
        federated_token_file: None,
        ..Default::default()
    };
    let g = Arc::new(Graph::new(
        http.clone(),
        Arc::new(Tokens::new(config, http)),
        fast_retry(),
    ));
    let endpoints = Endpoints {
        login: Some(w.sb.url.clone()),
        graph: Some(proxy.url.clone()),
        defender: Some(proxy.url.clone()),
    };
    let opts = mssp::plan::PlanOptions {
        prune: false,
        parallelism: 4,
        customers: vec![],
        today: jiff::civil::date(2026, 11, 23),
        manifest_paths: vec![],
        recent: None,
        visibility_wait: std::time::Duration::ZERO,
    };
    mssp::plan::plan(
        &w.manifests(),
        g,
        &endpoints,
        &opts,
        &indicatif::ProgressBar::hidden(),
    )
    .await
}

/// Rewrites the body of every successful list entry of every `$batch` answer.
fn list_bodies(to: Value) -> impl Fn(&str, Value) -> Value + Send + Sync + 'static {
    move |path, mut body| {
        if path.ends_with("/$batch")
            && let Some(entries) = body["responses"].as_array_mut()
        {
            for e in entries {
                if e["status"] == 200 && e["body"].get("value").is_some() {
                    e["body"] = to.clone();
                }
            }
        }
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_batch_entry_blocks_the_tenant_instead_of_planning_creates() {
    let w = World::new("world", |_| {}).await;
    // Through an honest proxy the world plans completely: the proxy itself is faithful.
    let honest = plan_through(&w, |_, b| b).await;
    assert!(
        honest
            .tenants
            .iter()
            .all(|t| t.status == TenantStatus::Complete),
        "{:?}",
        honest
            .tenants
            .iter()
            .map(|t| &t.blocked_reason)
            .collect::<Vec<_>>()
    );
    for bad in [json!({}), Value::Null, json!({"value": "oops"})] {
        let p = plan_through(&w, list_bodies(bad.clone())).await;
        // A tenant whose list answers were spoiled is blocked; one that read no list (the
        // MSSP tenant reads keyed addresses only) plans exactly as before.
        let mut blocked = 0;
        for t in &p.tenants {
            if t.status == TenantStatus::Blocked {
                blocked += 1;
                assert!(t.actions.is_empty(), "{bad}: {}", t.name);
                let why = t.blocked_reason.as_deref().unwrap_or("");
                assert!(
                    why.contains("value") || why.contains("object"),
                    "{bad}: {why}"
                );
            } else {
                assert_eq!(
                    support::changes(&p, &t.name),
                    support::changes(&honest, &t.name),
                    "{bad}: tenant {} was planned from a malformed answer",
                    t.name
                );
            }
        }
        assert!(blocked >= 2, "{bad}: only {blocked} tenants blocked");
    }
}

// ---- 3. what cannot heal fails at once; everything is bounded ------------------------

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_naming_tls() {
    let h = Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"value": []})))).await;
    let other_ca = tls_material().ca_pem;
    // Token endpoint untrusted (azure_identity would retry it for a minute).
    let g = graph(&other_ca, HttpLimits::default(), RetryPolicy::default());
    let started = Instant::now();
    let e = within(
        30,
        tenant(&g, &h.url, &h.url).list(Service::Graph(Version::V1), "groups"),
    )
    .await
    .expect_err("untrusted");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(e.to_string().contains("certificate"), "{e}");

    // Token endpoint trusted, Graph endpoint untrusted.
    let untrusted =
        Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"value": []})))).await;
    let g = graph(&h.ca_pem, HttpLimits::default(), RetryPolicy::default());
    let started = Instant::now();
    let e = within(
        30,
        tenant(&g, &h.url, &untrusted.url).list(Service::Graph(Version::V1), "groups"),
    )
    .await
    .expect_err("untrusted");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(e.kind, GraphErrorKind::Transport(_)), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[tokio::test]
async fn refused_connections_and_bad_urls_fail_at_once() {
    let h = Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"value": []})))).await;
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let g = graph(&h.ca_pem, HttpLimits::default(), RetryPolicy::default());
    for (graph_url, expect) in [
        (format!("https://127.0.0.1:{free}"), "refused"),
        ("http://127.0.0.1:1".to_string(), "https"),
        ("not a url".to_string(), "not a valid URL"),
        ("https://nonexistent.invalid".to_string(), "DNS"),
    ] {
        let started = Instant::now();
        let e = within(
            60,
            tenant(&g, &h.url, &graph_url).list(Service::Graph(Version::V1), "groups"),
        )
        .await
        .expect_err(&graph_url);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{graph_url}: {:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains(expect), "{graph_url}: {e}");
    }
    // A refused token endpoint fails at once too.
    let started = Instant::now();
    let e = within(
        60,
        tenant(&g, &format!("https://127.0.0.1:{free}"), &h.url)
            .list(Service::Graph(Version::V1), "groups"),
    )
    .await
    .expect_err("no token endpoint");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(e.to_string().contains("refused"), "{e}");
}

#[tokio::test]
async fn a_plain_http_login_endpoint_never_gets_the_secret() {
    let h = Hostile::start(reply(|_| json_reply(StatusCode::OK, json!({"value": []})))).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let login = format!("http://{}", listener.local_addr().expect("addr"));
    let e = within(
        30,
        client_with_login(&h, &login).list(Service::Graph(Version::V1), "groups"),
    )
    .await
    .expect_err("http login");
    assert!(e.to_string().contains("must use https"), "{e}");
    assert!(
        listener.accept().is_err(),
        "a connection was made to the plain-http login endpoint"
    );
}

#[tokio::test]
async fn a_write_whose_answer_breaks_off_is_outcome_unknown() {
    let h = Hostile::start(reply(|_| {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"id\": \"new")),
            Err(std::io::Error::other("connection lost")),
        ];
        (
            StatusCode::CREATED,
            Body::from_stream(futures::stream::iter(chunks)),
        )
            .into_response()
    }))
    .await;
    let e = within(
        20,
        client(&h).send(
            Service::Graph(Version::V1),
            reqwest::Method::POST,
            "groups",
            Some(&json!({"displayName": "x"})),
            &[],
        ),
    )
    .await
    .expect_err("a broken answer to a create is not a success");
    assert!(matches!(e.kind, GraphErrorKind::OutcomeUnknown(_)), "{e:?}");
    assert_eq!(
        h.api_requests().len(),
        1,
        "a create is never repeated blindly"
    );
}

#[tokio::test]
async fn silent_and_trickling_servers_are_cut_off_by_the_limits() {
    let h = Hostile::start(|req: Req| {
        Box::pin(async move {
            if req.uri.path().ends_with("/silent") {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            // One byte every 300 ms, forever: never silent long enough for the read limit.
            let trickle = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
            });
            (StatusCode::OK, Body::from_stream(trickle)).into_response()
        }) as BoxFuture<'static, Response>
    })
    .await;
    for path in ["silent", "trickle"] {
        let started = Instant::now();
        let e = within(60, client(&h).get(Service::Graph(Version::V1), path))
            .await
            .expect_err(path);
        // Deadline 5 s, each exchange at most 2 s.
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "{path}: {:?}",
            started.elapsed()
        );
        assert!(
            matches!(e.kind, GraphErrorKind::DeadlineExceeded { .. }),
            "{path}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    for value in ["999999", "1e300", "inf", "Fri, 01 Jan 2100 00:00:00 GMT"] {
        let v = value.to_string();
        let h = Hostile::start(reply(move |_| {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", v.clone())],
                axum::Json(json!({"error": {"code": "TooManyRequests", "message": "slow down"}})),
            )
                .into_response()
        }))
        .await;
        let started = Instant::now();
        let e = within(30, client(&h).get(Service::Graph(Version::V1), "groups/1"))
            .await
            .expect_err(value);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{value}: {:?}",
            started.elapsed()
        );
        assert!(
            e.to_string().contains("beyond the run's deadline"),
            "{value}: {e}"
        );
    }
}

#[tokio::test]
async fn a_hostile_retry_after_in_a_batch_entry_does_not_panic() {
    for value in [
        json!(1e300),
        json!("inf"),
        json!("NaN"),
        json!(-1),
        json!("garbage"),
    ] {
        let v = value.clone();
        let h = Hostile::start(batch_server(move |ids| {
            json!({"responses": ids.iter().map(|id| json!({
                "id": id, "status": 429, "headers": {"Retry-After": v.clone()},
                "body": {"error": {"code": "TooManyRequests", "message": "slow"}}
            })).collect::<Vec<_>>()})
        }))
        .await;
        let started = Instant::now();
        let e = within(30, client(&h).batch(Version::V1, three()))
            .await
            .expect_err("always throttled");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{value}: {:?}",
            started.elapsed()
        );
        assert!(
            matches!(e.kind, GraphErrorKind::DeadlineExceeded { .. }),
            "{value}: {e:?}"
        );
    }
}

#[tokio::test]
async fn paging_stops_at_a_repeated_link_and_at_the_page_cap() {
    let h = Hostile::start(reply(|req| {
        let port = req.uri.port_u16().unwrap_or(443);
        let next = match req.uri.path() {
            // Points at itself.
            "/v1.0/loop" => format!("https://127.0.0.1:{port}/v1.0/loop?skiptoken=same"),
            // A new link every time: only a page cap ends it.
            _ => format!(
                "https://127.0.0.1:{port}/v1.0/endless?skiptoken={}",
                uuid::Uuid::new_v4()
            ),
        };
        json_reply(
            StatusCode::OK,
            json!({"value": [{"id": "x"}], "@odata.nextLink": next}),
        )
    }))
    .await;
    let g = graph(
        &h.ca_pem,
        short_limits(),
        RetryPolicy {
            max_pages: 25,
            ..fast_retry()
        },
    );
    let tg = tenant(&g, &h.url, &h.url);
    let e = within(20, tg.list(Service::Graph(Version::V1), "loop"))
        .await
        .expect_err("a paging loop");
    assert!(e.to_string().contains("already read"), "{e}");
    assert!(tg.request_count() <= 3, "{} requests", tg.request_count());

    let before = tg.request_count();
    let e = within(20, tg.list(Service::Graph(Version::V1), "endless"))
        .await
        .expect_err("endless paging");
    assert!(e.to_string().contains("more than 25 pages"), "{e}");
    assert_eq!(tg.request_count() - before, 25);
}

#[tokio::test]
async fn oversized_bodies_are_refused_while_streaming() {
    const MIB: usize = 1024 * 1024;
    let h = Hostile::start(reply(|req| {
        // 4 MiB of a JSON string, with or without a declared length.
        let chunk = Bytes::from(vec![b' '; MIB]);
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..4).map(|_| Ok(chunk.clone())).collect();
        if req.uri.path().ends_with("/declared") {
            (StatusCode::OK, vec![b' '; 4 * MIB]).into_response()
        } else {
            (
                StatusCode::OK,
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        }
    }))
    .await;
    let g = graph(
        &h.ca_pem,
        short_limits(),
        RetryPolicy {
            max_body: MIB,
            ..fast_retry()
        },
    );
    let tg = tenant(&g, &h.url, &h.url);
    for path in ["declared", "streamed"] {
        let e = within(20, tg.get(Service::Graph(Version::V1), path))
            .await
            .expect_err(path);
        assert!(e.to_string().contains("larger than 1 MiB"), "{path}: {e}");
        assert!(
            matches!(e.kind, GraphErrorKind::Transport(_)),
            "{path}: {e:?}"
        );
    }
    // A body within the bound is read as usual.
    assert!(tg.request_count() <= 2, "refused bodies are not retried");
}

// ---- 5. server text is stripped of control characters -------------------------------

const EVIL: &str = "bad request \u{1b}]0;pwned\u{7}\u{1b}[2J done";

#[tokio::test]
async fn graph_errors_carry_no_terminal_controls() {
    let h = Hostile::start(reply(|_| {
        json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "Bad\u{1b}[31mCode", "message": EVIL}}),
        )
    }))
    .await;
    let e: GraphError = within(10, client(&h).get(Service::Graph(Version::V1), "groups/1"))
        .await
        .expect_err("400");
    let text = e.to_string();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        text.contains("bad request") && text.contains("done"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_output_carries_no_terminal_controls_from_the_server() {
    let h = Hostile::start(reply(|req| {
        if req.uri.path().ends_with("/$batch") {
            return json_reply(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "BadRequest", "message": EVIL}}),
            );
        }
        json_reply(StatusCode::NOT_FOUND, json!({}))
    }))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    support::copy_dir(std::path::Path::new("tests/fixtures/world"), dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).expect("ca");
    let url = h.url.clone();
    for format in ["human", "markdown"] {
        let (dir, ca, url) = (dir.path().to_path_buf(), ca.clone(), url.clone());
        let out = tokio::task::spawn_blocking(move || {
            assert_cmd::Command::cargo_bin("mssp")
                .expect("binary")
                .args(["plan", "--format", format])
                .arg(&dir)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555")
                .env("AZURE_CLIENT_SECRET", "not-a-real-secret")
                .env("AZURE_AUTHORITY_HOST", &url)
                .env("MSSP_GRAPH_URL", &url)
                .env("MSSP_DEFENDER_URL", &url)
                .env("MSSP_CA_BUNDLE", &ca)
                .timeout(Duration::from_secs(120))
                .output()
                .expect("runs")
        })
        .await
        .expect("joined");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("bad request") && stdout.contains("done"),
            "{format}: the server's message is shown: {stdout}\n{stderr}"
        );
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{format} {name} carries control characters: {text:?}"
            );
        }
    }
}

// ---- 6. TCP_NODELAY on the sandbox's connections ----------------------------------------

/// Finds this process's socket with the given local and peer addresses (the sandbox runs
/// in-process, so its accepted socket is one of our file descriptors).
#[cfg(target_os = "linux")]
fn nodelay_of(local: SocketAddr, peer: SocketAddr) -> Option<bool> {
    use std::os::fd::{BorrowedFd, RawFd};
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: only getsockopt-style queries are made, on a descriptor this process owns;
        // one closed meanwhile just makes the queries fail.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let (Ok(l), Ok(p)) = (sock.local_addr(), sock.peer_addr()) else {
            continue;
        };
        if l.as_socket() == Some(local) && p.as_socket() == Some(peer) {
            return sock.tcp_nodelay().ok();
        }
    }
    None
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_sets_tcp_nodelay_on_accepted_connections() {
    let w = World::new("world", |_| {}).await;
    let url = url::Url::parse(&w.sb.url).expect("url");
    let server: SocketAddr = format!("127.0.0.1:{}", url.port().expect("port"))
        .parse()
        .expect("addr");
    let client = tokio::net::TcpStream::connect(server)
        .await
        .expect("connect");
    let mine = client.local_addr().expect("local");
    // Accepting happens on the server's task, and the option is set just after `accept`
    // returns: poll until it is on (up to 10 s on a loaded machine) before judging.
    let mut found = None;
    for _ in 0..500 {
        found = nodelay_of(server, mine);
        if found == Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(found, Some(true), "the accepted socket has Nagle on");
    drop(client);
}

/// Whatever carries server text into a plan (blocked reasons, warnings, notes), the human
/// and Markdown renderings hold no control characters but the human colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_plans_strip_control_characters_from_server_text() {
    let w = World::new("world", |_| {}).await;
    let mut p = w.plan().await;
    let t = &mut p.tenants[0];
    t.status = TenantStatus::Blocked;
    t.blocked_reason = Some(EVIL.to_string());
    let t = &mut p.tenants[1];
    t.warnings.push(EVIL.to_string());
    if let Some(a) = t.actions.first_mut() {
        a.note = Some(EVIL.to_string());
    }
    let human = mssp::render::human::render(&p, mssp::render::human::Style { color: false });
    let markdown = mssp::render::markdown::render(&p).expect("markdown");
    for (name, text) in [("human", &human), ("markdown", &markdown)] {
        assert!(text.contains("bad request"), "{name}: {text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{name} carries control characters"
        );
    }
}

/// The default bound: a 100 MB answer stops at 64 MiB instead of being held whole (run alone,
/// this test peaked at 103 MB resident, 36 MB of it the test process itself).
#[tokio::test]
async fn a_100_mb_answer_stops_at_the_default_bound() {
    let h = Hostile::start(reply(|_| {
        let mib = Bytes::from(vec![b' '; 1024 * 1024]);
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..100).map(|_| Ok(mib.clone())).collect();
        (
            StatusCode::OK,
            Body::from_stream(futures::stream::iter(chunks)),
        )
            .into_response()
    }))
    .await;
    let g = graph(&h.ca_pem, HttpLimits::default(), fast_retry());
    let e = within(
        120,
        tenant(&g, &h.url, &h.url).get(Service::Graph(Version::V1), "huge"),
    )
    .await
    .expect_err("100 MB");
    assert!(e.to_string().contains("larger than 64 MiB"), "{e}");
}
