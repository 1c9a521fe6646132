//! Tera environments shared by the alert templates: text templates render as is; `.json` and
//! `.yml` templates escape every value as the inside of a JSON string (also valid in YAML
//! double quotes), so an organization name with a quote cannot break the document.

use std::path::Path;

use super::AlertsError;

/// Escapes a value for the inside of a JSON (or YAML double-quoted) string.
fn escape_json(input: &str, buf: &mut dyn std::io::Write) -> std::io::Result<()> {
    let quoted = serde_json::to_string(input).map_err(std::io::Error::other)?;
    let inner = &quoted[1..quoted.len() - 1];
    buf.write_all(inner.as_bytes())
}

/// A Tera with the given built-in templates, each replaced by a file of the same name in
/// `overrides` when there is one.
pub fn load(builtin: &[(&str, &str)], overrides: Option<&Path>) -> Result<tera::Tera, AlertsError> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on([".json", ".yml"]);
    tera.set_escape_fn(escape_json);
    for (name, text) in builtin {
        let custom = overrides.map(|d| d.join(name)).filter(|p| p.is_file());
        let text = match &custom {
            Some(p) => std::fs::read_to_string(p).map_err(|e| AlertsError::Template {
                name: p.display().to_string(),
                why: e.to_string(),
            })?,
            None => (*text).to_string(),
        };
        tera.add_raw_template(name, &text)
            .map_err(|e| AlertsError::Template {
                name: custom.map_or_else(|| (*name).to_string(), |p| p.display().to_string()),
                why: format!("{e:?}"),
            })?;
    }
    Ok(tera)
}

/// Renders one template.
pub fn render(
    tera: &tera::Tera,
    name: &str,
    ctx: &serde_json::Value,
) -> Result<String, AlertsError> {
    let fail = |why: String| AlertsError::Template {
        name: name.to_string(),
        why,
    };
    let ctx = tera::Context::from_serialize(ctx).map_err(|e| fail(format!("{e:?}")))?;
    tera.render(name, &ctx).map_err(|e| fail(format!("{e:?}")))
}
