//! The sandbox's CSDL subset: generated from Graph's published v1.0 metadata
//! (`../shared/graph/v1.0.csdl.xml`) and checked against it. `UPDATE_CSDL=1` rewrites
//! `src/sandbox/csdl_subset.json`; without it the test fails when the committed subset differs from
//! what the CSDL says (a property the sandbox accepts that Graph does not have, or a wrong type).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use mssp::sandbox::csdl::{self, ACCEPTED, Prop, Subset, TypeDef};

fn csdl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/graph/v1.0.csdl.xml")
}

struct Model<'a> {
    types: BTreeMap<String, roxmltree::Node<'a, 'a>>,
    enums: BTreeSet<String>,
    derived: BTreeMap<String, Vec<String>>,
    computed: BTreeSet<String>,
    aliases: Vec<(String, String)>,
}

impl<'a> Model<'a> {
    fn qualify(&self, name: &str) -> String {
        for (alias, ns) in &self.aliases {
            if let Some(rest) = name.strip_prefix(&format!("{alias}.")) {
                return format!("{ns}.{rest}");
            }
        }
        name.to_string()
    }

    fn build(doc: &'a roxmltree::Document<'a>) -> Model<'a> {
        let mut m = Model {
            types: BTreeMap::new(),
            enums: BTreeSet::new(),
            derived: BTreeMap::new(),
            computed: BTreeSet::new(),
            aliases: vec![],
        };
        let schemas: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Schema"))
            .collect();
        for s in &schemas {
            if let (Some(a), Some(ns)) = (s.attribute("Alias"), s.attribute("Namespace")) {
                m.aliases.push((a.to_string(), ns.to_string()));
            }
        }
        for s in &schemas {
            let ns = s.attribute("Namespace").unwrap_or_default();
            for n in s.children().filter(|n| n.is_element()) {
                let Some(name) = n.attribute("Name") else {
                    continue;
                };
                let q = format!("{ns}.{name}");
                match n.tag_name().name() {
                    "EntityType" | "ComplexType" => {
                        if let Some(base) = n.attribute("BaseType") {
                            let base = m.qualify(base);
                            m.derived.entry(base).or_default().push(q.clone());
                        }
                        for p in n.children().filter(|c| c.has_tag_name("Property")) {
                            if p.children()
                                .any(|a| a.attribute("Term") == Some("Org.OData.Core.V1.Computed"))
                            {
                                m.computed.insert(format!(
                                    "{q}/{}",
                                    p.attribute("Name").unwrap_or_default()
                                ));
                            }
                        }
                        m.types.insert(q, n);
                    }
                    "EnumType" => {
                        m.enums.insert(q);
                    }
                    "Annotations" => {}
                    _ => {}
                }
            }
            for a in s.children().filter(|n| n.has_tag_name("Annotations")) {
                let target = a.attribute("Target").unwrap_or_default();
                if a.children()
                    .any(|c| c.attribute("Term") == Some("Org.OData.Core.V1.Computed"))
                {
                    m.computed.insert(m.qualify(target));
                }
            }
        }
        m
    }

    /// (type, collection) of a CSDL type reference.
    fn type_ref(&self, t: &str) -> (String, bool) {
        match t
            .strip_prefix("Collection(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Some(inner) => (self.qualify(inner), true),
            None => (self.qualify(t), false),
        }
    }

    fn keys(&self, ty: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut cur = Some(ty.to_string());
        while let Some(name) = cur {
            let Some(n) = self.types.get(&name) else {
                break;
            };
            for k in n.descendants().filter(|d| d.has_tag_name("PropertyRef")) {
                out.insert(k.attribute("Name").unwrap_or_default().to_string());
            }
            cur = n.attribute("BaseType").map(|b| self.qualify(b));
        }
        out
    }

    /// Flattened properties (base types first) of `ty`.
    fn properties(
        &self,
        ty: &str,
        read_only: &[&str],
        bindable: &[&str],
    ) -> BTreeMap<String, Prop> {
        let keys = self.keys(ty);
        let mut out = BTreeMap::new();
        let mut cur = Some(ty.to_string());
        while let Some(name) = cur {
            let Some(n) = self.types.get(&name) else {
                break;
            };
            for p in n
                .children()
                .filter(|c| c.has_tag_name("Property") || c.has_tag_name("NavigationProperty"))
            {
                let pname = p.attribute("Name").unwrap_or_default();
                let nav = p.has_tag_name("NavigationProperty");
                if nav && !bindable.contains(&pname) {
                    continue;
                }
                let (t, collection) = self.type_ref(p.attribute("Type").unwrap_or_default());
                let computed = self.computed.contains(&format!("{name}/{pname}"));
                out.entry(pname.to_string()).or_insert(Prop {
                    ty: t,
                    collection,
                    nullable: p.attribute("Nullable") != Some("false"),
                    read_only: computed || read_only.contains(&pname),
                    key: keys.contains(pname),
                    bind: nav,
                });
            }
            cur = n.attribute("BaseType").map(|b| self.qualify(b));
        }
        out
    }
}

