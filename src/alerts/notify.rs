//! `mssp alerts notify`: the customers' notification rules, delivered by the MSSP itself from
//! the alerts the SIEM app reads (the Defender portal's own e-mail rules have no API).
//!
//! Each new alert is matched against each rule of its customer (severities; device groups when
//! the rule names some, matched against the device groups the alert's evidence carries), rendered
//! from tera templates (defaults in `src/alerts/templates/notify/`, overridable), and sent by SMTP
//! and/or to the rule's webhooks. `(rule, alert id)` is recorded in the state file right after a
//! delivery succeeds, so an alert is notified once per rule; a delivery that fails leaves the
//! alert pending and the next run tries it again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::AlertsError;
use super::fetch::{self, Consumer, RunOptions, Stream};
use super::siem::{SiemSignIn, Target};
use super::state::AlertState;
use crate::manifest::{Delivery, NotificationRule, SmtpDelivery};

const BUILTIN: &[(&str, &str)] = &[
    (
        "subject.txt",
        include_str!("templates/notify/subject.txt.tera"),
    ),
    ("body.txt", include_str!("templates/notify/body.txt.tera")),
];

/// The device groups an alert's evidence names (alerts_v2 `deviceEvidence.rbacGroupName`, or the
/// Defender API's top-level `rbacGroupName`).
pub(crate) fn device_groups(alert: &Value) -> Vec<String> {
    let mut out: Vec<String> = alert
        .get("evidence")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("rbacGroupName").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if let Some(g) = alert.get("rbacGroupName").and_then(Value::as_str) {
        out.push(g.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// Does `rule` cover `alert`?
pub fn matches(rule: &NotificationRule, alert: &Value) -> bool {
    let severity = alert
        .get("severity")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !rule
        .severities
        .iter()
        .any(|s| s.value.eq_ignore_ascii_case(severity))
    {
        return false;
    }
    if rule.device_groups.is_empty() {
        return true;
    }
    // A rule scoped to device groups covers only alerts that say which group they are in.
    let groups = device_groups(alert);
    rule.device_groups
        .iter()
        .any(|g| groups.iter().any(|a| a.eq_ignore_ascii_case(g)))
}

fn devices(alert: &Value) -> Vec<Value> {
    alert
        .get("evidence")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            e.get("@odata.type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("deviceEvidence"))
        })
        .map(|e| {
            json!({"name": e.get("deviceDnsName").cloned().unwrap_or(Value::Null),
                   "group": e.get("rbacGroupName").cloned().unwrap_or(Value::Null),
                   "os": e.get("osPlatform").cloned().unwrap_or(Value::Null)})
        })
        .collect()
}

/// The template context of one (rule, alert).
pub(crate) fn context(provider: &str, t: &Target, rule: &NotificationRule, alert: &Value) -> Value {
    let s = |k: &str| alert.get(k).cloned().unwrap_or(Value::Null);
    let id = alert.get("id").and_then(Value::as_str).unwrap_or_default();
    let link = alert
        .get("alertWebUrl")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| t.profile.portal_page(&format!("alerts/{id}"), &t.tenant_id));
    json!({
        "provider": provider,
        "customer": {"name": t.name, "tenant_id": t.tenant_id},
        "rule": {"name": rule.name.value, "include_organization_name": rule.include_organization_name,
                 "include_portal_link": rule.include_portal_link, "include_device_info": rule.include_device_info},
        "organization": rule.include_organization_name.then(|| t.display_name.clone()),
        "portal_link": if rule.include_portal_link { t.profile.portal_link(&t.tenant_id) } else { None },
        "alert": {"id": id, "title": s("title"), "severity": s("severity"), "status": s("status"),
                  "category": s("category"), "created": s("createdDateTime"), "description": s("description"),
                  "link": if rule.include_portal_link { link } else { None }},
        "devices": if rule.include_device_info { devices(alert) } else { vec![] },
    })
}

/// Whether the relay's port is the implicit-TLS submission port (RFC 8314 §3.3: 465).
fn implicit_tls(port: u16) -> bool {
    port == 465
}

/// An SMTP relay from the provider's `delivery.smtp`.
struct Smtp {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Smtp {
    fn new(cfg: &SmtpDelivery) -> Result<Self, AlertsError> {
        use lettre::AsyncSmtpTransport;
        let fail = |why: String| AlertsError::Delivery(format!("SMTP relay {}: {why}", cfg.host));
        let mut b = if cfg.starttls && implicit_tls(cfg.port) {
            // Port 465 speaks TLS from the first byte (SMTPS, RFC 8314): a STARTTLS client
            // would wait for a plain-text greeting that never comes.
            AsyncSmtpTransport::<lettre::Tokio1Executor>::relay(&cfg.host)
                .map_err(|e| fail(e.to_string()))?
        } else if cfg.starttls {
            AsyncSmtpTransport::<lettre::Tokio1Executor>::starttls_relay(&cfg.host)
                .map_err(|e| fail(e.to_string()))?
        } else {
            // Plain SMTP: only for a relay on a trusted network or loopback (tests).
            AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(&cfg.host)
        }
        .port(cfg.port)
        .timeout(Some(std::time::Duration::from_secs(30)));
        if let Some(env) = &cfg.password_env {
            let password = std::env::var(env)
                .map_err(|_| fail(format!("the password variable {env} is not set")))?;
            let user = cfg
                .username
                .clone()
                .unwrap_or_else(|| cfg.from.value.clone());
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                user, password,
            ));
        }
        let from = cfg
            .from
            .value
            .parse()
            .map_err(|e: lettre::address::AddressError| fail(format!("sender: {e}")))?;
        Ok(Self {
            transport: b.build(),
            from,
        })
    }

    async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<(), AlertsError> {
        use lettre::AsyncTransport as _;
        let mut m = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject);
        for r in to {
            let mb: lettre::message::Mailbox =
                r.parse().map_err(|e: lettre::address::AddressError| {
                    AlertsError::Delivery(format!("recipient {r}: {e}"))
                })?;
            m = m.to(mb);
        }
        let msg = m
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| AlertsError::Delivery(format!("message: {e}")))?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| AlertsError::Delivery(format!("SMTP: {e}")))
    }
}

