//! Benchmark: load and validate 1,000 customer manifests (plus the provider) from disk.
//!
//! Run with `cargo bench --bench validate`. Prints the median of several runs; this is a
//! benchmark, not a test: it asserts nothing about time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

const CUSTOMERS: usize = 1_000;
const RUNS: usize = 7;

fn main() {
    let dir = std::env::temp_dir().join(format!("mssp-bench-validate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("customers")).expect("create bench dir");
    std::fs::copy("examples/provider.yaml", dir.join("provider.yaml")).expect("copy provider");
    std::fs::create_dir_all(dir.join("certs")).expect("certs dir");
    std::fs::copy(
        "examples/certs/siem-connector.crt",
        dir.join("certs/siem-connector.crt"),
    )
    .expect("copy cert");
    for i in 0..CUSTOMERS {
        std::fs::write(
            dir.join("customers").join(format!("customer-{i:04}.yaml")),
            customer(i),
        )
        .expect("write customer");
    }
    let paths: Vec<PathBuf> = vec![dir.clone()];
    let today = jiff::civil::date(2026, 11, 23);
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let loaded = mssp::manifest::load_paths(&paths);
        let (validated, diags) = mssp::validate::validate(&loaded.set, today);
        let tenants = validated.as_ref().map(mssp::expand::expand_all);
        times.push(start.elapsed());
        assert!(!diags.has_errors(), "{}", diags.render());
        assert_eq!(tenants.map(|t| t.len()), Some(CUSTOMERS + 1));
    }
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "validate+expand {CUSTOMERS} customers: median {:.1} ms (min {:.1} ms, max {:.1} ms, {RUNS} runs)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn customer(i: usize) -> String {
    format!(
        r#"# yaml-language-server: $schema=../../schemas/customer.schema.json
apiVersion: mssp.io/v1
kind: Customer
metadata:
  name: customer-{i:04}
  labels:
    region: emea
spec:
  tenantId: {i:08x}-2b4a-4c5d-9e6f-a1b2c3d4e5f6
  domain: customer{i}.onmicrosoft.com
  displayName: Customer {i}
  access:
    tiers: [tier1, tier2]
    trustMfa: true
  notifications:
    - name: MSSP high and medium
      severities: [high, medium]
      recipients: [soc@fabrikam.example, oncall@fabrikam.example]
  exceptions:
    - resource: access-package/tier2
      field: description
      reason: customer wording
      owner: ciso@customer{i}.example
      expires: 2099-06-30
"#
    )
}
