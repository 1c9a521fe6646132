//! `alerts fetch` paging per endpoint: every item reaches the NDJSON file exactly once whatever
//! the page size, the Defender for Endpoint API (no nextLink) is paged with `$skip`, and each
//! endpoint's `$top` limit is respected by the tool and enforced by the sandbox.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::alerts::{World, lines};

const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";

async fn applied() -> World {
    let mut w = World::new(|_| {}).await;
    w.apply().await;
    w.add_siem_secret().await;
    w
}

/// `alerts fetch` of contoso's three streams into `<name>.ndjson` with its own state file.
async fn fetch(w: &World, name: &str, extra: &[&str]) -> Vec<Value> {
    let out = format!("{name}.ndjson");
    let state = format!("{name}.state.json");
    let m = w.manifests();
    let mut args = vec![
        "alerts",
        "fetch",
        "--incidents",
        "--defender-api",
        "--customer",
        "contoso",
        "--out",
        &out,
        "--state",
        &state,
    ];
    args.extend_from_slice(extra);
    args.push(m.to_str().unwrap());
    let r = w.run(&args).await;
    assert_eq!(r.code, 0, "fetch {extra:?} failed:\n{}", r.stderr);
    lines(&w.path(&out))
}

/// Per source, the ids written; panics on an item written twice.
fn by_source(lines: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in lines {
        let id = match &l["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let fresh = m
            .entry(l["source"].as_str().unwrap().to_string())
            .or_default()
            .insert(id.clone());
        assert!(fresh, "{id} written twice");
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_is_written_once_whatever_the_page_size() {
    let w = applied().await;
    // Five seeded alerts (three incidents) plus ten new ones: fifteen alerts in contoso.
    for i in 0..10 {
        w.add_alert(CONTOSO, json!({"title": format!("Burst {i}")}))
            .await;
    }

    let small = fetch(&w, "small", &["--top", "5"]).await;
    let small = by_source(&small);
    assert_eq!(
        small["defender/alerts"].len(),
        15,
        "pages of 5 from the Defender API (no nextLink) must reach all 15 alerts"
    );
    assert_eq!(small["graph/alerts_v2"].len(), 15);
    assert_eq!(small["graph/incidents"].len(), 3);

    // A re-run finds nothing new: the watermark did not skip and nothing is delivered twice.
    let again = fetch(&w, "small", &["--top", "5"]).await;
    assert_eq!(
        by_source(&again),
        small,
        "a second run with the same state added lines"
    );

    // The default page size (100: above the incidents limit of 50) and very small pages give
    // exactly the same items.
    let default = by_source(&fetch(&w, "default", &[]).await);
    assert_eq!(default, small);
    let tiny = by_source(&fetch(&w, "tiny", &["--top", "2"]).await);
    assert_eq!(tiny, small);

    // No request was refused for its page size (incidents: the default 100 was lowered to 50).
    let log: Vec<Value> = w
        .http
        .get(format!("{}/_sandbox/requests", w.sb.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log.iter().all(|e| e["status"] != 400), "{log:#?}");
}

#[tokio::test]
async fn the_sandbox_refuses_a_top_above_each_endpoints_limit() {
    let env = super::sandbox::start().await;
    let tok = env.token(env.customer, super::sandbox::GRAPH).await;
    for (path, max) in [("security/incidents", 50), ("security/alerts_v2", 2000)] {
        let (s, ok) = env
            .call(&tok, Method::GET, &format!("/v1.0/{path}?$top={max}"), None)
            .await;
        assert_eq!(s, 200, "{path}: {ok}");
        let (s, e) = env
            .call(
                &tok,
                Method::GET,
                &format!("/v1.0/{path}?$top={}", max + 1),
                None,
            )
            .await;
        assert_eq!(s, 400, "{path}: {e}");
        assert_eq!(
            e["error"]["message"],
            format!(
                "The query specified in the URI is not valid. The limit of '{max}' for Top query has been exceeded. The value from the incoming request is '{}'.",
                max + 1
            )
        );
        assert!(e["error"]["innerError"]["request-id"].is_string(), "{e}");
    }
    // Without `$top` incidents come in pages of at most 50, linked by nextLink.
    let (s, page) = env
        .call(&tok, Method::GET, "/v1.0/security/incidents", None)
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(page["value"].as_array().unwrap().len() <= 50);
    // The Defender for Endpoint API has no nextLink (pages by `$skip`) and stops at 10,000.
    let mde = env.token(env.customer, super::sandbox::MDE).await;
    let (s, page) = env
        .call(&mde, Method::GET, "/api/alerts?$top=2&$skip=2", None)
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    assert!(page.get("@odata.nextLink").is_none(), "{page}");
    let (s, _) = env
        .call(&mde, Method::GET, "/api/alerts?$top=10001", None)
        .await;
    assert_eq!(s, 400);
}
