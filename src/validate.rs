//! Semantic validation: the rules the type system and the JSON Schema cannot express.
//!
//! Runs over every loaded document and collects *all* problems (GUIDs, e-mail addresses,
//! ISO 8601 durations, dates, references between documents, derived-name limits) before
//! reporting, so a user fixes a manifest in one round trip. Warnings never fail a run.

pub mod detections;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};
use crate::expand;
use crate::gdap;
use crate::manifest::{
    AccessReview, CertificateCredential, Credential, CustomerManifest, FederatedCredential, Loc,
    ManifestSet, ProviderManifest, SecretSink, Sourced, Subject, Tier,
};
use crate::model::names;
pub use crate::model::values::{DurationError, FixedDuration};
use crate::model::values::{parse_date, parse_duration};

/// Graph's limit on `mailNickname`, which the tool derives from the `uniqueName`.
pub(crate) const MAX_UNIQUE_NAME: usize = 64;
/// Graph's limit on group and application display names.
pub(crate) const MAX_DISPLAY_NAME: usize = 256;
/// Alert severities of Defender (alerts_v2 `severity`).
pub(crate) const SEVERITIES: [&str; 4] = ["high", "medium", "low", "informational"];

/// Manifests that passed validation: exactly one provider and its customers, each beside the
/// values later stages need, already parsed.
#[derive(Debug, Clone)]
pub struct Validated {
    pub provider: ValidProvider,
    pub customers: Vec<ValidCustomer>,
    /// Each detection rule's KQL by rule name, read once at validation.
    pub detection_queries: BTreeMap<String, Arc<str>>,
    /// The customers of the whole manifest set reached through GDAP. Their relationships live
    /// in the MSSP tenant, which is planned whole in every shard (`shard::restrict` keeps
    /// this list while it narrows `customers`).
    pub gdap_customers: Vec<crate::manifest::CustomerManifest>,
}

impl Validated {
    pub fn customer(&self, name: &str) -> Option<&ValidCustomer> {
        self.customers
            .iter()
            .find(|c| c.doc.metadata.name.value == name)
    }

    /// The manifests' folder: the Provider manifest's. Relative paths in the manifests
    /// (secret sinks, certificates) are relative to it.
    pub fn base_dir(&self) -> std::path::PathBuf {
        self.provider.file.path.parent().map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        )
    }

    /// The provider's `siem.expiryWarning` (validated already): warn about SIEM credentials
    /// ending within it. `None` without a SIEM section.
    pub fn siem_expiry_window(&self) -> Option<std::time::Duration> {
        self.provider.siem.as_ref().map(|s| s.expiry_warning.get())
    }
}

/// The Provider manifest as written, and its derived names and parsed values.
#[derive(Debug, Clone)]
pub struct ValidProvider {
    pub file: Arc<SourceFile>,
    pub doc: ProviderManifest,
    /// Every tier, in manifest order.
    pub tiers: Vec<ValidTier>,
    /// The SIEM app's parsed settings, when the provider declares one.
    pub siem: Option<ValidSiem>,
}

impl ValidProvider {
    /// The Provider manifest as parsed, for a document loaded beside this one.
    pub(crate) fn sourced(&self) -> Sourced<ProviderManifest> {
        Sourced {
            file: Arc::clone(&self.file),
            doc: self.doc.clone(),
        }
    }
}

/// A tier with the names derived from it.
#[derive(Debug, Clone)]
pub struct ValidTier {
    pub tier: Tier,
    /// The tier group's `uniqueName` and `mailNickname` ([`names::group_unique_name`]).
    pub unique_name: String,
    /// [`names::package_display_name`].
    pub package_display_name: String,
    /// The tier's access reviews, when they are on.
    pub review: Option<ValidReview>,
}

/// `accessPackage.accessReview` with its first date parsed.
#[derive(Debug, Clone)]
pub struct ValidReview {
    pub review: AccessReview,
    pub start_date: jiff::civil::Date,
}

/// The SIEM app's settings that are parsed.
#[derive(Debug, Clone)]
pub struct ValidSiem {
    /// Plans warn about credentials ending within this window.
    pub expiry_warning: FixedDuration,
    /// `spec.siem.credentials`, in manifest order.
    pub credentials: Vec<ValidCredential>,
}

#[derive(Debug, Clone)]
pub enum ValidCredential {
    Certificate(CertificateCredential),
    Federated(FederatedCredential),
    Secret(ValidSecret),
}

/// A client secret with its lifetimes parsed.
#[derive(Debug, Clone)]
pub struct ValidSecret {
    pub display_name: String,
    pub validity: FixedDuration,
    pub rotate_before: Option<FixedDuration>,
    pub sink: SecretSink,
}

/// A Customer manifest as written, and its parsed values.
#[derive(Debug, Clone)]
pub struct ValidCustomer {
    pub file: Arc<SourceFile>,
    pub doc: CustomerManifest,
    /// `spec.exceptions`, in manifest order.
    pub exceptions: Vec<ValidException>,
}

/// A drift exception with its expiry parsed.
#[derive(Debug, Clone)]
pub struct ValidException {
    pub resource: String,
    pub field: Option<String>,
    pub reason: String,
    pub owner: String,
    /// The last day it applies.
    pub expires: jiff::civil::Date,
    /// An override (a detection rule's status or severity in this customer), not accepted drift.
    pub value: Option<String>,
}

