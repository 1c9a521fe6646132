//! Client secrets of the SIEM application (`passwordCredentials`, read as part of the
//! application object); a secret's value only ever goes to its sink.

use serde::Serialize;
use serde_json::{Value, json};

use super::application::app_object;
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms};
use crate::model::observe::{Ids, Observed, str_of};
use crate::model::values::FixedDuration;
use crate::model::{Address, ObserveError};
use crate::secrets::{Held, SinkRecord};
use reqwest::Method;

/// A client secret. Natural key: (application, `displayName`). Its value only goes to `sink`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialSpec {
    pub application: Address,
    pub display_name: String,
    pub validity: FixedDuration,
    pub sink: crate::manifest::SecretSink,
    /// Rotation window; no rotation when absent.
    pub rotate_before: Option<FixedDuration>,
}

/// The sink's side of a secret, as plans compare it (file sinks only; see `apply::secrets`).
const SINK_HOLDS: &str = "holds the current secret";
const SINK_LOST: &str =
    "does not hold this credential's value (e.g. a run was interrupted); a new secret replaces it";

/// What the secret's sink holds for `app` (an application object as read). Only the MSSP
/// tenant's application is checked: the per-customer variant's apps share one sink.
fn password_held(
    spec: &PasswordCredentialSpec,
    app: Option<&Value>,
    role: crate::model::TenantRole,
    base_dir: &std::path::Path,
) -> Result<Held, crate::secrets::SinkError> {
    match app {
        Some(app) if role == crate::model::TenantRole::Provider => {
            crate::secrets::held(&spec.sink, base_dir, str_of(app, "id"))
        }
        _ => Ok(Held::Unchecked),
    }
}

fn password_observe(spec: &PasswordCredentialSpec, app: Option<&Value>, held: &Held) -> Observed {
    let Some(app) = app else {
        return Observed::Absent;
    };
    let mine: Vec<&Value> = app
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| str_of(p, "displayName") == spec.display_name)
        .collect();
    let in_sink = match held {
        Held::KeyId(k) => mine
            .iter()
            .find(|p| str_of(p, "keyId").eq_ignore_ascii_case(k)),
        Held::Nothing | Held::Unchecked => None,
    };
    // The one the sink holds is the current secret; without one, the newest (a rotation that
    // stopped half-way leaves two).
    let Some(current) = in_sink.or_else(|| {
        mine.iter()
            .max_by_key(|p| str_of(p, "endDateTime").to_string())
    }) else {
        return Observed::Absent;
    };
    let mut view = password_view(spec);
    if let Some(window) = &spec.rotate_before {
        let due: Vec<String> = rotation_due(&mine, window, jiff::Timestamp::now())
            .iter()
            .map(|p| str_of(p, "endDateTime").to_string())
            .collect();
        if !due.is_empty() {
            view["rotation"] = json!(format!("due: ends {}", due.join(", ")));
        }
    }
    if view.get("sink").is_some() && *held != Held::Unchecked {
        view["sink"] = json!(if in_sink.is_some() {
            SINK_HOLDS
        } else {
            SINK_LOST
        });
        // Other secrets of this name are values nobody holds: strays of an interrupted run.
        view["unheld"] = json!(mine.len() - 1);
    }
    Observed::Present {
        id: str_of(current, "keyId").to_string(),
        view,
    }
}

/// The desired view of a secret: with rotation, "no secret of this name ends within the
/// window"; with a file sink, "the sink holds the current secret and no other is left".
fn password_view(spec: &PasswordCredentialSpec) -> Value {
    let mut v = json!({});
    if spec.rotate_before.is_some() {
        v["rotation"] = json!("current");
    }
    if matches!(spec.sink, crate::manifest::SecretSink::File(_)) {
        v["sink"] = json!(SINK_HOLDS);
        v["unheld"] = json!(0);
    }
    v
}

/// The secrets among `creds` ending within `window` of `now`.
fn rotation_due<'a>(
    creds: &[&'a Value],
    window: &FixedDuration,
    now: jiff::Timestamp,
) -> Vec<&'a Value> {
    // A window reaching past the end of time leaves nothing to compare with.
    let Ok(limit) = now.checked_add(window.get()) else {
        return vec![];
    };
    creds
        .iter()
        .copied()
        .filter(|p| {
            str_of(p, "endDateTime")
                .parse::<jiff::Timestamp>()
                .is_ok_and(|end| end <= limit)
        })
        .collect()
}

