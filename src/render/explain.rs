//! `mssp validate --explain`: a readable listing of a tenant's desired resources.

use std::fmt::Write as _;

use serde_json::Value;

use crate::kinds::{DesiredTenant, Spec};

pub fn human(t: &DesiredTenant) -> String {
    let mut out = String::new();
    let role = match t.role {
        crate::kinds::TenantRole::Provider => "provider",
        crate::kinds::TenantRole::Customer => "customer",
    };
    let _ = writeln!(
        out,
        "{role} {} — {} (tenant {}, {} cloud)",
        t.name, t.display_name, t.tenant_id, t.cloud
    );
    if let Some(link) = &t.portal_link {
        let _ = writeln!(out, "portal: {link}");
    }
    let _ = writeln!(out, "{} resources:", t.resources.len());
    for r in &t.resources {
        let _ = writeln!(out, "\n  {}", r.address);
        if !r.depends_on.is_empty() {
            let deps: Vec<String> = r.depends_on.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "      depends on: {}", deps.join(", "));
        }
        if let Spec::Manual(m) = &r.spec {
            let _ = writeln!(out, "      manual: {} ({})", m.title, m.reason);
            for (i, step) in m.steps.iter().enumerate() {
                let _ = writeln!(out, "        {}. {step}", i + 1);
            }
            match &m.attested {
                Some(a) => {
                    let _ = writeln!(out, "      attested by {} on {}", a.by, a.on);
                }
                None => {
                    let _ = writeln!(out, "      not attested yet");
                }
            }
            continue;
        }
        if let Ok(Value::Object(fields)) = serde_json::to_value(&r.spec) {
            for (k, v) in fields {
                let _ = writeln!(out, "      {k} = {}", compact(&v));
            }
        }
    }
    out
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