/// Validates `set` as of `today`. Returns the validated manifests when there is no error.
pub fn validate(set: &ManifestSet, today: jiff::civil::Date) -> (Option<Validated>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let provider = match set.providers.as_slice() {
        [] => {
            diags.push(
                Diagnostic::error("no Provider manifest found")
                    .help("exactly one document with `kind: Provider` must describe the MSSP"),
            );
            None
        }
        [one] => Some(one),
        [first, rest @ ..] => {
            for extra in rest {
                diags.push(
                    Diagnostic::error("more than one Provider manifest")
                        .at(&extra.file, extra.doc.kind.pos)
                        .label("second Provider")
                        .help(format!(
                            "the first is at {}:{}:{}; keep exactly one",
                            first.file.path.display(),
                            first.doc.kind.pos.line,
                            first.doc.kind.pos.column
                        )),
                );
            }
            Some(first)
        }
    };
    let provider = provider.map(|p| (p, check_provider(p, &set.roots, &mut diags)));
    let detection_queries = provider
        .as_ref()
        .map(|(p, _)| detections::check_library(p, &set.roots, &mut diags))
        .unwrap_or_default();
    let exceptions = check_customers(set, provider.as_ref().map(|(p, _)| *p), today, &mut diags);
    let ok = !diags.has_errors();
    // A value is missing only where an error was reported, so `ok` implies every `Some`.
    let validated = match (ok, provider) {
        (true, Some((p, Some((tiers, siem))))) => set
            .customers
            .iter()
            .zip(exceptions)
            .map(|(c, exceptions)| {
                Some(ValidCustomer {
                    file: Arc::clone(&c.file),
                    doc: c.doc.clone(),
                    exceptions: exceptions?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(|customers| Validated {
                provider: ValidProvider {
                    file: Arc::clone(&p.file),
                    doc: with_queries(p, &detection_queries).doc,
                    tiers,
                    siem,
                },
                gdap_customers: customers
                    .iter()
                    .filter(|c| c.doc.spec.access.gdap.is_some())
                    .map(|c| c.doc.clone())
                    .collect(),
                customers,
                detection_queries,
            }),
        _ => None,
    };
    // Exceptions and attestations name resources of the expansion, so they are checked last,
    // on manifests already known to be consistent.
    if let Some(v) = &validated {
        check_references_to_resources(v, &mut diags);
        if diags.has_errors() {
            return (None, diags.sorted());
        }
    }
    (validated, diags.sorted())
}

/// The provider with each detection rule's query text attached, as validation read it.
fn with_queries(
    p: &Sourced<ProviderManifest>,
    queries: &BTreeMap<String, Arc<str>>,
) -> Sourced<ProviderManifest> {
    let mut p = p.clone();
    for r in &mut p.doc.spec.detections {
        r.query = queries.get(&r.name.value).cloned();
    }
    p
}

/// Collects diagnostics about one file.
struct Ctx<'a> {
    file: &'a Arc<SourceFile>,
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    fn error(&mut self, at: &Loc<impl Sized>, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push_mut(Diagnostic::error(message).at(self.file, at.pos))
    }

    fn warning(&mut self, at: &Loc<impl Sized>, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push_mut(Diagnostic::warning(message).at(self.file, at.pos))
    }

    fn guid(&mut self, v: &Loc<String>, what: &str) {
        if !is_guid(v) {
            self.error(v, format!("{what} `{}` is not a GUID", v.value))
                .set_label("expected 8-4-4-4-12 hexadecimal digits");
        }
    }

    fn email(&mut self, v: &Loc<String>, what: &str) {
        if !is_email(v) {
            self.error(
                v,
                format!("{what} `{}` is not a valid e-mail address", v.value),
            )
            .set_label("expected name@domain.tld");
        }
    }

    fn fixed_duration(&mut self, v: &Loc<String>, what: &str) -> Option<FixedDuration> {
        match FixedDuration::parse(v) {
            Ok(d) => Some(d),
            Err(why) => {
                self.error(v, format!("{what} `{}` is not a usable duration", v.value))
                    .set_label(why.to_string())
                    .set_help("write e.g. `P180D` or `PT12H`");
                None
            }
        }
    }

    fn duration(&mut self, v: &Loc<String>, what: &str) {
        if let Err(why) = parse_duration(v) {
            self.error(
                v,
                format!("{what} `{}` is not an ISO 8601 duration", v.value),
            )
            .set_label(why.to_string())
            .set_help("write e.g. `P365D` (365 days), `P14D` or `PT12H`");
        }
    }

    fn date(&mut self, v: &Loc<String>, what: &str) -> Option<jiff::civil::Date> {
        match parse_date(&v.value) {
            Some(d) => Some(d),
            None => {
                self.error(v, format!("{what} `{}` is not a date", v.value))
                    .set_label("expected YYYY-MM-DD");
                None
            }
        }
    }

    fn domain(&mut self, v: &Loc<String>, what: &str) {
        if !is_domain(v) {
            self.error(v, format!("{what} `{}` is not a DNS domain name", v.value))
                .set_label("expected e.g. contoso.onmicrosoft.com");
        }
    }

    fn display_name(&mut self, v: &Loc<String>, what: &str) {
        let n = v.value.chars().count();
        if v.value.trim().is_empty() {
            self.error(v, format!("{what} is empty"));
        } else if n > MAX_DISPLAY_NAME {
            self.error(
                v,
                format!("{what} is {n} characters long; Graph allows {MAX_DISPLAY_NAME}"),
            );
        }
    }
}

/// The provider's tiers and SIEM settings, parsed; `None` when an error was reported.
type ProviderValues = Option<(Vec<ValidTier>, Option<ValidSiem>)>;

fn check_provider(
    p: &Sourced<ProviderManifest>,
    roots: &[std::path::PathBuf],
    diags: &mut Diagnostics,
) -> ProviderValues {
    let mut cx = Ctx {
        file: &p.file,
        diags,
    };
    let m = &p.doc;
    let s = &m.spec;
    check_name(&mut cx, &m.metadata.name);
    cx.guid(&s.tenant_id, "provider tenantId");
    cx.domain(&s.domain, "provider domain");
    cx.display_name(&s.catalog.display_name, "catalog displayName");
    if s.tiers.is_empty() {
        cx.diags.push(
            Diagnostic::error("the provider defines no tiers")
                .at(p.file_ref(), m.kind.pos)
                .help("add at least one entry under `spec.tiers`"),
        );
    }
    let mut seen: BTreeMap<&str, &Loc<String>> = BTreeMap::new();
    let mut package_names: BTreeMap<String, u32> = BTreeMap::new();
    let mut role_names: BTreeMap<String, u32> = BTreeMap::new();
    let mut tiers = Vec::new();
    for tier in &s.tiers {
        let package = names::package_display_name(tier);
        if let Some(line) = package_names.insert(package.value.clone(), package.pos.line) {
            cx.error(
                package,
                format!(
                    "access package name `{}` is used by two tiers",
                    package.value
                ),
            )
            .set_help(format!(
                "packages are found by name in the catalog; the other is on line {line}"
            ));
        }
        if let Some(role) = &tier.defender.unified_role
            && let Some(line) =
                role_names.insert(role.display_name.value.clone(), role.display_name.pos.line)
        {
            cx.error(
                &role.display_name,
                format!(
                    "Defender role name `{}` is used by two tiers",
                    role.display_name.value
                ),
            )
            .set_help(format!(
                "roles are found by name; the other is on line {line}"
            ));
        }
        if let Some(first) = seen.insert(tier.name.value.as_str(), &tier.name) {
            cx.error(
                &tier.name,
                format!("tier `{}` is defined twice", tier.name.value),
            )
            .set_help(format!("first defined on line {}", first.pos.line));
        }
        check_slug(&mut cx, &tier.name, "tier name");
        let unique = names::group_unique_name(&s.naming.prefix.value, &tier.name.value);
        if unique.len() > MAX_UNIQUE_NAME {
            cx.error(
                &tier.name,
                format!(
                    "derived uniqueName `{unique}` is {} characters; Graph's mailNickname limit is {MAX_UNIQUE_NAME}",
                    unique.len()
                ),
            )
            .set_help("shorten the tier name or `spec.naming.prefix`");
        }
        // The tier's group would be found (and written) as the lease group, and the lease as a
        // tier group: applies would bind one to the other.
        if unique == names::lease_unique_name(&s.naming.prefix.value) {
            cx.error(
                &tier.name,
                format!(
                    "tier name `{}` gives its group the uniqueName `{unique}` of the apply lease group",
                    tier.name.value
                ),
            )
            .set_help("the apply lease group `<prefix>-apply-lease` is the tool's own (docs/operations.md \"Two applies at once\"); rename the tier");
        }
        // `<prefix>-gdap-<x>` is GDAP tier x's group in the MSSP tenant: a tier named `gdap-x`
        // would be bound to it (and to any GDAP tier added later under that name).
        if tier.name.value.starts_with(names::GDAP_GROUP_INFIX) {
            cx.error(
                &tier.name,
                format!(
                    "tier name `{}` gives its group the uniqueName `{unique}`, which GDAP tier groups use (`<prefix>-{}<tier>`)",
                    tier.name.value,
                    names::GDAP_GROUP_INFIX
                ),
            )
            .set_help("tier names starting with `gdap-` are the tool's own (docs/gdap.md); rename the tier");
        }
        cx.display_name(&tier.group.display_name, "group displayName");
        let ap = &tier.access_package;
        if let Some(n) = &ap.display_name {
            cx.display_name(n, "access package displayName");
        }
        cx.duration(&ap.expiry, "access package expiry");
        cx.duration(&ap.approval.auto_deny_after, "autoDenyAfter");
        if ap.approval.required && ap.approval.approvers.is_empty() {
            cx.diags.push(
                Diagnostic::error(format!(
                    "tier `{}` requires approval but names no approvers",
                    tier.name.value
                ))
                .at(p.file_ref(), tier.name.pos)
                .help("add `approval: {approvers: [{tier: approvers}]}` or set `required: false`"),
            );
        }
        for subject in &ap.approval.approvers {
            check_subject(&mut cx, subject, s);
        }
        let review = match &ap.access_review {
            Some(review) => {
                cx.duration(&review.duration, "access review duration");
                let start = cx.date(&review.start_date, "access review startDate");
                for subject in &review.reviewers {
                    check_subject(&mut cx, subject, s);
                }
                start.map(|start_date| {
                    Some(ValidReview {
                        review: review.clone(),
                        start_date,
                    })
                })
            }
            None => Some(None),
        };
        if let Some(role) = &tier.defender.unified_role {
            cx.display_name(&role.display_name, "Defender role displayName");
            check_actions(&mut cx, &role.display_name, &role.actions);
        }
        tiers.push(review.map(|review| ValidTier {
            tier: tier.clone(),
            unique_name: unique,
            package_display_name: package.value.clone(),
            review,
        }));
    }
    check_provider_gdap(&mut cx, s);
    check_prefix(&mut cx, &s.naming.prefix);
    let siem = match &s.siem {
        Some(siem) => check_siem(&mut cx, siem, &p.file, roots).map(Some),
        None => Some(None),
    };
    if let Some(delivery) = &s.delivery {
        if let Some(smtp) = &delivery.smtp {
            cx.email(&smtp.from, "SMTP sender");
        }
        for (name, hook) in &delivery.webhooks {
            match &hook.value {
                crate::manifest::Webhook::Url(_) => {
                    cx.warning(
                        hook,
                        format!("webhook `{name}` has its URL in the manifest: a Teams or Slack webhook URL is a bearer credential (anyone holding it can post)"),
                    )
                    .set_help("give `urlEnv: VARIABLE` and set the URL in that environment variable");
                }
                crate::manifest::Webhook::Env(e) if !is_env_name(&e.url_env) => {
                    cx.error(
                        hook,
                        format!(
                            "webhook `{name}`: `{}` is not an environment variable name",
                            e.url_env
                        ),
                    );
                }
                crate::manifest::Webhook::Env(_) => {}
            }
        }
    }
    let tiers = tiers.into_iter().collect::<Option<Vec<_>>>()?;
    Some((tiers, siem?))
}

/// A portable environment variable name (POSIX: letters, digits, `_`, not starting with a digit).
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<T> Sourced<T> {
    fn file_ref(&self) -> &Arc<SourceFile> {
        &self.file
    }
}

fn check_subject(cx: &mut Ctx<'_>, subject: &Loc<Subject>, spec: &crate::manifest::ProviderSpec) {
    match &subject.value {
        Subject::Tier(name) => {
            if !spec.tiers.iter().any(|t| &t.name.value == name) {
                let known = tier_list(spec);
                cx.error(subject, format!("approver tier `{name}` is not defined"))
                    .set_help(format!("defined tiers: {known}"));
            }
        }
        Subject::User(id) | Subject::Group(id) => {
            if !is_guid(id) {
                cx.error(subject, format!("`{id}` is not an object id (GUID)"));
            }
        }
        Subject::InternalSponsors | Subject::ExternalSponsors => {}
    }
}

fn tier_list(spec: &crate::manifest::ProviderSpec) -> String {
    let names: Vec<&str> = spec.tiers.iter().map(|t| t.name.value.as_str()).collect();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

fn check_actions(cx: &mut Ctx<'_>, role: &Loc<String>, actions: &[Loc<String>]) {
    if actions.is_empty() {
        cx.error(role, "the Defender role allows no actions")
            .set_help("list at least one action, e.g. `microsoft.xdr/secops/securitydata/read`");
        return;
    }
    for a in actions {
        let v = a.value.as_str();
        let valid = v.starts_with("microsoft.xdr/")
            && v.split('/').count() >= 3
            && v.split('/').all(|seg| !seg.is_empty())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/.*_-".contains(c));
        if !valid {
            cx.error(a, format!("`{v}` is not a Defender XDR action"))
                .set_help("actions look like `microsoft.xdr/secops/securitydata/read`");
            continue;
        }
        if !check_documented_action(cx, a) {
            continue;
        }
        if let Some(w) = actions
            .iter()
            .find(|w| w.value != a.value && w.value.contains('*') && action_covers(&w.value, v))
        {
            cx.warning(
                a,
                format!("`{v}` is covered by `{}` in the same role", w.value),
            )
            .set_help(
                "Defender drops covered actions on read-back; remove it to avoid a permanent diff",
            );
        }
    }
}

/// Refuses an action Microsoft does not document before anything is written: the service would
/// answer the role's write with 400 after the tenant's other objects were created.
fn check_documented_action(cx: &mut Ctx<'_>, a: &Loc<String>) -> bool {
    use crate::kinds::defender_role::{
        ACTIONS_SOURCE, DOCUMENTED_ACTIONS, UnknownAction, check_action,
    };
    let Err(e) = check_action(&a.value) else {
        return true;
    };
    let help = match &e {
        UnknownAction::Undocumented {
            suggestion: Some(s),
            ..
        } => format!("did you mean `{s}`? (documented actions: {ACTIONS_SOURCE})"),
        _ => format!(
            "documented actions: {} ({ACTIONS_SOURCE})",
            DOCUMENTED_ACTIONS.join(", ")
        ),
    };
    cx.error(a, e.to_string()).set_help(help);
    false
}

/// Whether wildcard action `pattern` (segments may be `*`) covers `action`.
pub(crate) fn action_covers(pattern: &str, action: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let a: Vec<&str> = action.split('/').collect();
    if p.len() != a.len() {
        // A trailing `*` covers any remaining depth.
        return p.last() == Some(&"*")
            && a.len() >= p.len()
            && p[..p.len() - 1]
                .iter()
                .zip(&a)
                .all(|(ps, as_)| *ps == "*" || ps == as_);
    }
    p.iter().zip(&a).all(|(ps, as_)| *ps == "*" || ps == as_)
}

fn check_siem(
    cx: &mut Ctx<'_>,
    siem: &crate::manifest::SiemApp,
    file: &Arc<SourceFile>,
    roots: &[std::path::PathBuf],
) -> Option<ValidSiem> {
    let u = &siem.unique_name;
    if u.value.len() > MAX_UNIQUE_NAME
        || u.value.is_empty()
        || !u
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        cx.error(u, format!("SIEM uniqueName `{}` is not valid", u.value))
            .set_help(format!(
                "use up to {MAX_UNIQUE_NAME} ASCII letters, digits, `.`, `_` or `-`"
            ));
    }
    let expiry_warning = cx.fixed_duration(&siem.expiry_warning, "expiryWarning");
    let mut credentials = Vec::new();
    for perm in siem
        .permissions
        .graph
        .iter()
        .chain(&siem.permissions.defender)
    {
        let ok = perm.value.split('.').count() >= 2
            && perm
                .value
                .split('.')
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            cx.error(
                perm,
                format!("`{}` is not an application permission name", perm.value),
            )
            .set_help("e.g. `SecurityAlert.Read.All`");
        }
    }
    let mut fic_names = BTreeSet::new();
    let mut secret_names = BTreeSet::new();
    for cred in &siem.credentials {
        match &cred.value {
            Credential::Certificate(c) => {
                check_certificate(cx, &c.path, file, roots);
                credentials.push(Some(ValidCredential::Certificate(c.clone())));
            }
            Credential::Federated(f) => {
                credentials.push(Some(ValidCredential::Federated(f.clone())));
                if f.name.value.is_empty() || f.name.value.chars().count() > 120 {
                    cx.error(
                        &f.name,
                        "federated credential name must be 1 to 120 characters",
                    );
                }
                if !fic_names.insert(f.name.value.clone()) {
                    cx.error(
                        &f.name,
                        format!("federated credential `{}` is defined twice", f.name.value),
                    );
                }
                if !f.issuer.value.starts_with("https://") || f.issuer.value.len() > 600 {
                    cx.error(
                        &f.issuer,
                        "issuer must be an https URL of at most 600 characters",
                    );
                }
                if f.subject.value.is_empty() || f.subject.value.len() > 600 {
                    cx.error(&f.subject, "subject must be 1 to 600 characters");
                }
            }
            Credential::Secret(s) => {
                let validity = cx.fixed_duration(&s.validity, "secret validity");
                let rotate_before = match &s.rotate_before {
                    Some(r) => cx.fixed_duration(r, "rotateBefore").map(Some),
                    None => Some(None),
                };
                if let (Some(r), Some(Some(r_d)), Some(v_d)) =
                    (&s.rotate_before, &rotate_before, &validity)
                    && r_d.get() >= v_d.get()
                {
                    cx.error(
                        r,
                        format!(
                            "rotateBefore `{}` is not shorter than the validity `{}`: every new secret would be due for rotation at once",
                            r.value, s.validity.value
                        ),
                    );
                }
                credentials.push(
                    validity
                        .zip(rotate_before)
                        .map(|(validity, rotate_before)| {
                            ValidCredential::Secret(ValidSecret {
                                display_name: s.display_name.value.clone(),
                                validity,
                                rotate_before,
                                sink: s.sink.clone(),
                            })
                        }),
                );
                if !secret_names.insert(s.display_name.value.clone()) {
                    cx.error(
                        &s.display_name,
                        format!("secret `{}` is defined twice", s.display_name.value),
                    );
                }
                if let SecretSink::KeyVault(kv) = &s.sink
                    && !kv.vault_url.value.starts_with("https://")
                {
                    cx.error(&kv.vault_url, "vaultUrl must be an https URL");
                }
            }
        }
    }
    Some(ValidSiem {
        expiry_warning: expiry_warning?,
        credentials: credentials.into_iter().collect::<Option<Vec<_>>>()?,
    })
}

/// Largest certificate file read (a PEM certificate is a few KiB).
const MAX_CERTIFICATE_BYTES: u64 = 1024 * 1024;

/// A certificate file named by a manifest. A relative path must stay inside the manifests'
/// folder once `..` and symbolic links are resolved: a manifest from a pull request must not
/// make the tool read (and upload to Entra) `../../../../etc/passwd` or another user's file.
/// The file must be readable, a regular file, and a certificate: found at validation, not
/// halfway through an apply.
fn check_certificate(
    cx: &mut Ctx<'_>,
    at: &Loc<String>,
    file: &Arc<SourceFile>,
    roots: &[std::path::PathBuf],
) {
    use std::io::Read as _;
    use std::path::Path;
    let base = file
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let written = Path::new(&at.value);
    let path = base.join(written);
    let not_found = |cx: &mut Ctx<'_>| {
        cx.error(at, format!("certificate file `{}` not found", at.value))
            .set_help(format!("paths are relative to {}", base.display()));
    };
    if !written.is_absolute() {
        let Ok(real_base) = base.canonicalize() else {
            not_found(cx);
            return;
        };
        // The outermost folder given that holds the manifest; its own folder otherwise.
        let fence = roots
            .iter()
            .filter(|r| real_base.starts_with(r))
            .min_by_key(|r| r.components().count())
            .cloned()
            .unwrap_or(real_base);
        match path.canonicalize() {
            Ok(real) if !real.starts_with(&fence) => {
                cx.error(
                    at,
                    format!(
                        "certificate file `{}` is outside the manifests' folder {}",
                        at.value,
                        fence.display()
                    ),
                )
                .set_help(
                    "a relative path must stay inside the manifests' folder (after `..` and \
                     symbolic links); give an absolute path for a certificate kept elsewhere",
                );
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                not_found(cx);
                return;
            }
            Err(e) => {
                cx.error(
                    at,
                    format!("certificate file `{}` cannot be read: {e}", at.value),
                );
                return;
            }
        }
    }
    let read = || -> Result<Vec<u8>, CertificateFileProblem> {
        let io = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CertificateFileProblem::NotFound
            } else {
                CertificateFileProblem::Unreadable(e)
            }
        };
        // Before opening: opening a FIFO would wait for a writer forever.
        if !std::fs::metadata(&path).map_err(io)?.is_file() {
            return Err(CertificateFileProblem::NotAFile);
        }
        let f = std::fs::File::open(&path).map_err(io)?;
        let meta = f.metadata().map_err(CertificateFileProblem::Unreadable)?;
        if !meta.is_file() {
            return Err(CertificateFileProblem::NotAFile);
        }
        let mut bytes = Vec::new();
        f.take(MAX_CERTIFICATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(CertificateFileProblem::Unreadable)?;
        if bytes.len() as u64 > MAX_CERTIFICATE_BYTES {
            return Err(CertificateFileProblem::TooLarge);
        }
        Ok(bytes)
    };
    let problem = match read() {
        Ok(bytes) => match crate::kinds::key_credential::CertificateFile::parse(&bytes) {
            Ok(_) => return,
            Err(e) => CertificateFileProblem::NotACertificate(e),
        },
        Err(CertificateFileProblem::NotFound) => {
            not_found(cx);
            return;
        }
        Err(e) => e,
    };
    cx.error(at, format!("certificate file `{}` {problem}", at.value));
}

