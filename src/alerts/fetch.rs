//! Paging through a customer's alerts from its watermark, as the SIEM app, and handing each
//! page's new items to a consumer (the NDJSON writer of `alerts fetch`, the deliverer of
//! `alerts notify`).
//!
//! Graph returns alerts newest first, so the watermark can only move when a run has seen every
//! page: until then the keys already handed over are kept as `pending` in the state file, which
//! is saved after each page. A run that dies (crash, kill, a page that keeps failing) is picked
//! up by the next one from the old watermark, skipping what is pending.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::AlertsError;
use super::output::Output;
use super::siem::{self, SiemSignIn, Target};
use super::state::{AlertState, StateLock, item_key};
use crate::cloud::CloudProfile;
use crate::graph::{Service, TenantGraph, Version};

/// What is read in each customer tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Graph `security/alerts_v2`.
    Alerts,
    /// Graph `security/incidents`.
    Incidents,
    /// Defender for Endpoint `GET /api/alerts` (PascalCase enums).
    DefenderAlerts,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Alerts => "alerts",
            Stream::Incidents => "incidents",
            Stream::DefenderAlerts => "defenderAlerts",
        }
    }

    /// The `source` field added to each NDJSON line.
    pub fn source(self) -> &'static str {
        match self {
            Stream::Alerts => "graph/alerts_v2",
            Stream::Incidents => "graph/incidents",
            Stream::DefenderAlerts => "defender/alerts",
        }
    }

    fn service(self) -> Service {
        match self {
            Stream::DefenderAlerts => Service::Defender,
            _ => Service::Graph(Version::V1),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Stream::Alerts => "security/alerts_v2",
            Stream::Incidents => "security/incidents",
            Stream::DefenderAlerts => "alerts",
        }
    }

    /// The last-update property (filtered on, and part of the dedupe key).
    pub(crate) fn updated_field(self) -> &'static str {
        match self {
            Stream::DefenderAlerts => "lastUpdateTime",
            _ => "lastUpdateDateTime",
        }
    }

    /// The application permission the SIEM app needs for this stream.
    pub fn role(self) -> &'static str {
        match self {
            Stream::Alerts => "SecurityAlert.Read.All",
            Stream::Incidents => "SecurityIncident.Read.All",
            Stream::DefenderAlerts => "Alert.Read.All (WindowsDefenderATP)",
        }
    }

    /// The largest `$top` the endpoint accepts; see [`TOP_LIMITS`].
    pub(crate) fn max_top(self) -> u32 {
        TOP_LIMITS
            .iter()
            .find(|l| l.stream == self)
            .map_or(1, |l| l.max_top)
    }

    /// The Defender for Endpoint API returns no `@odata.nextLink`: the client pages with `$skip`.
    fn pages_by_skip(self) -> bool {
        self == Stream::DefenderAlerts
    }

    /// Documented quotas (api-contract §4.1/§4.2): calls per minute and per hour.
    fn quota(self) -> (usize, usize) {
        match self {
            Stream::DefenderAlerts => (100, 1500),
            _ => (50, 1500),
        }
    }
}

/// The `$top` limit of one endpoint and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct TopLimit {
    pub stream: Stream,
    pub path: &'static str,
    pub max_top: u32,
    pub source: &'static str,
}

/// `$top` maxima per endpoint: the tool never asks for more, and the sandbox refuses more
/// with the 400 Graph sends. docs/siem.md lists them for users.
pub(crate) const TOP_LIMITS: [TopLimit; 3] = [
    TopLimit {
        stream: Stream::Alerts,
        path: "/v1.0/security/alerts_v2",
        // The List alerts_v2 page documents `$top` without a maximum; 2,000 is the largest
        // page known to be served (Microsoft's own Defender connectors ask for it).
        max_top: 2000,
        source: "https://learn.microsoft.com/graph/api/security-list-alerts_v2",
    },
    TopLimit {
        stream: Stream::Incidents,
        path: "/v1.0/security/incidents",
        // Not on the List incidents page either, but Graph enforces it: `$top=100` answers
        // 400 "The limit of '50' for Top query has been exceeded".
        max_top: 50,
        source: "https://learn.microsoft.com/graph/api/security-list-incidents",
    },
    TopLimit {
        stream: Stream::DefenderAlerts,
        path: "/api/alerts",
        // "$top with max value of 10,000" (List alerts API, Defender for Endpoint).
        max_top: 10_000,
        source: "https://learn.microsoft.com/defender-endpoint/api/get-alerts",
    },
];

