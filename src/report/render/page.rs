//! The HTML page's derived views: the customer × tier summary, every dated piece of access in
//! one list, and the expiry timeline laid out (SVG coordinates computed here, so the template
//! only draws and the page needs no script to render).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::report::{CustomerReport, Report};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Every tier (access package) any customer uses, in first-seen order.
    pub tiers: Vec<String>,
    pub summary: Vec<SummaryRow>,
    /// Assignment and credential ends, soonest first.
    pub dated: Vec<Dated>,
    pub expiring_count: usize,
    pub timeline: Timeline,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryRow {
    pub name: String,
    pub display_name: String,
    pub cells: Vec<Cell>,
    /// The SIEM app: `consented`, `not consented`, `off`, or `unknown` when unread.
    pub siem: String,
    pub siem_expiring: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub tier: String,
    /// `granted`, `missing`, `expiring`, `unused` (the customer does not use the tier) or
    /// `unknown` (the tenant could not be read).
    pub state: &'static str,
    /// Who holds the tier's package now.
    pub holders: usize,
    /// Of them, whose assignment ends within the warning window.
    pub expiring: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dated {
    pub customer: String,
    /// `assignment` or `credential`.
    pub kind: &'static str,
    /// The package (assignments) or the credential's name.
    pub what: String,
    /// The person (assignments); the SIEM app for credentials.
    pub who: String,
    pub ends: String,
    /// `2027-02-01`, for display and sorting.
    pub day: String,
    pub expiring: bool,
    pub expired: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub now_x: u32,
    pub ticks: Vec<Tick>,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tick {
    pub x: u32,
    pub label: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    pub x: u32,
    pub y: u32,
    pub label: String,
    pub day: String,
    pub expiring: bool,
    pub expired: bool,
    /// The date is written left of the mark (near the right edge).
    pub day_before: bool,
}

const WIDTH: u32 = 960;
const LEFT: u32 = 300;
const RIGHT: u32 = 24;
const TOP: u32 = 28;
const ROW: u32 = 22;
/// The timeline always shows at least this far ahead, so a near end is not stretched edge to edge.
const MIN_DAYS: i64 = 90;

pub fn build(r: &Report) -> Page {
    let now = r
        .generated_at
        .parse::<Timestamp>()
        .unwrap_or_else(|_| Timestamp::now());
    let mut tiers: Vec<String> = Vec::new();
    for c in &r.customers {
        // Tiers are what analysts request: the access packages (the approvers group is none).
        for t in c.access_packages.iter().map(|p| &p.tier) {
            if !tiers.contains(t) {
                tiers.push(t.clone());
            }
        }
    }
    let summary = r.customers.iter().map(|c| summary_row(c, &tiers)).collect();
    let mut dated: Vec<Dated> = r.customers.iter().flat_map(|c| dated_of(c, now)).collect();
    dated.sort_by(|a, b| (&a.ends, &a.customer, &a.who).cmp(&(&b.ends, &b.customer, &b.who)));
    let expiring_count = dated.iter().filter(|d| d.expiring).count();
    let timeline = timeline(&dated, now);
    Page {
        tiers,
        summary,
        dated,
        expiring_count,
        timeline,
    }
}

fn summary_row(c: &CustomerReport, tiers: &[String]) -> SummaryRow {
    let cells = tiers
        .iter()
        .map(|tier| {
            let group = c.groups.iter().find(|g| &g.tier == tier);
            let package = c.access_packages.iter().find(|p| &p.tier == tier);
            let held: Vec<_> = package
                .map(|p| {
                    c.assignments
                        .iter()
                        .filter(|a| a.package == p.display_name)
                        .collect()
                })
                .unwrap_or_default();
            let expiring = held.iter().filter(|a| a.expiring).count();
            let state = if c.error.is_some() {
                "unknown"
            } else if package.is_none() {
                "unused"
            } else if group.is_some_and(|g| g.id.is_none())
                || package.is_some_and(|p| p.id.is_none())
            {
                "missing"
            } else if expiring > 0 {
                "expiring"
            } else {
                "granted"
            };
            Cell {
                tier: tier.clone(),
                state,
                holders: held.len(),
                expiring,
            }
        })
        .collect();
    let siem = if c.error.is_some() {
        "unknown"
    } else if !c.siem.enabled {
        "off"
    } else if c.siem.service_principal.is_some() {
        "consented"
    } else {
        "not consented"
    };
    SummaryRow {
        name: c.name.clone(),
        display_name: c.display_name.clone(),
        cells,
        siem: siem.to_string(),
        siem_expiring: c.siem.credentials.iter().any(|k| k.expiring),
    }
}

fn dated_of(c: &CustomerReport, now: Timestamp) -> Vec<Dated> {
    let day = |ends: &str| ends.get(..10).unwrap_or(ends).to_string();
    let expired = |ends: &str| ends.parse::<Timestamp>().is_ok_and(|t| t <= now);
    let assignments = c
        .assignments
        .iter()
        .filter(|a| a.until.parse::<Timestamp>().is_ok())
        .map(|a| Dated {
            customer: c.name.clone(),
            kind: "assignment",
            what: a.package.clone(),
            who: a.principal.clone(),
            day: day(&a.until),
            ends: a.until.clone(),
            expiring: a.expiring,
            expired: expired(&a.until),
        });
    let credentials = c.siem.credentials.iter().filter_map(|k| {
        let ends = k.ends.as_ref()?;
        ends.parse::<Timestamp>().ok()?;
        Some(Dated {
            customer: c.name.clone(),
            kind: "credential",
            what: k.name.clone(),
            who: format!("SIEM app ({})", k.kind),
            day: day(ends),
            ends: ends.clone(),
            expiring: k.expiring,
            expired: expired(ends),
        })
    });
    assignments.chain(credentials).collect()
}

fn timeline(dated: &[Dated], now: Timestamp) -> Timeline {
    let start = TimeZone::UTC.to_datetime(now).date();
    let latest = dated
        .iter()
        .filter_map(|d| d.ends.parse::<Timestamp>().ok())
        .map(|t| TimeZone::UTC.to_datetime(t).date())
        .max()
        .unwrap_or(start);
    let floor = start.checked_add(MIN_DAYS.days()).unwrap_or(start);
    let end = latest.max(floor);
    let span = days_between(start, end).max(1);
    let plot = WIDTH - LEFT - RIGHT;
    let x_of = |d: Date| -> u32 {
        let off = days_between(start, d).clamp(0, span);
        // Both factors are bounded by the plot width and the span, so this cannot overflow.
        LEFT + u32::try_from(off * i64::from(plot) / span).unwrap_or(0)
    };
    // Month ticks, thinned to a dozen labels at most: every 1, 2, 3, 6 months, or every
    // 1, 2, 5, 10 years (Januaries), so labels never pile up on a long span.
    let months = span / 30 + 1;
    let step: i32 = [1, 2, 3, 6, 12, 24, 60, 120]
        .into_iter()
        .find(|s| months / i64::from(*s) <= 12)
        .unwrap_or(240);
    let mut ticks = Vec::new();
    let mut m = start.first_of_month();
    while let Ok(next) = m.checked_add(1.month()) {
        m = next;
        if m > end {
            break;
        }
        let index = i32::from(m.year()) * 12 + i32::from(m.month()) - 1;
        // No label under "today"'s.
        if index % step == 0 && x_of(m) >= LEFT + 48 {
            ticks.push(Tick {
                x: x_of(m),
                label: if step >= 12 {
                    m.strftime("%Y").to_string()
                } else {
                    m.strftime("%b %Y").to_string()
                },
            });
        }
    }
    let marks: Vec<Mark> = dated
        .iter()
        .zip(0u32..)
        .filter_map(|(d, i)| {
            let date = TimeZone::UTC
                .to_datetime(d.ends.parse::<Timestamp>().ok()?)
                .date();
            let x = x_of(date);
            Some(Mark {
                x,
                day_before: x + 90 > WIDTH,
                y: TOP + i * ROW + ROW / 2,
                label: format!("{} · {} · {}", d.customer, d.who, d.what),
                day: d.day.clone(),
                expiring: d.expiring,
                expired: d.expired,
            })
        })
        .collect();
    let rows = u32::try_from(marks.len()).unwrap_or(u32::MAX / ROW).max(1);
    Timeline {
        width: WIDTH,
        height: TOP + rows * ROW + 8,
        left: LEFT,
        now_x: LEFT,
        ticks,
        marks,
    }
}

fn days_between(a: Date, b: Date) -> i64 {
    a.until((jiff::Unit::Day, b))
        .map_or(0, |s| i64::from(s.get_days()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CredentialEntry, CustomerReport, SiemEntry};

    fn report_with_end(ends: &str) -> Report {
        Report {
            format_version: 1,
            generated_at: "2026-11-29T10:00:00Z".into(),
            provider: "SOC".into(),
            customers: vec![CustomerReport {
                name: "contoso".into(),
                siem: SiemEntry {
                    enabled: true,
                    credentials: vec![CredentialEntry {
                        name: "cert".into(),
                        kind: "certificate".into(),
                        ends: Some(ends.into()),
                        expiring: false,
                    }],
                    ..SiemEntry::default()
                },
                ..CustomerReport::default()
            }],
            shard: None,
            manifests_digest: None,
        }
    }

    /// A credential ten years out must not pile month labels on top of each other.
    #[test]
    fn timeline_labels_stay_apart_on_long_spans() {
        for ends in [
            "2027-01-15T00:00:00Z",
            "2028-06-01T00:00:00Z",
            "2036-11-20T00:00:00Z",
        ] {
            let t = build(&report_with_end(ends)).timeline;
            assert!(
                !t.ticks.is_empty() && t.ticks.len() <= 12,
                "{ends}: {:?}",
                t.ticks
            );
            for pair in t.ticks.windows(2) {
                assert!(pair[1].x >= pair[0].x + 40, "{ends}: {:?}", t.ticks);
            }
            let mark = &t.marks[0];
            assert!(
                mark.x > LEFT && mark.x <= WIDTH - RIGHT,
                "{ends}: {}",
                mark.x
            );
        }
        // Beyond the 90-day floor, the latest end sits at the right edge.
        let t = build(&report_with_end("2036-11-20T00:00:00Z")).timeline;
        assert_eq!(t.marks[0].x, WIDTH - RIGHT);
    }
}