/// Why a certificate file a manifest names cannot be used (the text follows its path).
#[derive(Debug, thiserror::Error)]
enum CertificateFileProblem {
    #[error("not found")]
    NotFound,
    #[error("is not a regular file")]
    NotAFile,
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    #[error("is larger than {} KiB; a certificate is a few KiB", MAX_CERTIFICATE_BYTES / 1024)]
    TooLarge,
    #[error("is not a PEM or DER certificate: {0}")]
    NotACertificate(crate::kinds::key_credential::CertificateParseError),
}

/// Checks every customer; returns each one's exceptions, parsed (`None` when one was not valid).
fn check_customers(
    set: &ManifestSet,
    provider: Option<&Sourced<ProviderManifest>>,
    today: jiff::civil::Date,
    diags: &mut Diagnostics,
) -> Vec<Option<Vec<ValidException>>> {
    let mut all_exceptions = Vec::new();
    let mut names: BTreeMap<&str, &Sourced<CustomerManifest>> = BTreeMap::new();
    let mut tenants: BTreeMap<String, &Sourced<CustomerManifest>> = BTreeMap::new();
    for c in &set.customers {
        let mut cx = Ctx {
            file: &c.file,
            diags,
        };
        let m = &c.doc;
        let s = &m.spec;
        check_name(&mut cx, &m.metadata.name);
        if let Some(first) = names.insert(m.metadata.name.value.as_str(), c) {
            cx.error(
                &m.metadata.name,
                format!("customer `{}` is defined twice", m.metadata.name.value),
            )
            .set_help(format!(
                "first defined in {}",
                where_(first, &first.doc.metadata.name)
            ));
        }
        cx.guid(&s.tenant_id, "customer tenantId");
        if is_guid(&s.tenant_id) {
            let key = s.tenant_id.value.to_ascii_lowercase();
            if let Some(first) = tenants.get(&key) {
                cx.error(
                    &s.tenant_id,
                    format!("tenant id `{}` is used by two customers", s.tenant_id.value),
                )
                .set_help(format!(
                    "customer `{}` has it too ({})",
                    first.doc.metadata.name.value,
                    where_(first, &first.doc.spec.tenant_id)
                ));
            } else {
                tenants.insert(key, c);
            }
        }
        cx.domain(&s.domain, "customer domain");
        if let Some(p) = provider {
            check_customer_against_provider(&mut cx, c, p);
        }
        let mut rule_names = BTreeSet::new();
        for rule in &s.notifications {
            if !rule_names.insert(rule.name.value.as_str()) {
                cx.error(
                    &rule.name,
                    format!("notification rule `{}` is defined twice", rule.name.value),
                );
            }
            if rule.severities.is_empty() {
                cx.error(&rule.name, "notification rule has no severities");
            }
            for sev in &rule.severities {
                if !SEVERITIES.contains(&sev.value.as_str()) {
                    cx.error(
                        sev,
                        format!("`{}` is not a Defender alert severity", sev.value),
                    )
                    .set_help(format!("use one of: {}", SEVERITIES.join(", ")));
                }
            }
            if rule.recipients.is_empty() && rule.webhooks.is_empty() {
                cx.error(&rule.name, "notification rule has no recipients");
            }
            for r in &rule.recipients {
                cx.email(r, "recipient");
            }
            for w in &rule.webhooks {
                let known = provider
                    .and_then(|p| p.doc.spec.delivery.as_ref())
                    .is_some_and(|d| d.webhooks.contains_key(&w.value));
                if !known {
                    cx.error(
                        w,
                        format!(
                            "webhook `{}` is not defined in the provider's `delivery.webhooks`",
                            w.value
                        ),
                    );
                }
            }
        }
        let mut exceptions = Vec::new();
        for e in &s.exceptions {
            cx.email(&e.owner, "exception owner");
            let expires = cx.date(&e.expires, "exception expiry");
            if let Some(d) = expires
                && d < today
            {
                cx.warning(&e.expires, format!("exception expired on {d}"))
                    .set_help("the drift it covered is planned again; renew or remove it");
            }
            exceptions.push(expires.map(|expires| ValidException {
                resource: e.resource.value.clone(),
                field: e.field.as_ref().map(|f| f.value.clone()),
                reason: e.reason.clone(),
                owner: e.owner.value.clone(),
                expires,
                value: e.value.as_ref().map(|v| v.value.clone()),
            }));
        }
        all_exceptions.push(exceptions.into_iter().collect::<Option<Vec<_>>>());
        for a in &s.attestations {
            cx.email(&a.by, "attestation `by`");
            if let Some(d) = cx.date(&a.on, "attestation date")
                && d > today
            {
                cx.error(&a.on, format!("attestation is dated in the future ({d})"));
            }
        }
    }
    all_exceptions
}