/// A run never reads more pages than this from one stream; past it the run stops without
/// moving the watermark (the next run resumes), rather than looping on a server that keeps
/// returning full pages.
const MAX_PAGES: usize = 100_000;

/// Keeps a tenant's calls to one API under its documented quota, so throttling is the
/// exception rather than the steady state. Retry-After is honoured by the Graph client.
#[derive(Debug)]
pub struct Pacer {
    per_minute: usize,
    per_hour: usize,
    calls: VecDeque<Instant>,
}

impl Pacer {
    pub fn new(per_minute: usize, per_hour: usize) -> Self {
        Self {
            per_minute: per_minute.max(1),
            per_hour: per_hour.max(1),
            calls: VecDeque::new(),
        }
    }

    async fn wait(&mut self) {
        loop {
            let now = Instant::now();
            while self
                .calls
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
            {
                self.calls.pop_front();
            }
            let in_minute: Vec<&Instant> = self
                .calls
                .iter()
                .filter(|t| now.duration_since(**t) < Duration::from_secs(60))
                .collect();
            let wait = if self.calls.len() >= self.per_hour {
                self.calls
                    .front()
                    .map(|t| Duration::from_secs(3600).saturating_sub(now.duration_since(*t)))
            } else if in_minute.len() >= self.per_minute {
                in_minute
                    .first()
                    .map(|t| Duration::from_secs(60).saturating_sub(now.duration_since(**t)))
            } else {
                None
            };
            match wait {
                Some(d) if !d.is_zero() => {
                    tracing::info!(?d, "pacing to stay within the documented quota");
                    tokio::time::sleep(d).await;
                }
                _ => break,
            }
        }
        self.calls.push_back(Instant::now());
    }
}

/// Where to start and how big the pages are.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `$top` of each request.
    pub top: u32,
    /// Start here when the state has no watermark yet (everything when absent).
    pub since: Option<jiff::Timestamp>,
}

/// Receives each page's items not handed over before.
pub trait Consumer {
    /// Handles `items` (new to this consumer). Returns the keys it could not handle: they are
    /// not recorded, the watermark does not move, and the next run offers them again.
    fn handle(
        &mut self,
        target: &Target,
        stream: Stream,
        items: Vec<Value>,
        state: &mut AlertState,
        state_path: &Path,
    ) -> impl std::future::Future<Output = Result<BTreeSet<String>, AlertsError>>;
}

/// The dedupe key of an item of `stream`.
pub(crate) fn key_of(stream: Stream, item: &Value) -> Option<String> {
    let id = item.get("id").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })?;
    let updated = item
        .get(stream.updated_field())
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(item_key(&id, updated))
}

/// Counts of one stream of one customer.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamReport {
    pub new: usize,
    pub not_handled: usize,
    pub pages: usize,
}

/// Pages through one stream of one customer from its watermark.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_stream<C: Consumer>(
    consumer_name: &str,
    tg: &TenantGraph,
    target: &Target,
    stream: Stream,
    opts: &RunOptions,
    state: &mut AlertState,
    state_path: &Path,
    consumer: &mut C,
) -> Result<StreamReport, AlertsError> {
    let key = format!("{consumer_name}:{}:{}", target.name, stream.name());
    let since = state
        .cursor(&key, &target.tenant_id)
        .watermark
        .clone()
        .or_else(|| opts.since.map(|t| t.to_string()));
    let top = opts.top.clamp(1, stream.max_top());
    if top < opts.top {
        tracing::info!(
            stream = stream.name(),
            requested = opts.top,
            top,
            "page size lowered to the endpoint's $top limit"
        );
    }
    let mut query = format!("$top={top}");
    if let Some(s) = since {
        query.push_str(&format!("&$filter={} ge {s}", stream.updated_field()));
    }
    let first = format!("{}?{query}", stream.path());
    let mut url = first.clone();
    let mut skip: usize = 0;
    let (per_minute, per_hour) = stream.quota();
    let mut pacer = Pacer::new(per_minute, per_hour);
    let mut report = StreamReport::default();
    loop {
        if report.pages >= MAX_PAGES {
            return Err(AlertsError::TooManyPages {
                customer: target.name.clone(),
                stream: stream.name(),
                pages: MAX_PAGES,
            });
        }
        pacer.wait().await;
        let page = tg
            .get(stream.service(), &url)
            .await
            .map_err(|e| siem::explain(&target.name, &target.tenant_id, stream.role(), e))?;
        report.pages += 1;
        let items = page
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let served = items.len();
        let cursor = state.cursor(&key, &target.tenant_id);
        let mut keys = Vec::new();
        let mut fresh = Vec::new();
        for item in items {
            let Some(k) = key_of(stream, &item) else {
                tracing::warn!(customer = %target.name, "an item without id was skipped");
                continue;
            };
            if cursor.seen(&k) || keys.contains(&k) {
                continue;
            }
            keys.push(k);
            fresh.push(item);
        }
        if !fresh.is_empty() {
            let failed = consumer
                .handle(target, stream, fresh, state, state_path)
                .await?;
            let cursor = state.cursor(&key, &target.tenant_id);
            for k in keys {
                if failed.contains(&k) {
                    report.not_handled += 1;
                } else {
                    cursor.pending.insert(k);
                    report.new += 1;
                }
            }
            state.save(state_path)?;
        }
        if stream.pages_by_skip() {
            // No nextLink here (api-contract §4.2): a full page means more may follow; only a
            // short page ends the stream.
            if served < top as usize {
                break;
            }
            skip += served;
            url = format!("{first}&$skip={skip}");
            continue;
        }
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => {
                url = follow(&tg.profile, stream.service(), next).map_err(|ForeignHost(host)| {
                    AlertsError::ForeignLink {
                        customer: target.name.clone(),
                        host,
                    }
                })?
            }
            None => break,
        }
    }
    if report.not_handled == 0 {
        state.cursor(&key, &target.tenant_id).complete();
        state.save(state_path)?;
    }
    Ok(report)
}