fn generate(xml: &str) -> Subset {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("CSDL parses");
    let m = Model::build(&doc);
    let mut subset = Subset::default();
    let mut queue: VecDeque<String> = VecDeque::new();
    for a in ACCEPTED {
        assert!(
            m.types.contains_key(a.name),
            "route body type {} is not in the v1.0 CSDL",
            a.name
        );
        let props = m.properties(a.name, a.read_only, a.bindable);
        for ro in a.read_only {
            assert!(
                props.contains_key(*ro),
                "{}: read-only property {ro} is not in the CSDL",
                a.name
            );
        }
        queue.extend(props.values().map(|p| p.ty.clone()));
        subset.types.insert(
            a.name.to_string(),
            TypeDef {
                base: None,
                properties: props,
            },
        );
    }
    while let Some(t) = queue.pop_front() {
        if m.enums.contains(&t) {
            if !subset.enums.contains(&t) {
                subset.enums.push(t);
            }
            continue;
        }
        let Some(node) = m.types.get(&t) else {
            continue;
        };
        if node.tag_name().name() != "ComplexType" || subset.types.contains_key(&t) {
            continue;
        }
        let props = m.properties(&t, &[], &[]);
        queue.extend(props.values().map(|p| p.ty.clone()));
        queue.extend(m.derived.get(&t).cloned().unwrap_or_default());
        subset.types.insert(
            t,
            TypeDef {
                base: None,
                properties: props,
            },
        );
    }
    subset.enums.sort();
    subset
}

#[test]
fn csdl_subset_matches_graph_metadata() {
    let path = csdl_path();
    let Ok(xml) = std::fs::read_to_string(&path) else {
        crate::skips::skipped(&format!(
            "{} not found; skipping the CSDL conformance check",
            path.display()
        ));
        return;
    };
    let fresh = serde_json::to_string_pretty(&generate(&xml)).expect("serialises") + "\n";
    let committed_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/csdl_subset.json");
    if std::env::var_os("UPDATE_CSDL").is_some() {
        std::fs::write(&committed_path, &fresh).expect("writes subset");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).expect("subset exists");
    assert!(
        committed == fresh,
        "src/sandbox/csdl_subset.json is stale or hand-edited; regenerate with UPDATE_CSDL=1 cargo test --test it sandbox_csdl"
    );
}

#[test]
fn every_route_body_type_is_in_the_subset() {
    let subset = csdl::subset();
    for ty in csdl::route_body_types() {
        assert!(
            !csdl::properties(ty).is_empty(),
            "{ty} has no properties in the subset"
        );
        assert!(subset.types.contains_key(ty));
    }
    // Spot checks that pin the generator to the CSDL's real shape.
    let group = csdl::properties("microsoft.graph.group");
    assert_eq!(group["displayName"].ty, "Edm.String");
    assert!(group["id"].read_only && group["id"].key);
    let policy = csdl::properties("microsoft.graph.accessPackageAssignmentPolicy");
    assert!(
        policy["accessPackage"].bind,
        "accessPackage binds on create"
    );
    assert!(csdl::properties("microsoft.graph.domainIdentitySource").contains_key("domainName"));
}

#[test]
fn validation_names_unknown_and_read_only_properties() {
    use mssp::sandbox::csdl::{Mode, validate};
    let err = validate(
        "microsoft.graph.group",
        &serde_json::json!({"displayName": "x", "colour": "red"}),
        Mode::Create,
    )
    .unwrap_err();
    assert_eq!(err.code, "Request_BadRequest");
    assert!(err.message.contains("'colour'"), "{}", err.message);
    let err = validate(
        "microsoft.graph.application",
        &serde_json::json!({"appId": "x"}),
        Mode::Update,
    )
    .unwrap_err();
    assert!(
        err.message.contains("'appId' is read-only"),
        "{}",
        err.message
    );
    let err = validate(
        "microsoft.graph.group",
        &serde_json::json!({"securityEnabled": "yes"}),
        Mode::Create,
    )
    .unwrap_err();
    assert!(err.message.contains("securityEnabled"));
    // Nested complex values are checked through @odata.type.
    let body = serde_json::json!({"displayName": "o", "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "a.com", "bogus": 1}]});
    let err = validate("microsoft.graph.connectedOrganization", &body, Mode::Create).unwrap_err();
    assert!(err.message.contains("'bogus'"), "{}", err.message);
    assert!(
        validate(
            "microsoft.graph.group",
            &serde_json::json!({"displayName": "x", "mailEnabled": false}),
            Mode::Create
        )
        .is_ok()
    );
}
