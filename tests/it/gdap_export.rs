//! `mssp export` adopts a customer's GDAP relationship (issue 18): the manifest of a customer
//! reached through GDAP, lost and exported back, names its GDAP tiers, and the plan of the MSSP
//! tenant stays empty (no second relationship, no new approval).

use crate::gdap::{PROVIDER, assignments, empty_plan, onboarded, relationships};
use crate::support::{World, changes};
use mssp::export::{self, ExportOptions};

#[tokio::test]
async fn export_adopts_the_customers_gdap_relationship_and_its_tiers() {
    let w = World::new("gdap-world", |_| {}).await;
    let rel = onboarded(&w).await;
    std::fs::remove_file(w.path().join("contoso.yaml")).expect("lose the manifest");

    let e = export::export(
        &w.manifests(),
        w.session.graph.clone(),
        &w.session.endpoints,
        &ExportOptions {
            tenant_id: "22222222-2222-4222-8222-222222222222".into(),
            name: Some("contoso".into()),
            domain: Some("contoso.onmicrosoft.com".into()),
            display_name: Some("Contoso".into()),
            cloud: None,
            owner: None,
            keep_days: 90,
            today: jiff::civil::date(2026, 11, 23),
            pending_detections: Default::default(),
        },
    )
    .await
    .expect("export");
    assert!(
        e.manifest
            .contains("    gdap:\n      tiers: [\"tier1\", \"tier2\"]\n"),
        "{}",
        e.manifest
    );
    assert!(
        !e.manifest.contains("roles:"),
        "the tiers' roles are the relationship's: {}",
        e.manifest
    );
    assert!(e.notes.iter().all(|n| !n.contains("GDAP")), "{:?}", e.notes);

    std::fs::write(w.path().join("contoso.yaml"), &e.manifest).expect("write");
    let p = empty_plan(&w).await;
    assert_eq!(changes(&p, PROVIDER), Vec::<String>::new());
    assert_eq!(relationships(&w).await.len(), 1, "no second relationship");
    assert_eq!(assignments(&w, &rel).await.len(), 2);
}