/// The URL to request for a nextLink, or the host it points to when that is not the service
/// the request went to: the SIEM app's token must never travel anywhere else. nextLinks name
/// the service's public host; with an overridden endpoint they are rebased onto ours.
fn follow(p: &CloudProfile, service: Service, next: &str) -> Result<String, ForeignHost> {
    let (ours, public) = match service {
        Service::Defender => (p.defender.as_deref(), p.defender_audience.as_deref()),
        Service::Graph(_) => (Some(p.graph.as_str()), Some(p.graph_audience.as_str())),
    };
    let Some(ours) = ours else {
        return Err(ForeignHost(host_of(next)));
    };
    if let Some(public) = public
        && let Some(rest) = strip_origin(next, public)
    {
        return Ok(format!("{ours}{rest}"));
    }
    if strip_origin(next, ours).is_some() {
        return Ok(next.to_string());
    }
    Err(ForeignHost(host_of(next)))
}

/// The host a paging link pointed to that is not the service's: the link is not followed.
#[derive(Debug, PartialEq, Eq)]
struct ForeignHost(String);

/// `url` without the origin of `base` (scheme, host and port compared as Url does), if it has it.
fn strip_origin<'a>(url: &'a str, base: &str) -> Option<&'a str> {
    let (u, b) = (url::Url::parse(url).ok()?, url::Url::parse(base).ok()?);
    if u.origin() != b.origin() {
        return None;
    }
    // The path and query, verbatim (the opaque $skiptoken must not be re-encoded).
    let after_scheme = url.split_once("://").map(|(_, r)| r)?;
    Some(after_scheme.find('/').map_or("", |i| &after_scheme[i..]))
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        // Not a URL: show what came, without control characters and not at length.
        .unwrap_or_else(|| url.chars().filter(|c| !c.is_control()).take(80).collect())
}

/// Writes each new item as one NDJSON line with `customer`, `tenantId` and `source` added.
pub struct NdjsonWriter {
    pub out: Output,
    pub written: usize,
}

impl Consumer for NdjsonWriter {
    async fn handle(
        &mut self,
        target: &Target,
        stream: Stream,
        items: Vec<Value>,
        state: &mut AlertState,
        _state_path: &Path,
    ) -> Result<BTreeSet<String>, AlertsError> {
        let lines: Vec<Value> = items
            .into_iter()
            .map(|mut it| {
                if let Some(o) = it.as_object_mut() {
                    o.insert("customer".into(), json!(target.name));
                    o.insert("tenantId".into(), json!(target.tenant_id));
                    o.insert("source".into(), json!(stream.source()));
                }
                it
            })
            .collect();
        if let Some(len) = self.out.write_page(&lines)?
            && let Some(m) = &mut state.output
        {
            m.committed_len = len;
        }
        self.written += lines.len();
        Ok(BTreeSet::new())
    }
}