fn check_customer_against_provider(
    cx: &mut Ctx<'_>,
    c: &Sourced<CustomerManifest>,
    p: &Sourced<ProviderManifest>,
) {
    let s = &c.doc.spec;
    let ps = &p.doc.spec;
    if s.tenant_id.value.eq_ignore_ascii_case(&ps.tenant_id.value) {
        cx.error(
            &s.tenant_id,
            "customer tenantId is the provider's own tenant",
        );
    }
    let mut seen = BTreeSet::new();
    for t in &s.access.tiers {
        if !ps.tiers.iter().any(|pt| pt.name.value == t.value) {
            cx.error(t, format!("unknown tier `{}`", t.value))
                .set_label("not defined in the Provider")
                .set_help(format!(
                    "tiers defined in {}: {}",
                    p.file.path.display(),
                    tier_list(ps)
                ));
        }
        if !seen.insert(t.value.as_str()) {
            cx.warning(t, format!("tier `{}` is listed twice", t.value));
        }
    }
    if let Some(g) = &s.access.gdap {
        check_customer_gdap(cx, g, p);
    }
    if let Some(cloud) = &s.cloud
        && cloud.value != ps.cloud
        && (is_sovereign(cloud.value) || is_sovereign(ps.cloud))
    {
        cx.warning(
            cloud,
            format!(
                "customer cloud `{}` differs from the provider's `{}`",
                cloud.value, ps.cloud
            ),
        )
        .set_help("B2B collaboration across Microsoft clouds must be enabled in both tenants' cross-cloud settings");
    }
}

