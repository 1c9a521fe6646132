//! `mssp portal [CUSTOMER]...`: the tenant-specific links analysts need, from the manifests
//! alone (no sign-in): the Defender portal with `?tid=`, and My Access for the customer's domain.

use crate::cli::PortalArgs;
use crate::exit;
use crate::manifest::CustomerManifest;

pub fn run(args: &PortalArgs) -> u8 {
    let (validated, diags, _) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render());
    let Some(v) = validated else {
        return exit::ERROR;
    };
    let mut selected: Vec<&CustomerManifest> = Vec::new();
    for name in &args.customers {
        match v.customer(name) {
            Some(c) => selected.push(&c.doc),
            None => {
                eprintln!("error: no customer named `{name}` in the manifests");
                return exit::ERROR;
            }
        }
    }
    if args.customers.is_empty() {
        selected = v.customers.iter().map(|c| &c.doc).collect();
        selected.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    }
    let mut code = exit::SUCCESS;
    for c in selected {
        let cloud = c
            .spec
            .cloud
            .as_ref()
            .map_or(v.provider.doc.spec.cloud, |l| l.value);
        let profile = crate::plan::Endpoints::default().profile(cloud);
        let tenant = c.spec.tenant_id.value.to_ascii_lowercase();
        let defender = profile.portal_link(&tenant);
        let myaccess = profile.myaccess_link(&c.spec.domain.value);
        println!(
            "{} — {} ({} cloud)",
            c.metadata.name.value, c.spec.display_name, cloud
        );
        match &defender {
            Some(link) => println!("  Defender portal: {link}"),
            None => println!("  Defender portal: none documented for the {cloud} cloud"),
        }
        match &myaccess {
            Some(link) => println!("  My Access (request access packages): {link}"),
            None => println!("  My Access: no host documented for the {cloud} cloud"),
        }
        if args.open
            && let Some(link) = &defender
            && let Err(e) = open(link)
        {
            eprintln!("error: cannot open a browser: {e}");
            code = exit::ERROR;
        }
    }
    code
}

/// Opens a URL with the desktop's handler.
fn open(url: &str) -> Result<(), String> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(url)
        .status()
        .map_err(|e| format!("{program}: {e}"))
        .and_then(|s| {
            if s.success() {
                Ok(())
            } else {
                Err(format!("{program} exited with {s}"))
            }
        })
}