/// What `alerts fetch` does.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub streams: Vec<Stream>,
    pub opts: RunOptions,
    pub state_path: PathBuf,
    /// `None` or `-`: stdout.
    pub out: Option<PathBuf>,
}

/// Per customer: lines written, or why it failed.
pub struct FetchReport {
    pub customers: Vec<(String, Result<usize, AlertsError>)>,
}

impl FetchReport {
    pub fn failed(&self) -> bool {
        self.customers.iter().any(|(_, r)| r.is_err())
    }
}

/// Fetches every target's streams into the NDJSON sink. A customer that fails does not stop
/// the others; its position stays where it was.
pub async fn fetch(
    signin: &mut SiemSignIn<'_>,
    targets: &[Target],
    req: &FetchRequest,
) -> Result<FetchReport, AlertsError> {
    // Held until this run ends: a second run on the same state would interleave pages.
    let _lock = StateLock::acquire(&req.state_path)?;
    let mut state = AlertState::load(&req.state_path)?;
    let out = Output::open(req.out.as_deref(), &mut state)?;
    state.save(&req.state_path)?;
    let mut writer = NdjsonWriter { out, written: 0 };
    let mut report = FetchReport { customers: vec![] };
    for t in targets {
        let before = writer.written;
        let result = async {
            let tg = signin.tenant(t).await?;
            for s in &req.streams {
                run_stream(
                    "fetch",
                    &tg,
                    t,
                    *s,
                    &req.opts,
                    &mut state,
                    &req.state_path,
                    &mut writer,
                )
                .await?;
            }
            Ok::<(), AlertsError>(())
        }
        .await;
        report
            .customers
            .push((t.name.clone(), result.map(|()| writer.written - before)));
    }
    Ok(report)
}

/// Parses `--since`.
pub(crate) fn parse_since(s: &str) -> Result<jiff::Timestamp, AlertsError> {
    s.parse().map_err(|e: jiff::Error| AlertsError::Since {
        value: s.to_string(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;

    fn sandboxed() -> CloudProfile {
        CloudProfile::with_overrides(Cloud::Public, |k| match k {
            "MSSP_GRAPH_URL" | "MSSP_DEFENDER_URL" => Some("https://127.0.0.1:8443".into()),
            _ => None,
        })
    }

    #[test]
    fn paging_links_are_followed_only_on_the_service_the_request_went_to() {
        let p = sandboxed();
        let g = Service::Graph(Version::V1);
        // The public host is rebased onto the overridden endpoint, the token stays home.
        assert_eq!(
            follow(
                &p,
                g,
                "https://graph.microsoft.com/v1.0/security/alerts_v2?$top=5&$skip=5"
            ),
            Ok("https://127.0.0.1:8443/v1.0/security/alerts_v2?$top=5&$skip=5".into())
        );
        assert_eq!(
            follow(
                &p,
                g,
                "https://127.0.0.1:8443/v1.0/security/incidents?$skip=2"
            ),
            Ok("https://127.0.0.1:8443/v1.0/security/incidents?$skip=2".into())
        );
        // Anything else is refused, naming the host.
        for (link, host) in [
            (
                "https://attacker.example/v1.0/security/alerts_v2?$skip=5",
                "attacker.example",
            ),
            (
                "https://graph.microsoft.com.attacker.example/v1.0/x",
                "graph.microsoft.com.attacker.example",
            ),
            ("http://127.0.0.1:8443/v1.0/security/alerts_v2", "127.0.0.1"),
            (
                "https://127.0.0.1:9999/v1.0/security/alerts_v2",
                "127.0.0.1",
            ),
        ] {
            assert_eq!(
                follow(&p, g, link),
                Err(ForeignHost(host.to_string())),
                "{link}"
            );
        }
        // A Graph link is not good for the Defender API and vice versa.
        let public = CloudProfile::with_overrides(Cloud::Public, |_| None);
        assert!(
            follow(
                &public,
                Service::Defender,
                "https://graph.microsoft.com/v1.0/x"
            )
            .is_err()
        );
    }

    #[test]
    fn every_stream_has_a_top_limit_and_incidents_is_fifty() {
        for s in [Stream::Alerts, Stream::Incidents, Stream::DefenderAlerts] {
            assert!(TOP_LIMITS.iter().any(|l| l.stream == s));
        }
        assert_eq!(Stream::Incidents.max_top(), 50);
        assert_eq!(Stream::DefenderAlerts.max_top(), 10_000);
    }
}
