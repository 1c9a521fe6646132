//! The engine as commands and tests use it: one pipeline behind every command, typed errors
//! that carry their exit codes, and flags declared once for all the commands that take them.

use std::cell::RefCell;

use clap::CommandFactory as _;
use mssp::apply::TenantOutcome;
use mssp::commands::Error;
use mssp::engine::{self, ApplyRequest, ApplyUi, EngineError, PlanRequest};
use mssp::plan::Plan;
use reqwest::Method;
use serde_json::json;

use crate::support::{ALPHA, World};

/// The help text of `--long` (or of the positional `PATH` when `long` is None) in every
/// subcommand that takes it, by command path.
fn help_of(long: Option<&str>) -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, path: &str, long: Option<&str>, out: &mut Vec<(String, String)>) {
        for arg in cmd.get_arguments() {
            let matches = match long {
                Some(l) => arg.get_long() == Some(l),
                None => arg.is_positional() && arg.get_value_names().is_some_and(|n| n == ["PATH"]),
            };
            if matches {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                out.push((path.to_string(), help));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), long, out);
        }
    }
    let mut out = Vec::new();
    walk(&mssp::cli::Cli::command(), "mssp", long, &mut out);
    out
}

/// `--customer`, `--parallelism` and the manifest paths read the same in every command: each
/// is declared once (a shared argument group) and flattened where it is used.
#[test]
fn shared_flags_read_the_same_in_every_command() {
    for (flag, at_least) in [(Some("customer"), 6), (Some("parallelism"), 3), (None, 8)] {
        let found = help_of(flag);
        assert!(
            found.len() >= at_least,
            "{flag:?} in only {} commands: {found:?}",
            found.len()
        );
        // `apply` takes a saved plan in place of manifests and says so in its own argument.
        let texts: std::collections::BTreeSet<&str> = found
            .iter()
            .filter(|(cmd, _)| cmd != "mssp apply")
            .map(|(_, h)| h.as_str())
            .collect();
        assert_eq!(
            texts.len(),
            1,
            "{flag:?} is declared differently: {found:?}"
        );
    }
}

/// Each error ends the run with its documented exit code, printed by the one reporting place.
#[test]
fn errors_carry_their_exit_codes() {
    let stale = Error::from(EngineError::Stale(engine::Stale {
        changes: vec!["alpha: group/tier1 changed since the plan".into()],
    }));
    assert_eq!(mssp::cli::report_error(&stale), mssp::exit::STALE_PLAN);
    assert!(stale.to_string().contains("alpha: group/tier1 changed"));
    assert_eq!(
        stale.help(),
        vec!["make a new plan and review it".to_string()]
    );
    let changed = Error::from(EngineError::ManifestsChanged("m/".into()));
    assert_eq!(mssp::cli::report_error(&changed), mssp::exit::STALE_PLAN);
    let interrupted = Error::from(EngineError::Interrupted { journal: None });
    assert_eq!(
        mssp::cli::report_error(&interrupted),
        mssp::exit::INTERRUPTED
    );
    let held = Error::from(EngineError::Lease {
        source: mssp::apply::lease::LeaseError::Held { holder: None },
        tenant: "t".into(),
    });
    assert_eq!(mssp::cli::report_error(&held), mssp::exit::LEASE_HELD);
    assert_eq!(
        mssp::cli::report_error(&Error::Usage("--owner `x` is not an e-mail address".into())),
        mssp::exit::USAGE
    );
    assert_eq!(
        mssp::cli::report_error(&Error::from(EngineError::UnknownCustomer("zeta".into()))),
        mssp::exit::ERROR
    );
}