/// Adds a client secret; its value goes only to the configured sink, never anywhere else.
/// Once the sink holds it, every other secret of the same name is removed: the sink holds one
/// value, so they are either due, replaced, or strays of an interrupted run.
async fn password_create(
    spec: &PasswordCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<String, WriteError> {
    let app = w.id_of(at, &spec.application)?.to_string();
    let app = app.as_str();
    let end = jiff::Timestamp::now()
        .checked_add(spec.validity.get())
        .map_err(|e| WriteError::new(at, e.to_string()))?;
    let body = json!({"passwordCredential": {"displayName": spec.display_name, "endDateTime": end.to_string()}});
    let answer = w
        .call(
            at,
            Service::Graph(Version::V1),
            Method::POST,
            &format!("applications/{app}/addPassword"),
            Some(&body),
            &[],
        )
        .await
        .map_err(graph_err(at))?;
    let body = answer.body.unwrap_or(Value::Null);
    let secret = body
        .get("secretText")
        .and_then(Value::as_str)
        .ok_or_else(|| WriteError::new(at, "addPassword answered without a secret"))?;
    let key_id = str_of(&body, "keyId").to_string();
    let record = SinkRecord {
        key_id: key_id.clone(),
        display_name: spec.display_name.clone(),
        application: app.to_string(),
        tenant_id: w.tg.tenant.clone(),
        stored_at: jiff::Timestamp::now().to_string(),
    };
    if let Err(e) = w
        .secrets
        .store(&spec.sink, w.base_dir, secret, &record)
        .await
    {
        // Nobody will ever know this value: take the credential back rather than leave it.
        let _ = remove_password(app, &key_id, at, w).await;
        return Err(WriteError::new(
            at,
            format!("the new secret could not be stored (it was removed again): {e}"),
        ));
    }
    w.set_id(at, &key_id);
    remove_others(spec, app, &key_id, at, w).await?;
    Ok(key_id)
}

/// Removes, by `keyId`, every secret named like `spec` except `keep`.
async fn remove_others(
    spec: &PasswordCredentialSpec,
    app: &str,
    keep: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    for key in password_key_ids(spec, app, at, w)
        .await?
        .iter()
        .filter(|k| !k.eq_ignore_ascii_case(keep))
    {
        remove_password(app, key, at, w).await?;
    }
    Ok(())
}

/// The keyIds of the application's secrets named like `spec`, read now.
async fn password_key_ids(
    spec: &PasswordCredentialSpec,
    app: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<Vec<String>, WriteError> {
    Ok(password_credentials(spec, app, at, w)
        .await?
        .iter()
        .map(|p| str_of(p, "keyId").to_string())
        .collect())
}

async fn password_credentials(
    spec: &PasswordCredentialSpec,
    app: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<Vec<Value>, WriteError> {
    let current = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("applications/{app}?$select=id,passwordCredentials"),
        )
        .await
        .map_err(graph_err(at))?;
    Ok(current
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| str_of(p, "displayName") == spec.display_name)
        .cloned()
        .collect())
}

async fn remove_password(
    app: &str,
    key_id: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    w.call(
        at,
        Service::Graph(Version::V1),
        Method::POST,
        &format!("applications/{app}/removePassword"),
        Some(&json!({"keyId": key_id})),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

/// An update of a secret: rotation and strays. When the sink holds a secret that is not due,
/// only the others go (strays of an interrupted run, or the old secret of a rotation that
/// stopped after the sink was written). Otherwise a new secret is made first, its value goes
/// into the sink, and only then are the others removed, by `keyId` — so the SIEM always has a
/// working value, and a run that stops in between leaves something the next plan sees.
async fn password_rotate(
    spec: &PasswordCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let app = w.id_of(at, &spec.application)?.to_string();
    let mine = password_credentials(spec, &app, at, w).await?;
    let refs: Vec<&Value> = mine.iter().collect();
    let due: Vec<String> = spec
        .rotate_before
        .as_ref()
        .map(|window| {
            rotation_due(&refs, window, jiff::Timestamp::now())
                .iter()
                .map(|p| str_of(p, "keyId").to_string())
                .collect()
        })
        .unwrap_or_default();
    let held = password_held(spec, Some(&json!({"id": app})), w.tenant.role, w.base_dir)
        .map_err(|e| WriteError::new(at, e.to_string()))?;
    match held {
        Held::KeyId(k)
            if refs
                .iter()
                .any(|p| str_of(p, "keyId").eq_ignore_ascii_case(&k))
                && !due.iter().any(|d| d.eq_ignore_ascii_case(&k)) =>
        {
            remove_others(spec, &app, &k, at, w).await
        }
        Held::Unchecked if due.is_empty() => Ok(()),
        _ => password_create(spec, at, w).await.map(|_| ()),
    }
}

impl ResourceKind for PasswordCredentialSpec {
    const NAME: &'static str = "password-credential";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::APP_WRITE;
    // A secret whose value its sink lost cannot be repaired, only replaced.
    const IMMUTABLE: &'static [&'static str] = &["sink"];

    // Read as part of the application object.
    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let app = app_object(cx);
        let held = password_held(self, app, cx.tenant.role, cx.base_dir)
            .map_err(|e| ObserveError::Local(e.to_string()))?;
        Ok(password_observe(self, app, &held))
    }

    fn view(&self, _ids: &Ids) -> Value {
        password_view(self)
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        password_create(self, at, w).await.map(|_| ())
    }

    async fn update(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        password_rotate(self, at, w).await
    }
}
