//! Names the tool derives from the manifests: each rule lives here once, so validation's limits
//! and expansion can never disagree about a name.

use crate::manifest::{Loc, Tier};

/// A tier group's `uniqueName`, also its `mailNickname`: `<prefix>-<tier>`.
pub(crate) fn group_unique_name(prefix: &str, tier: &str) -> String {
    format!("{prefix}-{tier}")
}

/// A GDAP tier's group in the MSSP tenant, its `uniqueName` and `mailNickname`:
/// `<prefix>-gdap-<tier>`. Tier names starting with this infix are refused, so no tier group
/// can take the name.
pub(crate) fn gdap_group_unique_name(prefix: &str, tier: &str) -> String {
    format!("{prefix}-{GDAP_GROUP_INFIX}{tier}")
}

/// What every GDAP tier group's `uniqueName` has between `<prefix>-` and the tier name.
pub(crate) const GDAP_GROUP_INFIX: &str = "gdap-";

/// The apply lease group's `uniqueName`: `<prefix>-apply-lease`.
pub(crate) fn lease_unique_name(prefix: &str) -> String {
    format!("{prefix}-apply-lease")
}

/// A tier's access package display name: the one written, else the tier group's.
pub(crate) fn package_display_name(tier: &Tier) -> &Loc<String> {
    tier.access_package
        .display_name
        .as_ref()
        .unwrap_or(&tier.group.display_name)
}

/// A tier's assignment policy display name. Derived from the tier's key, not a display name,
/// so renaming the group or package keeps the policy's natural key.
pub(crate) fn policy_display_name(tier: &str) -> String {
    format!("{tier} access requests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names() {
        assert_eq!(group_unique_name("mssp", "tier1"), "mssp-tier1");
        assert_eq!(lease_unique_name("mssp"), "mssp-apply-lease");
        assert_eq!(gdap_group_unique_name("mssp", "tier1"), "mssp-gdap-tier1");
        assert_eq!(policy_display_name("tier1"), "tier1 access requests");
    }
}
