//! National clouds and their endpoints (api-contract §4.3).
//!
//! Every host the tool talks to comes from a [`CloudProfile`]; nothing else in the code names a
//! Microsoft host. Each endpoint can be overridden from the environment, which is how a private
//! deployment, a TLS-inspecting proxy or the sandbox is reached with the same binary.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Microsoft cloud a tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    /// Commercial (worldwide) cloud.
    #[default]
    Public,
    /// US Government Community Cloud (moderate): commercial login and Graph, GCC Defender API.
    Gcc,
    /// US Government Community Cloud High.
    GccHigh,
    /// US Department of Defense.
    Dod,
    /// Microsoft Azure operated by 21Vianet.
    China,
}

impl Cloud {
    pub const ALL: [Cloud; 5] = [
        Cloud::Public,
        Cloud::Gcc,
        Cloud::GccHigh,
        Cloud::Dod,
        Cloud::China,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gccHigh",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// The documented endpoints of this cloud, without environment overrides.
    pub fn profile(self) -> CloudProfile {
        let (login, graph, defender, portal, myaccess) = match self {
            Cloud::Public => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                Some("https://api.securitycenter.microsoft.com"),
                Some("https://security.microsoft.com"),
                Some("https://myaccess.microsoft.com"),
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                Some("https://api-gcc.securitycenter.microsoft.us"),
                Some("https://security.microsoft.com"),
                Some("https://myaccess.microsoft.com"),
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                Some("https://api-gov.securitycenter.microsoft.us"),
                Some("https://security.microsoft.us"),
                // api-contract documents My Access for the commercial host only.
                None,
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
                Some("https://api-gov.securitycenter.microsoft.us"),
                Some("https://security.apps.mil"),
                None,
            ),
            // api-contract §4.3: no documented Defender API or portal host for 21Vianet.
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                None,
                None,
                None,
            ),
        };
        CloudProfile {
            cloud: self,
            login: login.to_string(),
            graph: graph.to_string(),
            graph_audience: graph.to_string(),
            defender: defender.map(str::to_string),
            defender_audience: defender.map(str::to_string),
            portal: portal.map(str::to_string),
            myaccess: myaccess.map(str::to_string),
        }
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Endpoints of one cloud. `*_audience` is what tokens are requested for; it stays the
/// documented host even when the endpoint itself is overridden (as with a private endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudProfile {
    pub cloud: Cloud,
    pub login: String,
    pub graph: String,
    pub graph_audience: String,
    pub defender: Option<String>,
    pub defender_audience: Option<String>,
    pub portal: Option<String>,
    /// My Access host, where documented for the cloud.
    pub myaccess: Option<String>,
}

impl CloudProfile {
    /// The profile with `AZURE_AUTHORITY_HOST`, `MSSP_GRAPH_URL` and `MSSP_DEFENDER_URL` applied,
    /// as `var` looks them up.
    pub(crate) fn with_overrides(cloud: Cloud, var: impl Fn(&str) -> Option<String>) -> Self {
        let mut p = cloud.profile();
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("AZURE_AUTHORITY_HOST") {
            p.login = trim_slash(v);
        }
        if let Some(v) = get("MSSP_GRAPH_URL") {
            p.graph = trim_slash(v);
        }
        if let Some(v) = get("MSSP_DEFENDER_URL") {
            p.defender = Some(trim_slash(v));
        }
        p
    }

    /// The tenant-specific Defender portal link analysts open (`?tid=`).
    pub(crate) fn portal_link(&self, tenant_id: &str) -> Option<String> {
        self.portal
            .as_ref()
            .map(|p| format!("{p}/?tid={tenant_id}"))
    }

    /// A deep link into the Defender portal for a tenant.
    pub(crate) fn portal_page(&self, path: &str, tenant_id: &str) -> Option<String> {
        self.portal
            .as_ref()
            .map(|p| format!("{p}/{}?tid={tenant_id}", path.trim_start_matches('/')))
    }

    /// The My Access link analysts use to request a customer's access packages.
    pub(crate) fn myaccess_link(&self, domain: &str) -> Option<String> {
        self.myaccess.as_ref().map(|m| format!("{m}/@{domain}"))
    }

    /// The admin-consent URL for an application in a tenant.
    pub(crate) fn admin_consent_url(&self, tenant_id: &str, client_id: &str) -> String {
        format!(
            "{}/{tenant_id}/adminconsent?client_id={client_id}",
            self.login
        )
    }
}

fn trim_slash(s: String) -> String {
    s.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_links_follow_the_cloud() {
        let t = "7d3c2a1b-0000-4000-8000-000000000001";
        assert_eq!(
            Cloud::Public.profile().portal_link(t).as_deref(),
            Some("https://security.microsoft.com/?tid=7d3c2a1b-0000-4000-8000-000000000001")
        );
        assert_eq!(
            Cloud::GccHigh.profile().portal_link(t).as_deref(),
            Some("https://security.microsoft.us/?tid=7d3c2a1b-0000-4000-8000-000000000001")
        );
        assert_eq!(
            Cloud::Dod.profile().portal_link(t).as_deref(),
            Some("https://security.apps.mil/?tid=7d3c2a1b-0000-4000-8000-000000000001")
        );
        assert_eq!(Cloud::China.profile().portal_link(t), None);
    }

    #[test]
    fn overrides_change_endpoints_but_not_audiences() {
        let p = CloudProfile::with_overrides(Cloud::Public, |k| match k {
            "MSSP_GRAPH_URL" => Some("https://127.0.0.1:8443/".into()),
            _ => None,
        });
        assert_eq!(p.graph, "https://127.0.0.1:8443");
        assert_eq!(p.graph_audience, "https://graph.microsoft.com");
        assert_eq!(p.login, "https://login.microsoftonline.com");
    }
}
