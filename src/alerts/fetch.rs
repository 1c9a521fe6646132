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
use super::state::{AlertState, item_key};
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
    pub fn updated_field(self) -> &'static str {
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

    /// Documented quotas (api-contract §4.1/§4.2): calls per minute and per hour.
    fn quota(self) -> (usize, usize) {
        match self {
            Stream::DefenderAlerts => (100, 1500),
            _ => (50, 1500),
        }
    }
}

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
pub fn key_of(stream: Stream, item: &Value) -> Option<String> {
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
pub async fn run_stream<C: Consumer>(
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
    let mut url = format!("{}?$top={}", stream.path(), opts.top.max(1));
    if let Some(s) = since {
        url.push_str(&format!("&$filter={} ge {s}", stream.updated_field()));
    }
    let (per_minute, per_hour) = stream.quota();
    let mut pacer = Pacer::new(per_minute, per_hour);
    let mut report = StreamReport::default();
    loop {
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
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => url = rebase(tg, stream, next),
            None => break,
        }
    }
    if report.not_handled == 0 {
        state.cursor(&key, &target.tenant_id).complete();
        state.save(state_path)?;
    }
    Ok(report)
}

/// nextLinks name the service's public host; with an overridden endpoint keep using ours.
fn rebase(tg: &TenantGraph, stream: Stream, next: &str) -> String {
    let p = &tg.profile;
    let pairs: Vec<(&str, &str)> = match stream.service() {
        Service::Defender => match (&p.defender_audience, &p.defender) {
            (Some(a), Some(d)) => vec![(a.as_str(), d.as_str())],
            _ => vec![],
        },
        Service::Graph(_) => vec![(p.graph_audience.as_str(), p.graph.as_str())],
    };
    for (public, ours) in pairs {
        if let Some(rest) = next.strip_prefix(public) {
            return format!("{ours}{rest}");
        }
    }
    next.to_string()
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
pub fn parse_since(s: &str) -> Result<jiff::Timestamp, AlertsError> {
    s.parse().map_err(|e: jiff::Error| AlertsError::Since {
        value: s.to_string(),
        why: e.to_string(),
    })
}
