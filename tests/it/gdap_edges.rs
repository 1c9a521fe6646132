//! GDAP's last rough edges (issue 18): what a termination with nothing to terminate shows in
//! a JSON plan (the tier name that would take a GDAP tier group's name is in `tier_names`).

use crate::gdap::PROVIDER;
use crate::support::World;

/// Nothing to terminate is an absence, not an object: the no-op has no `id` (never `""`).
#[tokio::test]
async fn gdap_termination_with_nothing_to_terminate_has_no_id_in_the_json_plan() {
    let w = World::new("gdap-world", |_| {}).await;
    let plan = serde_json::to_value(w.plan().await).expect("json");
    let actions = plan["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|t| t["name"] == PROVIDER)
        .and_then(|t| t["actions"].as_array())
        .expect("provider actions");
    let termination = actions
        .iter()
        .find(|a| a["address"] == "gdap-termination/contoso")
        .expect("the termination is listed");
    assert_eq!(termination["op"], "noOp", "{termination}");
    assert!(termination.get("id").is_none(), "{termination}");
}