/// A GDAP role id: a GUID the built-in role table knows (GDAP grants built-in roles only).
fn check_gdap_role(cx: &mut Ctx<'_>, role: &Loc<String>) -> bool {
    if !is_guid(role) {
        cx.error(role, format!("GDAP role `{}` is not a role template id (GUID)", role.value))
            .set_help("e.g. `5d6b6bb7-de71-4623-b4af-96380a352509` (Security Reader); docs/manifest.md lists them");
        return false;
    }
    if gdap::role_name(role).is_none() {
        let known: Vec<String> = gdap::BUILTIN_ROLES
            .iter()
            .map(|(id, n)| format!("{n} `{id}`"))
            .collect();
        cx.error(
            role,
            format!(
                "`{}` is not a documented Entra built-in role the tool knows",
                role.value
            ),
        )
        .set_help(format!(
            "GDAP grants built-in roles by template id ({}); known: {}",
            gdap::ROLES_SOURCE,
            known.join(", ")
        ));
        return false;
    }
    true
}

/// The provider's relationship settings and the tiers' role sets.
fn check_provider_gdap(cx: &mut Ctx<'_>, s: &crate::manifest::ProviderSpec) {
    let settings = s.gdap.clone().unwrap_or_default();
    match gdap::duration_days(&settings.duration) {
        Some(d) if (gdap::MIN_DURATION_DAYS..=gdap::MAX_DURATION_DAYS).contains(&d) => {}
        Some(d) => {
            cx.error(
                &settings.duration,
                format!("GDAP duration `{}` is {d} days", settings.duration.value),
            )
            .set_label("GDAP relationships last from P1D to P730D (two years)");
        }
        None => {
            cx.error(
                &settings.duration,
                format!(
                    "GDAP duration `{}` is not a number of days",
                    settings.duration.value
                ),
            )
            .set_help("write e.g. `P730D`; hours and months are not accepted");
        }
    }
    if !gdap::AUTO_EXTEND_VALUES.contains(&settings.auto_extend.value.as_str()) {
        cx.error(
            &settings.auto_extend,
            format!(
                "GDAP autoExtend `{}` is not accepted",
                settings.auto_extend.value
            ),
        )
        .set_help("Graph accepts `P180D` (extend by six months) or `PT0S` / `P0D` (expire)");
    }
    if gdap::duration_days(&settings.expiry_warning).is_none_or(|d| d <= 0) {
        cx.error(
            &settings.expiry_warning,
            format!(
                "GDAP expiryWarning `{}` is not a positive number of days",
                settings.expiry_warning.value
            ),
        )
        .set_help("write e.g. `P30D`");
    }
    let extends = gdap::extends(&settings.auto_extend);
    for tier in &s.tiers {
        let Some(tg) = &tier.gdap else { continue };
        if tg.roles.is_empty() {
            cx.error(
                &tier.name,
                format!(
                    "tier `{}` has a `gdap` section without roles",
                    tier.name.value
                ),
            );
        }
        for role in &tg.roles {
            if check_gdap_role(cx, role)
                && extends
                && role.value.eq_ignore_ascii_case(gdap::GLOBAL_ADMINISTRATOR)
            {
                cx.error(
                    &settings.auto_extend,
                    format!(
                        "GDAP relationships with Global Administrator cannot auto-extend, and tier `{}` requests it",
                        tier.name.value
                    ),
                )
                .set_help(format!(
                    "set `autoExtend: PT0S`, or drop Global Administrator (line {})",
                    role.pos.line
                ));
            }
        }
        if let Some(n) = &tg.group_display_name {
            cx.display_name(n, "GDAP group displayName");
        }
        let unique = names::gdap_group_unique_name(&s.naming.prefix.value, &tier.name.value);
        if unique.len() > MAX_UNIQUE_NAME {
            cx.error(
                &tier.name,
                format!(
                    "derived GDAP group uniqueName `{unique}` is {} characters; the limit is {MAX_UNIQUE_NAME}",
                    unique.len()
                ),
            );
        }
    }
}

