//! The HTML access report in a real browser: Debian's headless Chromium loads the page from
//! disk (offline, as a customer would open the file), runs its script, and the DOM it dumps is
//! checked: one summary row per customer, the tier states and expiry flags, the timeline, and
//! sorting (the page honours `#sort=TABLE:COLUMN[:desc]`, the same code a header click runs).
//! A screenshot is kept under `target/test-artifacts/report/` for people to look at.
//!
//! Chromium is installed by `scripts/test-deps.sh` (`scripts/install-chromium.sh`); when it is
//! missing the test runs that script itself, and fails loudly if there is still no browser.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Method;

use crate::report::{assignment, make, package_id, world};
use crate::support::ALPHA;

fn find_chromium() -> Option<PathBuf> {
    let named = std::env::var_os("MSSP_CHROMIUM").map(PathBuf::from);
    let on_path = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .filter_map(|n| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(n))
                .find(|p| p.is_file())
        });
    named.into_iter().chain(on_path).find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    if let Some(p) = find_chromium() {
        return p;
    }
    let out = Command::new("scripts/install-chromium.sh")
        .output()
        .expect("scripts/install-chromium.sh runs");
    find_chromium().unwrap_or_else(|| {
        panic!(
            "no Chromium for the report's browser test, and scripts/install-chromium.sh could not install Debian's `chromium`:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Headless Chromium with a fresh profile and nothing reaching out to the network.
fn browser(extra: &[String], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn dom(file: &Path, fragment: &str) -> String {
    let url = format!("file://{}{fragment}", file.display());
    let out = browser(&["--dump-dom".into()], &url);
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// The text of each cell of each body row of the table with `id`, as the browser left it.
fn rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table #{id}"));
    let table = &dom[start..];
    let table = &table[..table.find("</table>").expect("table end")];
    let body = &table[table.find("<tbody>").expect("tbody")..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| text(&cell[cell.find('>').map_or(0, |i| i + 1)..]))
                .collect()
        })
        .collect()
}

/// Tags stripped, entities for the characters the template escapes decoded.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .trim()
        .to_string()
}

/// The header texts of the table with `id`.
fn headers(dom: &str, id: &str) -> Vec<String> {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table #{id}"));
    let table = &dom[start..];
    let head = &table[..table.find("</thead>").expect("thead")];
    // `<thead` also starts with `<th`; header cells are `<th>` or `<th …>`.
    head.split("<th")
        .skip(1)
        .filter(|cell| cell.starts_with('>') || cell.starts_with(' '))
        .map(|cell| text(&cell[cell.find('>').map_or(0, |i| i + 1)..]))
        .collect()
}

fn attr_of_table(dom: &str, id: &str, attr: &str) -> Option<String> {
    let start = dom.find(&format!("<table id=\"{id}\""))?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let at = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

#[tokio::test]
async fn the_report_page_works_in_a_real_browser() {
    let w = world().await;
    // One more alpha assignment, ending in ten days: tier 1 is then "expiring".
    let tier1 = package_id(&w, "Test Tier 1").await;
    let soon = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 10))
        .expect("date")
        .to_string();
    w.control(
        Method::POST,
        &format!("tenants/{ALPHA}/assignments"),
        Some(assignment(
            &tier1,
            "Dan Departing",
            "dan@testsoc.example",
            Some(&soon),
        )),
    )
    .await;
    let r = make(&w, &[]).await;
    let html = mssp::report::html(&r).expect("html");
    // Opens offline: nothing is loaded from anywhere else.
    for outside in ["<script src", "<link", "@import", "url(http", "src=\"http"] {
        assert!(!html.contains(outside), "the page loads {outside}…");
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/report");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    let file = dir.join("report.html");
    std::fs::write(&file, &html).expect("write page");

    let page = dom(&file, "");
    // The script ran: sortable headers are focusable (set by the script, not the template).
    assert!(
        page.contains("tabindex=\"0\""),
        "the page's script did not run"
    );
    assert!(
        !page.contains('\u{200d}'),
        "a zero-width joiner in the page"
    );

    // One summary row per customer, in name order, with the tier states.
    let summary = rows(&page, "summary");
    let names: Vec<String> = r.customers.iter().map(|c| c.name.clone()).collect();
    assert_eq!(summary.len(), names.len(), "{summary:?}");
    for (row, name) in summary.iter().zip(&names) {
        assert!(row[0].ends_with(name.as_str()), "{row:?}");
    }
    let cols = headers(&page, "summary");
    let col = |name: &str| {
        cols.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {cols:?}"))
    };
    let (t1, t2, siem) = (col("tier1"), col("tier2"), col("SIEM app"));
    let alpha = summary
        .iter()
        .find(|r| r[0].ends_with("alpha"))
        .expect("alpha row");
    assert_eq!(alpha[t1], "expiring (1 of 3)", "{alpha:?}");
    assert_eq!(alpha[t2], "granted · 1 holder", "{alpha:?}");
    let beta = summary
        .iter()
        .find(|r| r[0].ends_with("beta"))
        .expect("beta row");
    assert_eq!(beta[t1], "granted · 0 holders", "{beta:?}");
    assert_eq!(beta[t2], "—", "beta does not use tier 2: {beta:?}");
    assert!(alpha[siem].starts_with("consented") && alpha[siem].ends_with("expiring"));

    // What ends, soonest first, flagged when within the warning window.
    let ends = rows(&page, "expiring");
    let who: Vec<&str> = ends.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        who.iter().filter(|w| **w == "Dan Departing").count(),
        1,
        "{who:?}"
    );
    let days: Vec<&str> = ends.iter().map(|r| r[0].get(..10).unwrap_or("")).collect();
    let mut sorted = days.clone();
    sorted.sort();
    assert_eq!(days, sorted, "soonest first");
    let flagged: Vec<&str> = ends
        .iter()
        .filter(|r| r[0].ends_with("expiring"))
        .map(|r| r[3].as_str())
        .collect();
    assert!(flagged.contains(&"Test Tier 1"), "{ends:?}");
    assert!(flagged.contains(&"legacy-connector"), "{ends:?}");
    assert!(
        !ends
            .iter()
            .any(|r| r[2] == "Cleo Senior" && r[0].ends_with("expiring"))
    );
    // The timeline draws one mark per dated item, the flagged ones in the warning colour.
    assert_eq!(page.matches("<circle class=\"mark").count(), ends.len());
    assert_eq!(
        page.matches("<circle class=\"mark expiring\"").count(),
        flagged.len()
    );

    // Sorting: by "Who" ascending, then descending; the order the browser leaves is checked.
    let by_who = dom(&file, "#sort=expiring:2");
    assert_eq!(
        attr_of_table(&by_who, "expiring", "data-sorted").as_deref(),
        Some("2:asc")
    );
    let got: Vec<String> = rows(&by_who, "expiring")
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    let mut want = got.clone();
    want.sort_by_key(|s| s.to_lowercase());
    assert_eq!(got, want);
    assert_ne!(
        got,
        who.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "sorting by name changes the date order here, or the test proves nothing"
    );
    let desc = dom(&file, "#sort=assignments-alpha:1:desc");
    let people: Vec<String> = rows(&desc, "assignments-alpha")
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(
        people,
        ["Dan Departing", "Cleo Senior", "Bob Builder", "Ann Analyst"]
    );
    let emails: Vec<String> = rows(&desc, "assignments-alpha")
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    assert!(
        emails.contains(&"ann@testsoc.example".to_string()),
        "{emails:?}"
    );

    // A screenshot of the whole page, kept as a test artifact.
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    browser(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".into(),
        ],
        &format!("file://{}", file.display()),
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{}",
        png.len()
    );
}
