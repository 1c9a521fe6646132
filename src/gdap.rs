//! GDAP facts the manifest checks, the resource kinds and the sandbox share: the Entra built-in
//! roles a relationship may request (by role template id), the durations the API accepts, the
//! name the tool gives a relationship and the customer's approval link. docs/gdap.md has sources.

/// Microsoft's "Partner Customer Delegated Administration" application. App-only calls to the
/// GDAP API need its service principal in the partner tenant.
pub(crate) const PARTNER_CDA_APP_ID: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";

/// Global Administrator: a relationship holding it cannot be extended automatically.
pub(crate) const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// `autoExtendDuration` values the API accepts (delegatedAdminRelationship resource page).
pub(crate) const AUTO_EXTEND_VALUES: [&str; 3] = ["P0D", "PT0S", "P180D"];

/// A relationship lasts at least a day and at most two years (`P1D`..`P2Y`).
pub(crate) const MIN_DURATION_DAYS: i64 = 1;
pub(crate) const MAX_DURATION_DAYS: i64 = 730;

/// Graph's limit on a relationship's `displayName`.
pub(crate) const MAX_NAME: usize = 50;

/// Where the role template ids below come from.
pub(crate) const ROLES_SOURCE: &str =
    "https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference";

/// Entra built-in roles (template id, name) an MSSP typically requests through GDAP. Ids are the
/// role templates of the permissions reference; a relationship names roles by these ids.
pub(crate) const BUILTIN_ROLES: &[(&str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("5f2222b1-57c3-48ba-8ad5-d4759f1fde6f", "Security Operator"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
    ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers"),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    ),
    (
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
    ),
    (
        "f023fd81-a637-4b56-95fd-791ac0226033",
        "Service Support Administrator",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
];

/// The name of a built-in role template id (case-insensitive), when the table knows it.
pub(crate) fn role_name(id: &str) -> Option<&'static str> {
    BUILTIN_ROLES
        .iter()
        .find(|(i, _)| i.eq_ignore_ascii_case(id))
        .map(|(_, n)| *n)
}

/// Days in an ISO 8601 duration made of years (365 days), weeks and days (`P730D`, `P2Y`);
/// `PT0S` and `P0D` are zero. Hours, minutes and months are refused: GDAP durations are days.
pub(crate) fn duration_days(s: &str) -> Option<i64> {
    if s == "PT0S" {
        return Some(0);
    }
    let rest = s.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (mut total, mut num) = (0i64, String::new());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        total = total.checked_add(match c {
            'Y' => n.checked_mul(365)?,
            'W' => n.checked_mul(7)?,
            'D' => n,
            _ => return None,
        })?;
    }
    num.is_empty().then_some(total)
}

/// Whether an auto-extension value actually extends (`P180D`), as opposed to `P0D`/`PT0S`.
pub(crate) fn extends(auto_extend: &str) -> bool {
    duration_days(auto_extend).is_some_and(|d| d > 0)
}

/// The link a customer's Global Administrator opens to approve relationship `id` (the GDAP API
/// overview: "build the customer invitation link by using the following URI template").
pub fn approval_link(id: &str) -> String {
    format!(
        "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/{id}"
    )
}

/// The relationship's `displayName`: unique across all the partner's relationships, and a role
/// change needs a new relationship, so the name carries a short digest of the role set
/// (`<prefix>-<customer>-<6 hex>`), cut to Graph's 50 characters.
pub(crate) fn relationship_name(prefix: &str, customer: &str, roles: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<String> = roles.iter().map(|r| r.to_ascii_lowercase()).collect();
    sorted.sort();
    sorted.dedup();
    let digest = hex::encode(Sha256::digest(sorted.join(",").as_bytes()));
    let tail = format!("-{}", &digest[..6]);
    let mut head = format!("{prefix}-{customer}");
    let room = MAX_NAME - tail.len();
    if head.chars().count() > room {
        head = head.chars().take(room).collect();
    }
    format!("{head}{tail}")
}

/// The name of generation `generation` of the relationship first named `base` (a
/// [`relationship_name`]): Graph keeps the names of ended relationships, so the one replacing an
/// ended relationship with the same roles is `<base>-2`, then `-3`, … (cut to 50 characters).
pub(crate) fn generation_name(base: &str, generation: u32) -> String {
    if generation <= 1 {
        return base.to_string();
    }
    let (head, digest) = base.rsplit_once('-').unwrap_or((base, ""));
    let tail = format!("-{digest}-{generation}");
    let room = MAX_NAME.saturating_sub(tail.len());
    let head: String = head.chars().take(room).collect();
    format!("{head}{tail}")
}

/// Whether `name` is a name the tool gives a relationship of customer `customer` holding
/// exactly `roles` (any generation). The digest of the roles makes this the ownership marker:
/// a relationship made by hand in Partner Center never matches, so the tool never terminates it.
pub(crate) fn is_tool_name(prefix: &str, customer: &str, roles: &[String], name: &str) -> bool {
    let base = relationship_name(prefix, customer, roles);
    if name == base {
        return true;
    }
    name.rsplit_once('-')
        .and_then(|(_, g)| g.parse::<u32>().ok())
        .is_some_and(|g| g >= 2 && generation_name(&base, g) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_days() {
        assert_eq!(duration_days("P730D"), Some(730));
        assert_eq!(duration_days("P2Y"), Some(730));
        assert_eq!(duration_days("P180D"), Some(180));
        assert_eq!(duration_days("PT0S"), Some(0));
        assert_eq!(duration_days("P0D"), Some(0));
        assert_eq!(duration_days("P1M"), None);
        assert_eq!(duration_days("PT12H"), None);
        assert_eq!(duration_days("P"), None);
        assert_eq!(duration_days("730"), None);
    }

    #[test]
    fn names_change_with_roles_and_fit() {
        let a = relationship_name("mssp", "contoso", &["B".into(), "a".into()]);
        let b = relationship_name("mssp", "contoso", &["a".into(), "b".into()]);
        let c = relationship_name("mssp", "contoso", &["a".into()]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let long = relationship_name("mssp", &"x".repeat(80), &["a".into()]);
        assert_eq!(long.chars().count(), MAX_NAME);
    }

    #[test]
    fn generations_keep_the_digest_and_fit() {
        let roles = vec!["a".to_string()];
        let base = relationship_name("mssp", "contoso", &roles);
        assert_eq!(generation_name(&base, 1), base);
        let second = generation_name(&base, 2);
        assert_eq!(second, format!("{base}-2"));
        assert!(is_tool_name("mssp", "contoso", &roles, &base));
        assert!(is_tool_name("mssp", "contoso", &roles, &second));
        assert!(!is_tool_name("mssp", "contoso", &["b".into()], &second));
        assert!(!is_tool_name("mssp", "contoso", &roles, "Contoso GDAP"));
        let long = relationship_name("mssp", &"x".repeat(80), &roles);
        let g = generation_name(&long, 12);
        assert_eq!(g.chars().count(), MAX_NAME);
        assert!(g.ends_with("-12"));
        assert!(is_tool_name("mssp", &"x".repeat(80), &roles, &g));
    }
}
