//! Report rendering: Markdown and a standalone HTML page from tera templates; JSON is the
//! model serialised. Markdown values are escaped before they reach the template (as in plan
//! comments); the HTML template autoescapes everything, so a display name cannot inject markup.
//! The page adds what is easier seen than read: a customer × tier summary, the dated access
//! (assignment ends, SIEM credential ends) as a list and an inline-SVG timeline, flags on what
//! ends soon, sortable tables — all inline, so the file opens offline.

use serde::Serialize;

use super::Report;
use crate::render::RenderError;

mod page;
use crate::render::markdown::esc;

const MARKDOWN: &str = include_str!("templates/report.md.tera");
const HTML: &str = include_str!("templates/report.html.tera");

pub fn markdown(r: &Report) -> Result<String, RenderError> {
    render(MARKDOWN, "report.md", &escaped(r), false)
}

pub fn html(r: &Report) -> Result<String, RenderError> {
    // Autoescaping handles markup, not control characters from server-provided names.
    let mut v = serde_json::to_value(r)?;
    clean_strings(&mut v);
    let mut page = serde_json::to_value(page::build(r))?;
    clean_strings(&mut page);
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("page".into(), page);
    }
    render(HTML, "report.html", &v, true)
}

fn clean_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = crate::graph::sanitize::clean(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(clean_strings),
        serde_json::Value::Object(m) => m.values_mut().for_each(clean_strings),
        _ => {}
    }
}

fn render(
    template: &str,
    name: &str,
    data: &impl Serialize,
    autoescape: bool,
) -> Result<String, RenderError> {
    let mut tera = tera::Tera::default();
    if autoescape {
        tera.autoescape_on(vec![".html"]);
    } else {
        tera.autoescape_on(Vec::<&str>::new());
    }
    tera.add_raw_template(name, template)?;
    let ctx = tera::Context::from_serialize(data)?;
    Ok(tera.render(name, &ctx)?)
}

/// The report with every string escaped for Markdown (links stay usable: they are URLs the
/// tool built from ids and cloud hosts, escaped like the rest).
fn escaped(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    escape_strings(&mut v);
    v
}

fn escape_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = esc(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(escape_strings),
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    // Links the tool built from a cloud host, a validated domain and Graph ids:
                    // kept verbatim so they stay clickable, unless anything unexpected is in them.
                    serde_json::Value::String(s)
                        if (k == "portalLink" || k == "requestLink" || k == "approvalLink")
                            && plain_url(s) => {}
                    _ => escape_strings(x),
                }
            }
        }
        _ => {}
    }
}

fn plain_url(s: &str) -> bool {
    s.starts_with("https://")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#@=&".contains(c))
}
