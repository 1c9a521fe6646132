//! Manual items: settings with no public API (legacy Defender for Endpoint roles, e-mail
//! notification rules). The tool never pretends to apply them; it lists the exact steps with the
//! tenant's portal link, and an attestation in the manifest marks them done.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualSpec {
    pub title: String,
    /// Why there is no API, in one sentence.
    pub reason: String,
    /// Exact portal steps, in order.
    pub steps: Vec<String>,
    /// Tenant-specific portal link, when the cloud has a portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The attestation from the manifest, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attested: Option<AttestationInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationInfo {
    pub by: String,
    pub on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl crate::kinds::ResourceKind for ManualSpec {
    const NAME: &'static str = "manual";
    const READ_PERMISSIONS: crate::kinds::Permissions = &[];
    const WRITE_PERMISSIONS: crate::kinds::Permissions = &[];

    fn observe(
        &self,
        _cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(crate::model::Observed::Absent)
    }
    /// Manual items are never deleted: there is nothing to delete through an API.
    fn prunable(&self) -> bool {
        false
    }
    async fn create(
        &self,
        _at: &crate::model::Address,
        _w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        Ok(())
    }
}