/// A saved plan of another format version is refused with a typed error naming both versions.
#[test]
fn a_saved_plan_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let mut plan = serde_json::to_value(empty_plan()).unwrap();
    plan["formatVersion"] = json!(99);
    std::fs::write(&path, plan.to_string()).unwrap();
    match engine::load_plan(&path) {
        Err(e @ engine::PlanFileError::Format { found: 99, .. }) => {
            assert!(e.to_string().contains("this mssp reads format"), "{e}");
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    std::fs::write(&path, "{}").unwrap();
    assert!(matches!(
        engine::load_plan(&path),
        Err(engine::PlanFileError::NotAPlan { .. })
    ));
}

fn empty_plan() -> Plan {
    serde_json::from_value(json!({
        "formatVersion": mssp::plan::FORMAT_VERSION,
        "toolVersion": "0",
        "createdAt": "2026-01-01T00:00:00Z",
        "manifestsDigest": "",
        "manifestPaths": [],
        "prune": false,
        "drift": [],
        "tenants": [],
        "summary": serde_json::to_value(mssp::plan::Counts::default()).unwrap()
    }))
    .unwrap()
}

/// What an apply showed, for the assertions.
#[derive(Default)]
struct Recorded {
    notes: RefCell<Vec<String>>,
    planned: RefCell<usize>,
}

impl ApplyUi for Recorded {
    fn planned(&self, _: &Plan) {
        *self.planned.borrow_mut() += 1;
    }
    fn confirm(&self) -> Result<bool, EngineError> {
        Ok(true)
    }
    fn note(&self, line: &str) {
        self.notes.borrow_mut().push(line.to_string());
    }
    fn outcomes(&self, _: &[TenantOutcome]) {}
}

fn request(w: &World, saved: Option<Plan>) -> ApplyRequest {
    ApplyRequest {
        paths: vec![w.path()],
        saved: saved.map(|p| (w.path().join("plan.json"), p)),
        customers: vec![],
        shard: None,
        parallelism: 4,
        allow_delete: false,
        auto_approve: true,
        journal: None,
        replication_timeout: std::time::Duration::from_secs(30),
        lease_wait: std::time::Duration::ZERO,
        lease_ttl: std::time::Duration::from_secs(300),
        sandbox: true,
    }
}

/// The engine applies and verifies on its own; a saved plan whose objects changed since is
/// refused as stale (exit 3) before anything is written.
#[tokio::test]
async fn the_engine_applies_verifies_and_refuses_a_stale_saved_plan() {
    let w = World::new("world", |_| {}).await;
    let v = w.manifests();
    let ui = Recorded::default();
    engine::apply(&request(&w, None), &v, &w.session, &ui)
        .await
        .expect("the first apply succeeds");
    assert_eq!(*ui.planned.borrow(), 1);
    assert!(
        ui.notes.borrow().iter().any(|n| n.starts_with("verified:")),
        "{:?}",
        ui.notes.borrow()
    );
    // Drift, then a saved plan of it, then someone changes the tenant again.
    w.graph(
        ALPHA,
        Method::PATCH,
        "policies/crossTenantAccessPolicy/partners/0a000000-0000-4000-8000-000000000001",
        Some(json!({"inboundTrust": {"isMfaAccepted": false}})),
    )
    .await
    .unwrap();
    let req = PlanRequest {
        paths: vec![w.path()],
        customers: vec![],
        parallelism: 4,
        prune: false,
        visibility_wait: mssp::plan::VISIBILITY_WAIT,
    };
    let saved = engine::make_plan(&req, &v, &w.session).await;
    assert!(saved.has_changes());
    engine::check_manifests(&saved, &v).expect("same manifests");
    let groups = w
        .graph(ALPHA, Method::GET, "groups(uniqueName='tsoc-tier1')", None)
        .await
        .unwrap();
    w.graph(
        ALPHA,
        Method::PATCH,
        &format!("groups/{}", groups["id"].as_str().unwrap()),
        Some(json!({"description": "edited by hand"})),
    )
    .await
    .unwrap();
    let err = engine::apply(
        &request(&w, Some(saved)),
        &v,
        &w.session,
        &Recorded::default(),
    )
    .await
    .expect_err("a stale plan is refused");
    match &err {
        EngineError::Stale(s) => {
            assert_eq!(s.changes, vec!["alpha: group/tier1 changed since the plan"]);
        }
        other => panic!("expected stale, got {other}"),
    }
    assert_eq!(err.exit_code(), mssp::exit::STALE_PLAN);
    // Nothing was written: the drift is still there.
    let again = engine::make_plan(&req, &v, &w.session).await;
    assert!(again.has_changes());
}
