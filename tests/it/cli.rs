//! Command-line conventions shared by all binaries.

use assert_cmd::Command;
use clap::CommandFactory as _;

/// `mssp-plan ARGS` is `mssp plan ARGS`: the alias binaries take the subcommand's flags.
#[test]
fn alias_binaries_are_their_subcommands() {
    for (bin, flag) in [
        ("mssp-plan", "--detailed-exitcode"),
        ("mssp-apply", "--auto-approve"),
    ] {
        let out = Command::cargo_bin(bin)
            .expect("binary")
            .arg("--help")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{bin}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(flag), "{bin} --help lacks {flag}: {text}");
        assert!(text.contains("Example"), "{bin} --help lacks an example");
    }
}

#[test]
fn plan_and_apply_without_credentials_say_how_to_get_them() {
    for bin in ["mssp-plan", "mssp-apply"] {
        let out = Command::cargo_bin(bin)
            .expect("binary")
            .arg("examples/")
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env("PATH", "/nonexistent")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no credentials") && err.contains("--sandbox"),
            "{bin}: {err}"
        );
    }
}

#[test]
fn usage_errors_have_their_own_exit_code() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["validate", "--no-such-flag"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
}

/// Every subcommand, at every depth, as the words to type after `mssp`.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            walk(sub, &path, out);
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(&mssp::cli::Cli::command(), &[], &mut out);
    out
}

#[test]
fn help_has_examples() {
    let paths = subcommand_paths();
    // Guard the walk itself: a refactor that hid the subcommands would pass vacuously.
    for expected in ["validate", "plan", "apply", "schema", "completions", "man"] {
        assert!(
            paths.iter().any(|p| p == &[expected]),
            "{expected} missing from {paths:?}"
        );
    }
    for path in paths {
        let out = Command::cargo_bin("mssp")
            .expect("binary")
            .args(&path)
            .arg("--help")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{path:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{path:?} --help lacks an example");
    }
}

#[test]
fn completions_cover_every_shell_and_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::cargo_bin("mssp")
            .expect("binary")
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in [
            "validate",
            "completions",
            "detailed-exitcode",
            "skip-foreign",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // The bash script must at least parse.
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mssp.bash");
    std::fs::write(&file, &out.stdout).expect("write");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .expect("bash runs");
    assert!(check.success());
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn man_pages_one_per_command() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .arg("man")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH mssp 1"), "{page}");
    assert!(page.contains("completions"), "{page}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mandir = dir.path().join("man1");
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["man", "--out-dir"])
        .arg(&mandir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let mut expected: Vec<String> = subcommand_paths()
        .iter()
        .map(|p| format!("mssp-{}.1", p.join("-")))
        .collect();
    expected.push("mssp.1".into());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&mandir)
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected);
    let plan = std::fs::read_to_string(mandir.join("mssp-plan.1")).expect("page");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args([
            "--log",
            "info",
            "--log-format",
            "json",
            "validate",
            "examples/",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert_eq!(events.len(), 2, "{stderr}");
    assert_eq!(events[0]["level"], "INFO");
    assert_eq!(events[0]["fields"]["command"], "validate");
    assert_eq!(events[0]["fields"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(events[1]["fields"]["exit_code"], 0);

    // The default filter keeps CI logs quiet; MSSP_LOG raises it like --log.
    let quiet = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["--log-format", "json", "validate", "examples/"])
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("mssp starting"));
    let env = Command::cargo_bin("mssp")
        .expect("binary")
        .env("MSSP_LOG", "info")
        .args(["--log-format", "json", "validate", "examples/"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&env.stderr).contains("\"message\":\"mssp starting\""));
}

/// Colour reaches a terminal, but not with `NO_COLOR` set. `script` gives the plan a
/// pseudo-terminal; the progress bar's cursor movements are not colour, so only SGR
/// sequences (`ESC [ … m`) are counted.
#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mssp = env!("CARGO_BIN_EXE_mssp");
    let cwd = std::env::current_dir().expect("cwd");
    let cmd = format!(
        "'{mssp}' plan --sandbox --sandbox-dir '{}' '{}'",
        dir.path().display(),
        cwd.join("examples").display()
    );
    let sgr = |no_color: Option<&str>| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().expect("util-linux `script` is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let count = text
            .split("\x1b[")
            .skip(1)
            .filter(|rest| {
                let params: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == ';')
                    .collect();
                rest[params.len()..].starts_with('m')
            })
            .count();
        (count, text)
    };
    let (coloured, text) = sgr(None);
    assert!(coloured > 0, "no colour on a terminal:\n{text}");
    assert!(text.contains("Plan: 5 tenants"), "{text}");
    let (plain, text) = sgr(Some("1"));
    assert_eq!(plain, 0, "colour despite NO_COLOR:\n{text}");
    assert!(text.contains("Plan: 5 tenants"), "{text}");
}

#[test]
fn portal_prints_tenant_specific_links_per_cloud() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args([
            "portal",
            "--manifests",
            "examples/",
            "northwind-gov",
            "contoso",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(
        "Defender portal: https://security.microsoft.us/?tid=3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e"
    ));
    assert!(text.contains("My Access: no host documented for the gccHigh cloud"));
    assert!(text.contains(
        "My Access (request access packages): https://myaccess.microsoft.com/@contoso.onmicrosoft.com"
    ));
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["portal", "--manifests", "examples/", "nobody"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn permissions_lists_what_each_tenant_needs_with_a_consent_link() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args([
            "permissions",
            "--client-id",
            "11111111-2222-4333-8444-555555555555",
            "examples/",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("fabrikam-soc (MSSP tenant, 9b1f2a4e-5c6d-4e7f-8a9b-0c1d2e3f4a5b, public cloud)\n  Microsoft Graph application permission: Application.ReadWrite.All\n"), "{text}");
    let contoso = text
        .split("contoso (customer")
        .nth(1)
        .expect("contoso listed");
    for p in [
        "Group.ReadWrite.All",
        "EntitlementManagement.ReadWrite.All",
        "Policy.ReadWrite.CrossTenantAccess",
        "RoleManagement.ReadWrite.Defender",
        "AppRoleAssignment.ReadWrite.All",
    ] {
        assert!(contoso.contains(p), "{p} missing:\n{text}");
    }
    assert!(text.contains("admin consent: https://login.microsoftonline.us/3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e/adminconsent?client_id=11111111-2222-4333-8444-555555555555"), "{text}");
}

/// `--label` narrows a plan to the customers carrying those labels, and the labels show.
#[test]
fn plans_select_customers_by_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = dir.path().display().to_string();
    let run = |label: &str| {
        Command::cargo_bin("mssp")
            .expect("binary")
            .args([
                "plan",
                "--sandbox",
                "--sandbox-dir",
                &sandbox,
                "--label",
                label,
                "examples/",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    };
    let out = run("region=emea");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Customer contoso"), "{text}");
    assert!(
        text.contains("labels: contract=gold, region=emea"),
        "{text}"
    );
    assert!(!text.contains("northwind-gov"), "{text}");
    let out = run("region=mars");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no customer has the labels region=mars")
    );
}

/// A reader that stops early (`mssp … | head`) ends the command quietly, as with any Unix tool:
/// no panic from printing into the closed pipe.
#[test]
fn a_closed_pipe_ends_the_command_without_a_panic() {
    use std::io::Read as _;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("some output");
    // The reader is gone now; the script is far larger than a pipe's buffer.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("waits");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(status.code(), Some(101), "{stderr}");
}
