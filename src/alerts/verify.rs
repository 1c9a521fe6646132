//! `mssp apply --verify-siem`: after apply, sign in as the SIEM app in each SIEM-enabled
//! customer tenant and read one alert (and one incident / Defender alert when those permissions
//! are configured). A failure names the grant that is missing, so "consented" is proven by the
//! SIEM's own token rather than inferred from what the tool wrote.

use serde_json::Value;

use super::AlertsError;
use super::fetch::Stream;
use super::siem::{self, SiemSignIn, Target};
use crate::engine::EngineError;
use crate::graph::{Service, Version};
use crate::session::Session;
use crate::validate::Validated;

/// The streams the configured permissions promise.
fn streams(v: &Validated) -> Vec<Stream> {
    let Some(s) = &v.provider.doc.spec.siem else {
        return vec![];
    };
    let has = |list: &[crate::manifest::Loc<String>], role: &str| {
        list.iter().any(|r| r.value.eq_ignore_ascii_case(role))
    };
    let mut out = Vec::new();
    if has(&s.permissions.graph, "SecurityAlert.Read.All")
        || has(&s.permissions.graph, "SecurityAlert.ReadWrite.All")
    {
        out.push(Stream::Alerts);
    }
    if has(&s.permissions.graph, "SecurityIncident.Read.All")
        || has(&s.permissions.graph, "SecurityIncident.ReadWrite.All")
    {
        out.push(Stream::Incidents);
    }
    if has(&s.permissions.defender, "Alert.Read.All")
        || has(&s.permissions.defender, "Alert.ReadWrite.All")
    {
        out.push(Stream::DefenderAlerts);
    }
    out
}

/// Reads one item per stream in one tenant as the SIEM app.
pub(crate) async fn verify_target(
    signin: &mut SiemSignIn<'_>,
    t: &Target,
    streams: &[Stream],
) -> Result<(), AlertsError> {
    let tg = signin.tenant(t).await?;
    for s in streams {
        if *s == Stream::DefenderAlerts && t.profile.defender.is_none() {
            continue;
        }
        let (service, path) = match s {
            Stream::Alerts => (Service::Graph(Version::V1), "security/alerts_v2?$top=1"),
            Stream::Incidents => (Service::Graph(Version::V1), "security/incidents?$top=1"),
            Stream::DefenderAlerts => (Service::Defender, "alerts?$top=1"),
        };
        let page = tg
            .get(service, path)
            .await
            .map_err(|e| siem::explain(&t.name, &t.tenant_id, s.role(), e))?;
        if page.get("value").and_then(Value::as_array).is_none() {
            return Err(AlertsError::Internal(format!(
                "{}: {path} answered without a `value` list",
                t.name
            )));
        }
    }
    Ok(())
}

/// Verifies every SIEM-enabled customer (or only `customers`); prints one line per customer
/// on stderr as it goes. `Err` when any customer failed (each was named) or none could be
/// tried.
pub(crate) async fn after_apply(
    v: &Validated,
    session: &Session,
    sandbox: bool,
    customers: &[String],
) -> Result<(), EngineError> {
    let targets = match siem::targets(v, &session.endpoints, customers) {
        Ok(t) => t,
        Err(AlertsError::NoSiem) => {
            eprintln!("verify-siem: the provider has no SIEM application; nothing to verify");
            return Ok(());
        }
        Err(e) => return Err(EngineError::SiemVerify(e)),
    };
    let mut signin = SiemSignIn::new(
        v,
        session.endpoints.clone(),
        session.http.clone(),
        Some(session),
        sandbox,
    )
    .map_err(EngineError::SiemVerify)?;
    let streams = streams(v);
    let mut done = Ok(());
    for t in &targets {
        match verify_target(&mut signin, t, &streams).await {
            Ok(()) => eprintln!(
                "verify-siem: {}: the SIEM app signs in and reads {}",
                t.name,
                streams
                    .iter()
                    .map(|s| s.source())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => {
                // One line per customer as it fails, among the others' success lines.
                eprintln!("error: verify-siem: {e}");
                done = Err(EngineError::SiemVerifyFailed);
            }
        }
    }
    signin.finish().await;
    done
}
