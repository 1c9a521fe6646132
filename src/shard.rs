//! Sharding a run across machines: `--shard K/N` picks the customers whose tenant id hashes to
//! K, so N CI runners each read a disjoint part of the tenants and `mssp merge` joins them.
//!
//! The assignment is `1 + (first 8 bytes of SHA-256(lower-case tenant id), big-endian) mod N`:
//! it depends on the tenant id alone, never on the manifest order, the number of customers or
//! the machine, so a customer stays in its shard while others are added or removed. The MSSP
//! tenant belongs to shard 1: only shard 1 plans, applies and reports it; the other shards read
//! it for the SIEM application's id (what their customers' grants point at) and drop it from
//! their output.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::TenantRole;
use crate::plan::{Counts, Plan, TenantPlan};
use crate::validate::Validated;

/// Shard K of N (1 ≤ K ≤ N), as given to `--shard K/N` and recorded in shard outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shard {
    /// K, 1-based.
    pub index: u32,
    /// N.
    pub total: u32,
}

/// The `--shard K/N` flag, flattened into every command that reads the tenants.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ShardArgs {
    /// Work on shard K of N only: the customers whose tenant id hashes to K (stable across
    /// machines and manifest changes). Shard 1 also plans the MSSP tenant. Join the shards'
    /// JSON with `mssp merge` (docs/ci.md "Sharding a nightly run").
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// Why `K/N` is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("expected K/N, e.g. 2/3 (shard 2 of 3)")]
    Syntax,
    #[error("N must be at least 1")]
    NoShards,
    #[error("K must be between 1 and N ({total}), got {index}")]
    OutOfRange { index: u32, total: u32 },
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let (k, n) = s.trim().split_once('/').ok_or(ShardError::Syntax)?;
        let index: u32 = k.trim().parse().map_err(|_| ShardError::Syntax)?;
        let total: u32 = n.trim().parse().map_err(|_| ShardError::Syntax)?;
        Shard::new(index, total)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

/// clap's parser for `--shard`: its error message names the flag and the value.
fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: ShardError| e.to_string())
}

impl Shard {
    pub fn new(index: u32, total: u32) -> Result<Self, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        if index == 0 || index > total {
            return Err(ShardError::OutOfRange { index, total });
        }
        Ok(Self { index, total })
    }

    /// Whether this shard owns the MSSP tenant (plans, applies and reports it).
    pub(crate) fn owns_provider(self) -> bool {
        self.index == 1
    }

    /// Whether the customer with this tenant id belongs to this shard.
    pub fn owns(self, tenant_id: &str) -> bool {
        shard_of(tenant_id, self.total) == self.index
    }
}

/// The shard (1..=total) a tenant id belongs to. The id is normalised (trimmed, lower case) so
/// `ABC…` and `abc…` land together; `total` 0 is treated as 1.
pub fn shard_of(tenant_id: &str, total: u32) -> u32 {
    let id = tenant_id.trim().to_ascii_lowercase();
    let hash = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    let n = u64::from(total.max(1));
    let k = u64::from_be_bytes(first) % n;
    // k < n ≤ u32::MAX, so this cannot fail; 1 is the harmless fallback.
    u32::try_from(k).map_or(1, |k| k + 1)
}

/// The manifests with only this shard's customers: everything downstream (plan, report,
/// alerts, apply) then works on them alone. Validation already ran on the whole set.
pub(crate) fn restrict(v: &Validated, shard: Option<Shard>) -> Validated {
    let Some(shard) = shard else {
        return v.clone();
    };
    Validated {
        provider: v.provider.clone(),
        customers: v
            .customers
            .iter()
            .filter(|c| shard.owns(&c.doc.spec.tenant_id.value))
            .cloned()
            .collect(),
        detection_queries: v.detection_queries.clone(),
        gdap_customers: v.gdap_customers.clone(),
    }
}

/// Turns a plan made from [`restrict`]ed manifests into the shard's output: the MSSP tenant is
/// dropped unless this shard owns it, the totals and the drift overview are recomputed, and
/// the digest of the *whole* manifest set and the shard are recorded, so `mssp merge` can tell
/// which shards belong together.
pub(crate) fn finish_plan(plan: &mut Plan, shard: Shard, whole_digest: &str) {
    if !shard.owns_provider() {
        plan.tenants.retain(|t| t.role != TenantRole::Provider);
    }
    plan.manifests_digest = whole_digest.to_string();
    plan.shard = Some(shard);
    retotal(plan);
}

/// Recomputes the summary and the drift overview from the plan's tenants.
pub(crate) fn retotal(plan: &mut Plan) {
    let mut summary = Counts::default();
    for t in &plan.tenants {
        summary.add(&t.counts);
    }
    plan.summary = summary;
    plan.drift = crate::plan::drift(&plan.tenants);
}

/// The MSSP tenant's pending writes, which a shard other than 1 must not make.
pub(crate) fn provider_writes(plan: &Plan) -> Option<&TenantPlan> {
    plan.tenants.iter().find(|t| {
        t.role == TenantRole::Provider
            && t.actions
                .iter()
                .any(|a| a.op.is_change() && a.op != crate::plan::Op::Manual)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_k_of_n() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, total: 3 }));
        assert_eq!(" 1/1 ".parse(), Ok(Shard { index: 1, total: 1 }));
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, total: 3 })
        );
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 0, total: 3 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::NoShards));
        assert_eq!("2".parse::<Shard>(), Err(ShardError::Syntax));
        assert_eq!("-1/3".parse::<Shard>(), Err(ShardError::Syntax));
    }

    #[test]
    fn assignment_ignores_case_and_is_fixed() {
        let id = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
        assert_eq!(shard_of(id, 7), shard_of(&id.to_lowercase(), 7));
        // Pinned: a change to the hash would move customers between CI runners silently.
        assert_eq!(shard_of("3f2504e0-4f89-41d3-9a0c-0305e82c3301", 3), PINNED);
        assert_eq!(shard_of(id, 1), 1);
    }

    /// Worked out independently: `python3 -c "import hashlib; h = hashlib.sha256(b'3f25…3301').digest(); print(int.from_bytes(h[:8], 'big') % 3 + 1)"`.
    const PINNED: u32 = 2;
}
