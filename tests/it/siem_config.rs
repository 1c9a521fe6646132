//! `mssp siem config`: each emitted document is held against the vendor's own published
//! definition (field names, structure, enumerations; sources cited per test) and parsed with a
//! parser for its format; credentials a SIEM cannot use, and clouds it cannot reach, are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";
const NORTHWIND: &str = "3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e";
const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const CANARY: &str = "canary-secret-value-123";

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A copy of examples/ whose provider manifest is changed by `edit`.
fn examples_with(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_dir(&examples(), dir.path());
    let p = dir.path().join("provider.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, edit(text)).unwrap();
    dir
}

/// examples/ with a client secret added *after* the certificate: the SIEMs that only take a
/// secret must pick it, not the first credential.
fn examples_with_secret() -> tempfile::TempDir {
    examples_with(|t| {
        let out = t.replace(
            "          displayName: siem-connector-2026\n",
            "          displayName: siem-connector-2026\n      - secret:\n          displayName: siem-secret\n          validity: P180D\n          sink:\n            file: .secrets/siem-secret\n",
        );
        assert_ne!(out, t, "fixture edit did not apply");
        out
    })
}

fn run(dir: &Path, format: &str, extra: &[&str]) -> Output {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"))
        .args(["siem", "config", "--format", format, "--client-id", CLIENT])
        .args(extra)
        .arg(dir)
        .env("MSSP_SIEM_CLIENT_SECRET", CANARY)
        .env("MSSP_SIEM_CLIENT_SECRET_CONTOSO", CANARY)
        .env_remove("MSSP_SIEM_CLIENT_ID")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(CANARY),
        "{format}: a secret value was printed"
    );
    out
}

fn ok(dir: &Path, format: &str, extra: &[&str]) -> String {
    let out = run(dir, format, extra);
    assert!(
        out.status.success(),
        "{format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_for(dir: &Path, format: &str, customer: &str) -> Value {
    serde_json::from_str(&ok(dir, format, &["--customer", customer])).unwrap()
}

/// A `.conf` stanza: its name and attributes.
type Stanza = (String, BTreeMap<String, String>);

/// A strict parser for Splunk `.conf` files (Splunk docs, "About configuration files":
/// `[stanza]` headers, `attribute = value` lines, `#` comments at the start of a line).
/// Anything else, an attribute outside a stanza, a repeated stanza or attribute, is an error.
fn parse_conf(text: &str) -> Result<Vec<Stanza>, String> {
    let mut out: Vec<Stanza> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            if out.iter().any(|(s, _)| s == name) {
                return Err(format!("line {}: stanza [{name}] repeated", n + 1));
            }
            out.push((name.to_string(), BTreeMap::new()));
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| format!("line {}: not `key = value`: {l:?}", n + 1))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!("line {}: bad key {k:?}", n + 1));
        }
        let (_, kv) = out
            .last_mut()
            .ok_or_else(|| format!("line {}: attribute before any stanza", n + 1))?;
        if kv.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("line {}: {k} repeated", n + 1));
        }
    }
    Ok(out)
}

#[test]
fn the_conf_parser_rejects_what_splunk_would_not_read() {
    assert!(parse_conf("key = v\n").is_err());
    assert!(parse_conf("[a]\nno equals sign\n").is_err());
    assert!(parse_conf("[a]\nk = 1\nk = 2\n").is_err());
    assert!(parse_conf("[a]\n[a]\n").is_err());
    assert_eq!(parse_conf("# c\n[a]\nk = v\n").unwrap()[0].1["k"], "v");
}