/// The URL of webhook `name`: from its environment variable (`urlEnv`), or the manifest's
/// literal. A missing variable names the variable, never a URL.
fn webhook_url(
    name: &str,
    hook: &crate::manifest::Webhook,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, AlertsError> {
    match hook {
        crate::manifest::Webhook::Url(u) => Ok(u.clone()),
        crate::manifest::Webhook::Env(e) => {
            env(&e.url_env).filter(|v| !v.is_empty()).ok_or_else(|| {
                AlertsError::Delivery(format!(
                    "webhook {name}: environment variable {} (its urlEnv) is not set",
                    e.url_env
                ))
            })
        }
    }
}

/// Delivers the rules of each page's alerts.
pub struct Deliverer {
    tera: tera::Tera,
    /// Built up front, but a broken relay configuration only fails the deliveries that need it.
    smtp: Option<Result<Smtp, AlertsError>>,
    webhooks: BTreeMap<String, crate::manifest::Webhook>,
    http: reqwest::Client,
    provider: String,
    dry_run: bool,
    pub sent: usize,
    pub failed: usize,
}

impl Deliverer {
    async fn deliver(
        &self,
        t: &Target,
        rule: &NotificationRule,
        alert: &Value,
    ) -> Result<(), AlertsError> {
        let ctx = context(&self.provider, t, rule, alert);
        let subject = super::templates::render(&self.tera, "subject.txt", &ctx)?
            .trim()
            .replace(['\r', '\n'], " ");
        let body = super::templates::render(&self.tera, "body.txt", &ctx)?;
        let recipients: Vec<String> = rule.recipients.iter().map(|r| r.value.clone()).collect();
        if self.dry_run {
            println!(
                "would notify {} / {}: {subject} → {}{}",
                t.name,
                rule.name.value,
                recipients.join(", "),
                rule.webhooks
                    .iter()
                    .map(|w| format!(", webhook {}", w.value))
                    .collect::<String>()
            );
            return Ok(());
        }
        if !recipients.is_empty() {
            let smtp = match &self.smtp {
                Some(Ok(s)) => s,
                // Every delivery that needs the relay fails the same way; errors are not Clone.
                Some(Err(e)) => return Err(AlertsError::Delivery(e.to_string())),
                None => {
                    return Err(AlertsError::Delivery(
                        "the rule has recipients but the provider has no delivery.smtp".into(),
                    ));
                }
            };
            smtp.send(&recipients, &subject, &body).await?;
        }
        for w in &rule.webhooks {
            let hook = self.webhooks.get(&w.value).ok_or_else(|| {
                AlertsError::Delivery(format!("webhook {:?} is not in delivery.webhooks", w.value))
            })?;
            let url = webhook_url(&w.value, hook, |k| std::env::var(k).ok())?;
            let payload = json!({
                "text": format!("{subject}\n\n{body}"), "subject": subject, "rule": rule.name.value,
                "customer": t.name, "organization": ctx["organization"], "tenantId": t.tenant_id,
                "portalLink": ctx["portal_link"], "alert": ctx["alert"],
            });
            let resp = self
                .http
                .post(&url)
                .json(&payload)
                .send()
                .await
                // The URL is the credential: the error must not print it.
                .map_err(|e| {
                    AlertsError::Delivery(format!("webhook {}: {}", w.value, e.without_url()))
                })?;
            if !resp.status().is_success() {
                return Err(AlertsError::Delivery(format!(
                    "webhook {} answered {}",
                    w.value,
                    resp.status()
                )));
            }
        }
        Ok(())
    }
}

impl Consumer for Deliverer {
    async fn handle(
        &mut self,
        target: &Target,
        stream: Stream,
        items: Vec<Value>,
        state: &mut AlertState,
        state_path: &Path,
    ) -> Result<BTreeSet<String>, AlertsError> {
        let mut failed = BTreeSet::new();
        for alert in &items {
            let (Some(key), Some(id)) = (
                fetch::key_of(stream, alert),
                alert.get("id").and_then(Value::as_str),
            ) else {
                continue;
            };
            for rule in target.rules.iter().filter(|r| matches(r, alert)) {
                let done_key = format!("{}/{}", target.name, rule.name.value);
                if state.was_notified(&done_key, id) {
                    continue;
                }
                match self.deliver(target, rule, alert).await {
                    Ok(()) => {
                        self.sent += 1;
                        if !self.dry_run {
                            state.mark_notified(done_key, id, jiff::Timestamp::now());
                            // Recorded at once: a crash now cannot send this one again.
                            state.save(state_path)?;
                        }
                    }
                    Err(e) => {
                        self.failed += 1;
                        eprintln!(
                            "error: {}: rule {:?}, alert {id}: {e}",
                            target.name, rule.name.value
                        );
                        failed.insert(key.clone());
                    }
                }
            }
        }
        Ok(failed)
    }
}

/// What `alerts notify` does.
#[derive(Debug, Clone)]
pub struct NotifyRequest {
    pub opts: RunOptions,
    pub state_path: PathBuf,
    pub templates: Option<PathBuf>,
    pub dry_run: bool,
}

/// Per customer: notifications sent, or why it failed.
pub struct NotifyReport {
    pub customers: Vec<(String, Result<usize, AlertsError>)>,
    pub failed_deliveries: usize,
}

/// Notifies every target's rules. `--dry-run` renders and prints, sends nothing and leaves the
/// state file untouched.
pub async fn notify(
    signin: &mut SiemSignIn<'_>,
    targets: &[Target],
    provider: &str,
    delivery: Option<&Delivery>,
    http: reqwest::Client,
    req: &NotifyRequest,
) -> Result<NotifyReport, AlertsError> {
    let tera = super::templates::load(BUILTIN, req.templates.as_deref())?;
    let smtp = match delivery.and_then(|d| d.smtp.as_ref()) {
        Some(cfg) if !req.dry_run => Some(Smtp::new(cfg)),
        _ => None,
    };
    let mut deliverer = Deliverer {
        tera,
        smtp,
        webhooks: delivery
            .map(|d| {
                d.webhooks
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        http,
        provider: provider.to_string(),
        dry_run: req.dry_run,
        sent: 0,
        failed: 0,
    };
    // Held until this run ends, so two runs cannot both notify the same alert. A dry run
    // changes nothing, so it needs no lock.
    let _lock = if req.dry_run {
        None
    } else {
        Some(super::state::StateLock::acquire(&req.state_path)?)
    };
    // A dry run works on a copy of the state, so it neither records nor moves anything.
    let scratch = if req.dry_run {
        Some(tempfile_copy(&req.state_path)?)
    } else {
        None
    };
    let state_path = scratch
        .as_ref()
        .map_or(req.state_path.clone(), |(_, p)| p.clone());
    let mut state = AlertState::load(&state_path)?;
    // Keeps the notified set from growing without end (see NOTIFIED_RETENTION_DAYS).
    let before = state.notified.clone();
    state.prune_notified(jiff::Timestamp::now());
    if state.notified != before {
        state.save(&state_path)?;
    }
    let mut report = NotifyReport {
        customers: vec![],
        failed_deliveries: 0,
    };
    for t in targets.iter().filter(|t| !t.rules.is_empty()) {
        let before = deliverer.sent;
        let result = async {
            let tg = signin.tenant(t).await?;
            fetch::run_stream(
                "notify",
                &tg,
                t,
                Stream::Alerts,
                &req.opts,
                &mut state,
                &state_path,
                &mut deliverer,
            )
            .await
        }
        .await;
        report
            .customers
            .push((t.name.clone(), result.map(|_| deliverer.sent - before)));
    }
    report.failed_deliveries = deliverer.failed;
    if let Some((dir, _)) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(report)
}

fn tempfile_copy(path: &Path) -> Result<(PathBuf, PathBuf), AlertsError> {
    let dir = std::env::temp_dir().join(format!("mssp-notify-{}", uuid::Uuid::new_v4().simple()));
    let fail = |e: std::io::Error| AlertsError::State {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let copy = dir.join("state.json");
    if path.is_file() {
        std::fs::copy(path, &copy).map_err(fail)?;
    }
    Ok((dir, copy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Webhook, WebhookEnv};

    /// On 465 the client must open TLS at once; a STARTTLS client there waits for a plain-text
    /// greeting that never comes. A loopback listener on 465 that never speaks first tells the
    /// two apart: implicit TLS sends a ClientHello (TLS record, first byte 0x16) at once.
    /// Binding 465 needs privileges; without them the test says so and checks the choice only.
    #[tokio::test]
    async fn smtps_on_465_opens_tls_first() {
        assert!(implicit_tls(465) && !implicit_tls(587) && !implicit_tls(25));
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:465").await else {
            eprintln!(
                "smtps_on_465_opens_tls_first: cannot bind 127.0.0.1:465, handshake not checked"
            );
            return;
        };
        let cfg: SmtpDelivery = serde_json::from_value(
            json!({"host": "127.0.0.1", "port": 465, "from": "a@b.example"}),
        )
        .unwrap();
        let smtp = Smtp::new(&cfg).unwrap();
        let accept = tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 1];
            tokio::time::timeout(
                std::time::Duration::from_secs(2),
                sock.read_exact(&mut first),
            )
            .await
            .map(|r| r.map(|_| first[0]))
        });
        let to = ["c@d.example".to_string()];
        let send =
            tokio::time::timeout(std::time::Duration::from_secs(3), smtp.send(&to, "s", "b"));
        let _ = send.await;
        let first = accept.await.unwrap();
        assert!(matches!(first, Ok(Ok(0x16))), "{first:?}");
    }

    #[test]
    fn a_webhook_url_comes_from_its_environment_variable() {
        let hook = Webhook::Env(WebhookEnv {
            url_env: "HOOK_SOC".into(),
        });
        let env =
            |k: &str| (k == "HOOK_SOC").then(|| "https://example.test/hook/s3cr3t".to_string());
        assert_eq!(
            webhook_url("soc", &hook, env).unwrap(),
            "https://example.test/hook/s3cr3t"
        );
        let missing = webhook_url("soc", &hook, |_| None).unwrap_err().to_string();
        assert!(
            missing.contains("HOOK_SOC") && missing.contains("soc"),
            "{missing}"
        );
        let empty = webhook_url("soc", &hook, |_| Some(String::new()));
        assert!(empty.is_err());
    }
}