/// A customer's GDAP tiers exist and have roles; pinned relationship roles cover them.
fn check_customer_gdap(
    cx: &mut Ctx<'_>,
    g: &crate::manifest::CustomerGdap,
    p: &Sourced<ProviderManifest>,
) {
    let ps = &p.doc.spec;
    let settings = ps.gdap.clone().unwrap_or_default();
    let mut union: Vec<String> = Vec::new();
    for t in &g.tiers {
        let Some(tier) = ps.tiers.iter().find(|pt| pt.name.value == t.value) else {
            cx.error(t, format!("unknown tier `{}`", t.value))
                .set_label("not defined in the Provider")
                .set_help(format!("tiers defined: {}", tier_list(ps)));
            continue;
        };
        let Some(tg) = &tier.gdap else {
            cx.error(t, format!("tier `{}` defines no GDAP roles", t.value))
                .set_help(format!(
                    "add `gdap: {{roles: [...]}}` to the tier in {}",
                    p.file.path.display()
                ));
            continue;
        };
        for r in &tg.roles {
            let id = r.value.to_ascii_lowercase();
            if !union.contains(&id) {
                union.push(id.clone());
            }
            if let Some(pinned) = &g.roles
                && !pinned.iter().any(|x| x.value.eq_ignore_ascii_case(&id))
            {
                let name = gdap::role_name(&id).unwrap_or("a role");
                cx.error(
                    t,
                    format!(
                        "tier `{}` assigns {name} `{id}`, which is not among the relationship's roles",
                        t.value
                    ),
                )
                .set_help("an access assignment can only use the relationship's roles: add it to `access.gdap.roles` (a new relationship the customer must approve) or drop the tier");
            }
        }
    }
    let roles: Vec<&Loc<String>> = g.roles.iter().flatten().collect();
    for r in &roles {
        check_gdap_role(cx, r);
    }
    let has_ga = roles
        .iter()
        .any(|r| r.value.eq_ignore_ascii_case(gdap::GLOBAL_ADMINISTRATOR))
        || union.iter().any(|r| r == gdap::GLOBAL_ADMINISTRATOR);
    if has_ga
        && gdap::extends(&settings.auto_extend)
        && let Some(r) = roles
            .iter()
            .find(|r| r.value.eq_ignore_ascii_case(gdap::GLOBAL_ADMINISTRATOR))
    {
        cx.error(
            *r,
            "GDAP relationships with Global Administrator cannot auto-extend, and the provider sets `autoExtend: P180D`",
        );
    }
}