/// Source: Splunk Add-on for Microsoft Security (Splunk_TA_MS_Security) `README/inputs.conf.spec`
/// (stanzas `microsoft_365_defender_endpoint_incidents://<name>` and
/// `microsoft_defender_endpoint_atp_alerts://<name>` with `azure_app_account`, `tenant_id`,
/// `start_date`, `environment` / `location`), its `urls_by_environment` / `urls_by_location`
/// tables (environment `commercial-graph-api` for commercial and GCC Graph, `gcc-high-graph-api`
/// for GCC High; locations are Defender API hosts), and the sourcetypes it assigns
/// (`ms365:defender:incident`, `ms:defender:atp:alerts`). `interval`, `index`, `sourcetype`,
/// `disabled` are Splunk's common `inputs.conf` settings. The account (client id + secret) is
/// created on the add-on's Configuration page, so no .conf line carries a credential.
#[test]
fn splunk_config_is_the_addons_inputs_conf_with_the_account_to_create() {
    let dir = examples_with_secret();
    let text = ok(dir.path(), "splunk", &[]);
    let stanzas = parse_conf(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let common: BTreeSet<&str> = ["interval", "index", "sourcetype", "disabled"].into();
    let documented: BTreeMap<&str, (BTreeSet<&str>, &str)> = [
        (
            "microsoft_365_defender_endpoint_incidents",
            (
                BTreeSet::from([
                    "azure_app_account",
                    "tenant_id",
                    "start_date",
                    "environment",
                ]),
                "ms365:defender:incident",
            ),
        ),
        (
            "microsoft_defender_endpoint_atp_alerts",
            (
                BTreeSet::from(["azure_app_account", "tenant_id", "location", "start_date"]),
                "ms:defender:atp:alerts",
            ),
        ),
    ]
    .into();
    let mut seen = BTreeSet::new();
    for (name, kv) in &stanzas {
        let (kind, input) = name.split_once("://").expect("modular input stanza");
        assert!(!input.is_empty());
        let (keys, sourcetype) = documented
            .get(kind)
            .unwrap_or_else(|| panic!("stanza [{name}] is not an input of the add-on"));
        for k in kv.keys() {
            assert!(
                keys.contains(k.as_str()) || common.contains(k.as_str()),
                "[{name}] {k} is not a documented setting"
            );
        }
        for v in kv.values() {
            assert!(
                !v.contains("${"),
                "[{name}]: .conf files expand no ${{VAR}}"
            );
        }
        assert_eq!(kv["sourcetype"], *sourcetype);
        assert_eq!(kv["azure_app_account"], "fabrikam-soc-siem-connector");
        assert_eq!(kv["disabled"], "0");
        let tenant = kv["tenant_id"].as_str();
        match (kind, tenant) {
            ("microsoft_365_defender_endpoint_incidents", CONTOSO) => {
                assert_eq!(kv["environment"], "commercial-graph-api")
            }
            ("microsoft_365_defender_endpoint_incidents", NORTHWIND) => {
                assert_eq!(kv["environment"], "gcc-high-graph-api")
            }
            ("microsoft_defender_endpoint_atp_alerts", CONTOSO) => {
                assert_eq!(kv["location"], "api.securitycenter.microsoft.com")
            }
            ("microsoft_defender_endpoint_atp_alerts", NORTHWIND) => {
                assert_eq!(kv["location"], "api-gov.securitycenter.microsoft.us")
            }
            other => panic!("unexpected {other:?}"),
        }
        seen.insert((kind.to_string(), tenant.to_string()));
    }
    // Both SIEM-enabled customers, both inputs (the app has SecurityIncident.Read.All and
    // WindowsDefenderATP Alert.Read.All); nothing for the customers without SIEM.
    assert_eq!(seen.len(), 4, "{seen:?}");
    // The account values to enter: the client id and where the secret is, never the secret.
    assert!(text.contains(&format!("Client ID:     {CLIENT}")));
    assert!(text.contains("Client Secret: the value of MSSP_SIEM_CLIENT_SECRET"));
}

/// Source: elastic/integrations `packages/m365_defender/manifest.yml` (version 2.14.2: policy
/// template `m365_defender`, input `httpjson` with vars `login_url`, `token_endpoint`,
/// `enable_request_tracer`, `client_id`, `client_secret`, `tenant_id`, `proxy_url`, `ssl`; input
/// `azure-eventhub`), `data_stream/alert/manifest.yml` and `data_stream/incident/manifest.yml`
/// (stream vars; batch size at most 2000 and 50), and Fleet's simplified package policy API
/// (`inputs` keyed `<policy template>-<input type>`, `streams` keyed `<package>.<data stream>`).
/// The integration's own stream template keeps the `lastUpdateDateTime` cursor; the policy
/// writes no Go template expression of its own.
#[test]
fn elastic_config_is_a_fleet_package_policy_for_m365_defender() {
    let dir = examples_with_secret();
    let input_vars: BTreeSet<&str> = [
        "login_url",
        "token_endpoint",
        "enable_request_tracer",
        "client_id",
        "client_secret",
        "tenant_id",
        "proxy_url",
        "ssl",
    ]
    .into();
    let stream_vars: BTreeSet<&str> = [
        "request_url",
        "initial_interval",
        "interval",
        "batch_size",
        "http_client_timeout",
        "tags",
        "preserve_original_event",
        "preserve_duplicate_custom_fields",
        "include_unknown_enum_members",
        "processors",
    ]
    .into();
    for (customer, tenant, login, graph) in [
        (
            "contoso",
            CONTOSO,
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        (
            "northwind-gov",
            NORTHWIND,
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
    ] {
        let p = json_for(dir.path(), "elastic", customer);
        assert_eq!(p["package"]["name"], "m365_defender");
        assert!(p["package"]["version"].is_string());
        let ns = p["namespace"].as_str().unwrap();
        assert!(
            !ns.is_empty()
                && ns
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "namespace {ns:?}"
        );
        let inputs = p["inputs"].as_object().unwrap();
        assert_eq!(
            inputs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(["m365_defender-httpjson", "m365_defender-azure-eventhub"])
        );
        let http = &inputs["m365_defender-httpjson"];
        assert_eq!(http["enabled"], true);
        for k in http["vars"].as_object().unwrap().keys() {
            assert!(input_vars.contains(k.as_str()), "input var {k}");
        }
        assert_eq!(http["vars"]["login_url"], login);
        assert_eq!(http["vars"]["tenant_id"], tenant);
        assert_eq!(http["vars"]["client_id"], CLIENT);
        assert_eq!(http["vars"]["token_endpoint"], "oauth2/v2.0/token");
        // A reference substituted when the policy is posted, never the value.
        assert_eq!(http["vars"]["client_secret"], "${MSSP_SIEM_CLIENT_SECRET}");
        let alert = &http["streams"]["m365_defender.alert"];
        assert_eq!(alert["enabled"], true);
        for (name, s) in http["streams"].as_object().unwrap() {
            for k in s["vars"].as_object().into_iter().flatten().map(|(k, _)| k) {
                assert!(stream_vars.contains(k.as_str()), "{name}: var {k}");
            }
        }
        assert_eq!(alert["vars"]["request_url"], graph);
        assert!(alert["vars"]["batch_size"].as_u64().unwrap() <= 2000);
        let incident = &http["streams"]["m365_defender.incident"];
        assert_eq!(incident["enabled"], true);
        assert!(incident["vars"]["batch_size"].as_u64().unwrap() <= 50);
        assert_eq!(inputs["m365_defender-azure-eventhub"]["enabled"], false);
        let text = p.to_string();
        assert!(
            !text.contains("[[") && !text.contains("{{"),
            "no template expression of the tool's own"
        );
    }
}

/// Source: Microsoft Learn, "RestApiPoller data connector reference for the Codeless Connector
/// Framework" (auth OAuth2 fields; "CCF OAuth2 implementation doesn't support client
/// certificate credentials"; request `QueryParameters` with `{_QueryWindowStartTime}` /
/// `{_QueryWindowEndTime}`; paging types; response `EventsJsonPaths` and required `format`;
/// dcrConfig `StreamName` starting with `Custom-`), "Create a codeless connector" (ARM template
/// with custom table `_CL`, DCR with `streamDeclarations`/`dataFlows`/`outputStream`), and "Data
/// connector definitions reference" (`kind: Customizable`, required `connectorUiConfig` fields).
#[test]
fn sentinel_config_is_a_complete_ccf_deployment() {
    let dir = examples_with_secret();
    let out = run(dir.path(), "sentinel", &["--customer", "northwind-gov"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("built-in Microsoft Defender XDR connector"),
        "{stderr}"
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        t["$schema"]
            .as_str()
            .unwrap()
            .contains("deploymentTemplate.json")
    );
    assert_eq!(t["parameters"]["clientSecret"]["type"], "securestring");
    let res = t["resources"].as_array().unwrap();
    let of = |ty: &str| -> &Value {
        res.iter()
            .find(|r| r["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty}"))
    };
    let table = of("Microsoft.OperationalInsights/workspaces/tables");
    let table_name = table["properties"]["schema"]["name"].as_str().unwrap();
    let table_name = t["variables"][table_name
        .trim_start_matches("[variables('")
        .trim_end_matches("')]")]
    .as_str()
    .unwrap_or(table_name);
    assert!(table_name.ends_with("_CL"));
    let table_cols: BTreeSet<&str> = table["properties"]["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(table_cols.contains("TimeGenerated"));
    of("Microsoft.Insights/dataCollectionEndpoints");
    let dcr = &of("Microsoft.Insights/dataCollectionRules")["properties"];
    let def = of("Microsoft.OperationalInsights/workspaces/providers/dataConnectorDefinitions");
    assert_eq!(def["kind"], "Customizable");
    let ui = &def["properties"]["connectorUiConfig"];
    for f in [
        "title",
        "publisher",
        "descriptionMarkdown",
        "sampleQueries",
        "graphQueries",
        "dataTypes",
        "connectivityCriteria",
        "permissions",
        "instructionSteps",
    ] {
        assert!(!ui[f].is_null(), "connectorUiConfig.{f} is required");
    }
    let conn = of("Microsoft.OperationalInsights/workspaces/providers/dataConnectors");
    assert_eq!(conn["kind"], "RestApiPoller");
    let p = &conn["properties"];
    assert_eq!(
        p["connectorDefinitionName"],
        "[variables('connectorDefinitionName')]"
    );
    assert!(
        def["name"]
            .as_str()
            .unwrap()
            .contains("variables('connectorDefinitionName')")
    );
    // Auth: OAuth2 client credentials with a secret parameter; documented fields only.
    let auth = p["auth"].as_object().unwrap();
    let documented: BTreeSet<&str> = [
        "type",
        "ClientId",
        "ClientSecret",
        "GrantType",
        "TokenEndpoint",
        "Scope",
        "TokenEndpointHeaders",
        "TokenEndpointQueryParameters",
    ]
    .into();
    for k in auth.keys() {
        assert!(documented.contains(k.as_str()), "auth.{k}");
    }
    assert_eq!(auth["type"], "OAuth2");
    assert_eq!(auth["GrantType"], "client_credentials");
    assert_eq!(auth["ClientId"], CLIENT);
    assert_eq!(auth["ClientSecret"], "[parameters('clientSecret')]");
    assert_eq!(
        auth["TokenEndpoint"],
        format!("https://login.microsoftonline.us/{NORTHWIND}/oauth2/v2.0/token")
    );
    assert_eq!(auth["Scope"], "https://graph.microsoft.us/.default");
    // Request: the window goes into $filter through the built-in variables; half-open, so each
    // version of an alert falls in exactly one window.
    let req = &p["request"];
    assert_eq!(
        req["ApiEndpoint"],
        "https://graph.microsoft.us/v1.0/security/alerts_v2"
    );
    assert!(
        req.get("StartTimeAttributeName").is_none() && req.get("startTimeAttributeName").is_none()
    );
    assert_eq!(
        req["QueryParameters"]["$filter"],
        "lastUpdateDateTime ge {_QueryWindowStartTime} and lastUpdateDateTime lt {_QueryWindowEndTime}"
    );
    let paging = [
        "LinkHeader",
        "PersistentLinkHeader",
        "NextPageUrl",
        "NextPageToken",
        "PersistentToken",
        "Offset",
        "CountBasedPaging",
    ];
    assert!(paging.contains(&p["paging"]["pagingType"].as_str().unwrap()));
    assert_eq!(
        p["paging"]["linkHeaderTokenJsonPath"],
        "$['@odata.nextLink']"
    );
    assert_eq!(p["response"]["format"], "json");
    assert_eq!(p["response"]["EventsJsonPaths"][0], "$.value");
    // DCR plumbing: the connector's stream is declared, flows into the custom table, and every
    // column the transform reads/writes exists on its side.
    let stream = t["variables"]["streamName"].as_str().unwrap();
    assert_eq!(p["dcrConfig"]["streamName"], "[variables('streamName')]");
    assert!(stream.starts_with("Custom-"));
    let decl: BTreeSet<&str> = dcr["streamDeclarations"][stream]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let flow = &dcr["dataFlows"][0];
    assert_eq!(flow["streams"][0], stream);
    assert_eq!(flow["outputStream"], format!("Custom-{table_name}"));
    let kql = flow["transformKql"].as_str().unwrap();
    let projected = kql.split_once("project ").unwrap().1;
    for pair in projected.split(", ") {
        let (to, from) = pair.split_once(" = ").unwrap();
        assert!(table_cols.contains(to.trim()), "table lacks {to}");
        assert!(decl.contains(from.trim()), "stream lacks {from}");
    }
    assert!(
        p["dcrConfig"]["dataCollectionEndpoint"]
            .as_str()
            .unwrap()
            .contains("logsIngestion.endpoint")
    );
    assert!(
        p["dcrConfig"]["dataCollectionRuleImmutableId"]
            .as_str()
            .unwrap()
            .contains("immutableId")
    );
    // ARM: every expression is closed; nothing outside parameters carries a credential.
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&t, &mut all);
    for s in all {
        if s.starts_with('[') && !s.starts_with("[[") {
            assert!(s.ends_with(']'), "unclosed ARM expression {s:?}");
        }
        assert!(!s.contains("${"), "a reference ARM does not expand: {s:?}");
    }
}

/// The neutral format keeps every credential kind and the customer's cloud endpoints.
#[test]
fn generic_config_describes_endpoints_per_cloud_and_references_only() {
    let v = json_for(&examples(), "generic", "northwind-gov");
    assert_eq!(v["cloud"], "gccHigh");
    assert_eq!(v["tenantId"], NORTHWIND);
    assert_eq!(v["clientId"], CLIENT);
    assert_eq!(
        v["tokenUrl"],
        format!("https://login.microsoftonline.us/{NORTHWIND}/oauth2/v2.0/token")
    );
    assert_eq!(v["graph"]["scope"], "https://graph.microsoft.us/.default");
    assert_eq!(
        v["defender"]["alertsUrl"],
        "https://api-gov.securitycenter.microsoft.us/api/alerts"
    );
    assert_eq!(v["credential"]["kind"], "certificate");
    assert_eq!(
        v["credential"]["reference"],
        "${MSSP_SIEM_CERTIFICATE_PATH}"
    );
    let c = json_for(&examples(), "generic", "contoso");
    assert_eq!(
        c["tokenUrl"],
        format!("https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token")
    );
    // Customers without SIEM get nothing.
    let all = ok(&examples(), "generic", &[]);
    assert!(!all.contains("5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"));
}

/// All three SIEM integrations take a client secret only; the examples' app has a certificate
/// and a federated credential, so each refuses, naming what it accepts, and writes nothing.
#[test]
fn siems_refuse_credentials_they_cannot_use() {
    for format in ["splunk", "elastic", "sentinel"] {
        let out_dir = tempfile::tempdir().unwrap();
        let out = run(
            &examples(),
            format,
            &["--out", out_dir.path().to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{format} accepted a certificate");
        assert!(
            stderr.contains("(certificate, federated)")
                && stderr.contains("accepts a client secret only"),
            "{format}: {stderr}"
        );
        assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 0);
    }
}

/// The add-on knows no Graph environment for DoD (its `urls_by_environment`).
#[test]
fn splunk_refuses_a_cloud_the_addon_cannot_reach() {
    let dir = examples_with_secret();
    let p = dir.path().join("customers/northwind-gov.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("cloud: gccHigh", "cloud: dod")).unwrap();
    let out = run(dir.path(), "splunk", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("northwind-gov")
            && stderr.contains("dod")
            && stderr.contains("public, gcc, gccHigh"),
        "{stderr}"
    );
    // Elastic takes any login/Graph host, so DoD is fine there.
    let v = json_for(dir.path(), "elastic", "northwind-gov");
    assert_eq!(
        v["inputs"]["m365_defender-httpjson"]["streams"]["m365_defender.alert"]["vars"]["request_url"],
        "https://dod-graph.microsoft.us"
    );
}

/// Without incidents nor Defender alerts permissions the add-on has no input to run.
#[test]
fn splunk_refuses_when_no_input_could_collect() {
    let dir = examples_with(|t| {
        t.replace(
            "graph: [SecurityAlert.Read.All, SecurityIncident.Read.All]\n      defender: [Alert.Read.All]",
            "graph: [SecurityAlert.Read.All]\n      defender: []",
        )
        .replace(
            "          displayName: siem-connector-2026\n",
            "          displayName: siem-connector-2026\n      - secret:\n          displayName: siem-secret\n          validity: P180D\n          sink:\n            file: .secrets/siem-secret\n",
        )
    });
    let out = run(dir.path(), "splunk", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("SecurityIncident.Read.All"), "{stderr}");
}

/// Canary: with --out, no file holds the secret value, whatever the format.
#[test]
fn no_secret_in_any_written_configuration() {
    let dir = examples_with_secret();
    for format in ["splunk", "elastic", "sentinel", "generic"] {
        let out_dir = tempfile::tempdir().unwrap();
        ok(
            dir.path(),
            format,
            &["--out", out_dir.path().to_str().unwrap()],
        );
        let mut n = 0;
        for e in std::fs::read_dir(out_dir.path()).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            assert!(!text.contains(CANARY), "{format}");
            n += 1;
        }
        assert_eq!(n, 2, "{format}: one file per SIEM-enabled customer");
    }
}

/// A webhook URL is a bearer credential: the examples take it from the environment (no
/// warning); a literal URL in a manifest is a validation warning, not an error.
#[test]
fn a_literal_webhook_url_is_a_validation_warning() {
    let validate = |dir: &Path| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"))
            .arg("validate")
            .arg(dir)
            .output()
            .unwrap()
    };
    let clean = validate(&examples());
    assert!(clean.status.success());
    assert!(!String::from_utf8_lossy(&clean.stderr).contains("bearer credential"));
    let dir = examples_with(|t| {
        t.replace(
            "      teams-soc:\n        urlEnv: MSSP_WEBHOOK_TEAMS_SOC",
            "      teams-soc: https://fabrikam.webhook.office.com/webhookb2/soc",
        )
    });
    let out = validate(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: webhook `teams-soc` has its URL in the manifest")
            && stderr.contains("urlEnv"),
        "{stderr}"
    );
    let bad =
        examples_with(|t| t.replace("urlEnv: MSSP_WEBHOOK_TEAMS_SOC", "urlEnv: 'not a name'"));
    assert!(!validate(bad.path()).status.success());
}
