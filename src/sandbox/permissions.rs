//! The one route → application-permission table. Every emulated route names an [`Area`] and whether
//! it reads or writes; the token's `roles` claim must hold at least one permission listed here
//! (least privileged first, then the higher ones Microsoft documents), else 403
//! `Authorization_RequestDenied`. docs/sandbox.md reproduces this table.

/// A permission area of the emulated APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Groups,
    Applications,
    ServicePrincipals,
    AppRoleAssignments,
    DeletedItems,
    EntitlementManagement,
    CrossTenantAccess,
    TenantInformation,
    DefenderRbac,
    SecurityAlerts,
    SecurityIncidents,
    MdeAlerts,
    /// GDAP relationships, their requests, access assignments and operations (partner tenant).
    DelegatedAdmin,
    CustomDetections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Application permissions that allow `access` on `area` (any one suffices).
pub fn allowed(area: Area, access: Access) -> &'static [&'static str] {
    use Access::*;
    use Area::*;
    match (area, access) {
        (Groups, Read) => &[
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        (Groups, Write) => &["Group.ReadWrite.All", "Directory.ReadWrite.All"],
        (Applications | ServicePrincipals, Read) => &[
            "Application.Read.All",
            "Application.ReadWrite.OwnedBy",
            "Application.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        (Applications | ServicePrincipals, Write) => {
            &["Application.ReadWrite.OwnedBy", "Application.ReadWrite.All"]
        }
        (AppRoleAssignments, Read) => &[
            "Application.Read.All",
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        (AppRoleAssignments, Write) => &["AppRoleAssignment.ReadWrite.All"],
        (DeletedItems, Read) => &[
            "Application.Read.All",
            "Application.ReadWrite.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        (DeletedItems, Write) => &[
            "Application.ReadWrite.All",
            "Group.ReadWrite.All",
            "Directory.ReadWrite.All",
        ],
        (EntitlementManagement, Read) => &[
            "EntitlementManagement.Read.All",
            "EntitlementManagement.ReadWrite.All",
        ],
        (EntitlementManagement, Write) => &["EntitlementManagement.ReadWrite.All"],
        (CrossTenantAccess, Read) => &["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"],
        (CrossTenantAccess, Write) => &["Policy.ReadWrite.CrossTenantAccess"],
        (TenantInformation, _) => &["CrossTenantInformation.ReadBasic.All"],
        (DefenderRbac, Read) => &[
            "RoleManagement.Read.Defender",
            "RoleManagement.ReadWrite.Defender",
        ],
        (DefenderRbac, Write) => &["RoleManagement.ReadWrite.Defender"],
        (SecurityAlerts, Read) => &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
        (SecurityAlerts, Write) => &["SecurityAlert.ReadWrite.All"],
        (SecurityIncidents, Read) => &[
            "SecurityIncident.Read.All",
            "SecurityIncident.ReadWrite.All",
        ],
        (SecurityIncidents, Write) => &["SecurityIncident.ReadWrite.All"],
        (MdeAlerts, Read) => &["Alert.Read.All", "Alert.ReadWrite.All"],
        (MdeAlerts, Write) => &["Alert.ReadWrite.All"],
        (DelegatedAdmin, Read) => &[
            "DelegatedAdminRelationship.Read.All",
            "DelegatedAdminRelationship.ReadWrite.All",
        ],
        (DelegatedAdmin, Write) => &["DelegatedAdminRelationship.ReadWrite.All"],
        (CustomDetections, Read) => &["CustomDetection.Read.All", "CustomDetection.ReadWrite.All"],
        (CustomDetections, Write) => &["CustomDetection.ReadWrite.All"],
    }
}

/// Whether `roles` satisfies `area`/`access`.
pub(crate) fn permits(roles: &[String], area: Area, access: Access) -> bool {
    allowed(area, access)
        .iter()
        .any(|p| roles.iter().any(|r| r == p))
}
