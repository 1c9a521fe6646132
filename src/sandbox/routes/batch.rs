//! JSON `$batch`: at most 20 requests; `dependsOn` orders them and a failed dependency yields 424
//! for its dependants; each inner answer carries its own status, headers and body, and throttling
//! can hit a single inner request (429 + Retry-After inside a 200 batch).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result, dispatch};
use crate::sandbox::errors::GraphError;
use crate::sandbox::odata::Query;
use crate::sandbox::world::Scope;

pub(crate) const MAX_REQUESTS: usize = 20;

/// Decides whether an inner request fails by fault injection (status), given method and path.
pub type FaultHook<'a> = dyn FnMut(&str, &str) -> Option<u16> + 'a;

fn inner_request(item: &Value) -> std::result::Result<ApiRequest, GraphError> {
    let method = item
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let url = item.get("url").and_then(Value::as_str).ok_or_else(|| {
        GraphError::new(400, "BadRequest", "Each batch request must have a 'url'.")
    })?;
    let url = url.trim_start_matches('/');
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let headers = item.get("headers").and_then(Value::as_object);
    let header = |name: &str| {
        headers
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    Ok(ApiRequest {
        method,
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent)
            .collect(),
        query: Query::parse(query)?,
        body: item.get("body").cloned(),
        prefer_create_if_missing: header("Prefer").is_some_and(|p| p.contains("create-if-missing")),
        eventual: header("ConsistencyLevel").is_some_and(|c| c.eq_ignore_ascii_case("eventual")),
        keys: vec![],
        if_match: header("If-Match"),
    })
}

pub(crate) fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// Runs a batch; the outer answer is 200 unless the envelope itself is invalid.
pub fn run(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    hook: &mut FaultHook<'_>,
    retry_after: u64,
    ids: (&str, &str, &str),
) -> Result<Resp> {
    let body = req.body();
    let items = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::new(400, "BadRequest", "Invalid batch payload format."))?;
    if items.len() > MAX_REQUESTS {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!(
                "Invalid batch payload: the number of requests in a batch is limited to {MAX_REQUESTS}."
            ),
        ));
    }
    let mut statuses: Vec<(String, u16)> = Vec::new();
    let mut responses = Vec::new();
    for item in items {
        let id = item
            .get("id")
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default();
        let deps: Vec<String> = item
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let failed_dep = deps.iter().any(|d| {
            statuses
                .iter()
                .find(|(i, _)| i == d)
                .is_none_or(|(_, s)| *s >= 400)
        });
        let (status, headers, body) = if failed_dep {
            let e = GraphError::new(
                424,
                "FailedDependency",
                "The request could not be executed because a request it depends on failed.",
            );
            (
                424,
                json!({"Content-Type": "application/json"}),
                Some(e.body(ids.0, ids.1, ids.2)),
            )
        } else {
            execute(ctx, st, item, hook, retry_after, ids)
        };
        statuses.push((id.clone(), status));
        let mut r = json!({"id": id, "status": status, "headers": headers});
        if let Some(b) = body {
            r["body"] = b;
        }
        responses.push(r);
    }
    // "The order of responses in the batch response might not match the order of requests"
    // (Graph JSON batching docs): answer in reverse, so clients must match by id.
    responses.reverse();
    super::ok(json!({"responses": responses}))
}

fn execute(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    item: &Value,
    hook: &mut FaultHook<'_>,
    retry_after: u64,
    ids: (&str, &str, &str),
) -> (u16, Value, Option<Value>) {
    let result = inner_request(item).and_then(|inner| {
        if let Some(status) = hook(
            &inner.method,
            &format!("/{}/{}", ctx.version, inner.segments.join("/")),
        ) {
            let mut e = crate::sandbox::api::fault_error(status);
            e.retry_after = Some(retry_after);
            return Err(e);
        }
        dispatch(ctx, st, &inner)
    });
    match result {
        Ok(resp) => {
            let mut headers = json!({});
            if resp.body.is_some() {
                headers["Content-Type"] = json!(
                    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
                );
            }
            (resp.status, headers, resp.body)
        }
        Err(e) => {
            let mut headers = json!({"Content-Type": "application/json"});
            if let Some(ra) = e.retry_after {
                headers["Retry-After"] = json!(crate::sandbox::api::retry_after_value(ra));
            }
            (e.status, headers, Some(e.body(ids.0, ids.1, ids.2)))
        }
    }
}