fn is_sovereign(c: Cloud) -> bool {
    matches!(c, Cloud::GccHigh | Cloud::Dod | Cloud::China)
}

fn check_references_to_resources(v: &Validated, diags: &mut Diagnostics) {
    for c in &v.customers {
        // An offboarding customer expands to nothing; its old exceptions and attestations
        // are history, not mistakes.
        if c.doc.spec.lifecycle.state == crate::manifest::LifecycleState::Offboarding {
            continue;
        }
        let tenant = expand::expand_customer(&v.provider, &c.doc);
        let mut cx = Ctx {
            file: &c.file,
            diags,
        };
        detections::check_cloud(&mut cx, &v.provider.doc, &c.doc);
        for e in &c.doc.spec.exceptions {
            if detections::check_exception(&mut cx, &v.provider.doc, &c.doc, e) {
                continue;
            }
            match tenant.find(&e.resource.value) {
                None => {
                    cx.error(
                        &e.resource,
                        format!("exception names unknown resource `{}`", e.resource.value),
                    )
                    .set_help(format!(
                        "run `mssp validate --explain {}` to list this customer's resources",
                        c.doc.metadata.name.value
                    ));
                }
                Some(r) => {
                    if let Some(field) = &e.field
                        && !r.spec.fields().contains(&field.value.as_str())
                    {
                        cx.error(
                            field,
                            format!("`{}` has no field `{}`", e.resource.value, field.value),
                        )
                        .set_help(format!("fields: {}", r.spec.fields().join(", ")));
                    }
                }
            }
        }
        check_adoptions(&mut cx, &c.doc, &tenant);
        for a in &c.doc.spec.attestations {
            match tenant.find(&a.item.value) {
                Some(r) if r.spec.is_manual() => {}
                Some(_) => {
                    cx.error(
                        &a.item,
                        format!(
                            "`{}` is not a manual item; only manual items are attested",
                            a.item.value
                        ),
                    );
                }
                None => {
                    let manual: Vec<String> = tenant
                        .resources
                        .iter()
                        .filter(|r| r.spec.is_manual())
                        .map(|r| r.address.to_string())
                        .collect();
                    cx.error(
                        &a.item,
                        format!("attestation names unknown manual item `{}`", a.item.value),
                    )
                    .set_help(if manual.is_empty() {
                        "this customer has no manual items".to_string()
                    } else {
                        format!("manual items: {}", manual.join(", "))
                    });
                }
            }
        }
    }
}

/// `spec.adopt`: groups of this customer, by GUID, each resource and id once.
fn check_adoptions(cx: &mut Ctx<'_>, c: &CustomerManifest, tenant: &crate::kinds::DesiredTenant) {
    let mut resources = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for a in &c.spec.adopt {
        // Directory and entitlement objects have GUIDs; a detection rule's id is whatever
        // Defender gave it (numbers for rules made in the portal).
        if a.resource.value.starts_with(detections::ADDRESS_PREFIX) {
            if a.id.value.trim().is_empty() || a.id.value.chars().any(char::is_control) {
                cx.error(&a.id, "adopted detection rule id is empty or not printable");
            }
        } else {
            cx.guid(&a.id, "adopted object id");
        }
        if !ids.insert(a.id.value.to_ascii_lowercase()) {
            cx.error(&a.id, format!("object `{}` is adopted twice", a.id.value));
        }
        if !resources.insert(a.resource.value.as_str()) {
            cx.error(
                &a.resource,
                format!("`{}` is adopted twice", a.resource.value),
            );
        }
        match tenant.find(&a.resource.value) {
            Some(r) if r.address.kind.is_adoptable() => {}
            Some(_) => {
                cx.error(
                    &a.resource,
                    format!(
                        "`{}` cannot be adopted; only groups, the catalog, assignment policies, Defender roles and their assignments, and detection rules are",
                        a.resource.value
                    ),
                )
                .set_help("other kinds are found by keys Graph already holds (tenant id, app id) or through adopted objects (a package by the group it grants)");
            }
            None => {
                let groups: Vec<String> = tenant
                    .resources
                    .iter()
                    .filter(|r| r.address.kind.is_adoptable())
                    .map(|r| r.address.to_string())
                    .collect();
                cx.error(
                    &a.resource,
                    format!("adoption names unknown resource `{}`", a.resource.value),
                )
                .set_help(if groups.is_empty() {
                    "this customer has nothing to adopt (no tiers)".to_string()
                } else {
                    format!(
                        "adoptable resources of this customer: {}",
                        groups.join(", ")
                    )
                });
            }
        }
    }
}

fn where_<T>(doc: &Sourced<T>, at: &Loc<String>) -> String {
    format!(
        "{}:{}:{}",
        doc.file.path.display(),
        at.pos.line,
        at.pos.column
    )
}

fn check_name(cx: &mut Ctx<'_>, name: &Loc<String>) {
    let v = &name.value;
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if !ok {
        cx.error(name, format!("name `{v}` is not valid")).set_help(
            "use 1 to 63 lowercase letters, digits and `-`, not starting or ending with `-`",
        );
    }
}

fn check_slug(cx: &mut Ctx<'_>, v: &Loc<String>, what: &str) {
    let ok = v.value.starts_with(|c: char| c.is_ascii_lowercase())
        && v.value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        cx.error(v, format!("{what} `{}` is not valid", v.value))
            .set_help("use lowercase letters, digits and `-`, starting with a letter");
    }
}

fn check_prefix(cx: &mut Ctx<'_>, v: &Loc<String>) {
    check_slug(cx, v, "naming prefix");
}

/// Whether `s` is a GUID in 8-4-4-4-12 form.
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A pragmatic e-mail check: what Entra and SMTP relays accept in practice.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && is_domain(domain)
}

/// A DNS name with at least two labels.
pub(crate) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        assert!(is_guid("7d3c2a1b-0000-4000-8000-00000000000a"));
        assert!(!is_guid("7d3c2a1b-0000-4000-8000-00000000000"));
        assert!(!is_guid("7d3c2a1b00004000800000000000000a"));
        assert!(!is_guid("zd3c2a1b-0000-4000-8000-00000000000a"));
    }

    #[test]
    fn emails() {
        assert!(is_email("soc@fabrikam.example"));
        assert!(is_email("first.last+tag@sub.fabrikam.com"));
        assert!(!is_email("soc@fabrikam"));
        assert!(!is_email("soc fabrikam.com"));
        assert!(!is_email("@fabrikam.com"));
        assert!(!is_email("a..b@fabrikam.com"));
    }

    #[test]
    fn durations() {
        assert!(parse_duration("P365D").is_ok());
        assert!(parse_duration("PT12H").is_ok());
        assert!(parse_duration("P1Y").is_ok());
        assert!(parse_duration("365 days").is_err());
        assert!(parse_duration("P").is_err());
        assert!(parse_duration("P0D").is_err());
        assert!(parse_duration("P3X").is_err());
    }

    #[test]
    fn wildcards() {
        assert!(action_covers(
            "microsoft.xdr/secops/*/read",
            "microsoft.xdr/secops/securitydata/read"
        ));
        assert!(action_covers(
            "microsoft.xdr/*",
            "microsoft.xdr/secops/securitydata/read"
        ));
        assert!(!action_covers(
            "microsoft.xdr/secops/*/read",
            "microsoft.xdr/secops/securitydata/manage"
        ));
    }
}
