//! A newcomer's first hour (issue 17): the README's commands pasted in a fresh clone, the
//! default path, errors that name their cause, and output without noise.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::copy_dir;

/// A fresh clone, as far as the tool can tell: the examples, and test fixtures with errors
/// below the current folder (as in this repository).
fn clone_like() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    let fixtures = dir.path().join("tests/fixtures/broken");
    std::fs::create_dir_all(&fixtures).expect("mkdir");
    std::fs::write(
        fixtures.join("customer.yaml"),
        "apiVersion: mssp.io/v1\nkind: Customer\nmetadata:\n  name: broken\nspec:\n  tenantId: nope\n",
    )
    .expect("write");
    dir
}

fn mssp(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("mssp")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("MSSP_LOG")
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// With no path, the commands read the folder with the Provider manifest, not every YAML file
/// below the current one: `mssp portal contoso` (the `--help` example) and `mssp validate`
/// used to print the fixtures' errors and no result.
#[test]
fn no_path_reads_the_manifest_folder_not_the_fixtures() {
    let dir = clone_like();
    let out = mssp(dir.path(), &["validate"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 provider and 4 customers"),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("fixtures"), "{stderr}");
    assert!(
        stderr.contains("examples/"),
        "names the folder read: {stderr}"
    );

    let out = mssp(dir.path(), &["portal", "contoso"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Defender portal: https://security.microsoft.com/?tid="));

    // A path given is read as given.
    let out = mssp(dir.path(), &["validate", "."]);
    assert_eq!(out.status.code(), Some(1), "explicit `.` is searched whole");
    assert!(text(&out.stderr).contains("fixtures"));
}

/// A misspelt path is the error, alone: "no Provider manifest found" used to come first.
#[test]
fn a_missing_path_is_reported_as_the_cause() {
    let dir = clone_like();
    for args in [
        &["validate", "nosuch/"][..],
        &["plan", "--sandbox", "nosuch/"][..],
    ] {
        let out = mssp(dir.path(), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: nosuch/: no such file or directory"),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("no Provider manifest"),
            "{args:?}: {stderr}"
        );
    }
}

/// Three unknown fields in one document are three errors in one run, each at its line.
#[test]
fn every_unknown_field_of_a_document_in_one_run() {
    let dir = clone_like();
    let file = dir.path().join("examples/customers/contoso.yaml");
    let yaml = std::fs::read_to_string(&file).expect("read");
    let yaml = yaml
        .replacen("  access:\n", "  acess: {}\n  access:\n", 1)
        .replacen(
            "    trustMfa: true",
            "    trustMfa: true\n    trustMFA: true",
            1,
        )
        .replacen(
            "    - name: MSSP high and medium",
            "    - name: MSSP high and medium\n      severity: [high]",
            1,
        );
    std::fs::write(&file, &yaml).expect("write");
    let out = mssp(dir.path(), &["validate", "examples/"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line_of = |needle: &str| {
        yaml.lines()
            .position(|l| l.trim_start().starts_with(needle))
            .map(|i| i + 1)
            .expect("written")
    };
    for (field, at) in [
        ("acess", line_of("acess:")),
        ("trustMFA", line_of("trustMFA:")),
        ("severity", line_of("severity:")),
    ] {
        let want = format!("contoso.yaml:{at}:");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&want) && l.contains(&format!("unknown field `{field}`"))),
            "{field} at line {at}: {stderr}"
        );
    }
    assert!(stderr.contains("did you mean `access`?"), "{stderr}");
    assert!(stderr.contains("error: 3 errors"), "{stderr}");
}

/// `plan --sandbox --out` tells how to apply that plan to the sandbox (without `--sandbox`
/// the hinted command went looking for real credentials), and the hint works.
#[test]
fn the_saved_plan_hint_applies_to_the_sandbox() {
    let dir = clone_like();
    let out = mssp(
        dir.path(),
        &["plan", "--sandbox", "--out", "plan.json", "examples/"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let hint = stderr
        .lines()
        .find_map(|l| l.split_once("apply it with `").map(|(_, r)| r))
        .and_then(|r| r.strip_suffix('`'))
        .unwrap_or_else(|| panic!("no hint: {stderr}"));
    assert_eq!(hint, "mssp apply --sandbox plan.json");
    let args: Vec<&str> = hint.split(' ').skip(1).collect();
    let out = mssp(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The overview says "manual portal step", not "manual manual".
    let stdout = text(&out.stdout);
    let plan = text(&mssp(dir.path(), &["plan", "--sandbox", "examples/"]).stdout);
    assert!(plan.contains("manual portal step: 4"), "{plan}");
    assert!(!plan.contains("manual manual") && !stdout.contains("manual manual"));
}

/// A known warning (a customer in GCC High) is one line outside `mssp validate`, and not shown
/// at all when `--explain` is about another customer.
#[test]
fn a_known_warning_is_one_line_outside_validate() {
    let dir = clone_like();
    let out = mssp(
        dir.path(),
        &["portal", "--manifests", "examples/", "contoso"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("warning:")).count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("B2B collaboration"), "{stderr}");
    assert!(!stderr.contains("   |"), "no snippet: {stderr}");

    let out = mssp(
        dir.path(),
        &["validate", "--explain", "contoso", "examples/"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stderr).contains("gccHigh"),
        "{}",
        text(&out.stderr)
    );
    let out = mssp(
        dir.path(),
        &["validate", "--explain", "northwind-gov", "examples/"],
    );
    assert!(
        text(&out.stderr).contains("gccHigh"),
        "its own warning stays"
    );

    // `mssp validate` itself still explains it in full.
    let out = mssp(dir.path(), &["validate", "examples/"]);
    assert!(text(&out.stderr).contains("B2B collaboration"));
}

/// With `--sandbox`, `alerts notify` never reaches the provider's real SMTP relay (the example
/// names smtp.fabrikam.example): it is a dry run, and says why a customer gets nothing.
#[test]
fn notify_against_the_sandbox_is_a_dry_run() {
    let dir = clone_like();
    let out = mssp(
        dir.path(),
        &["apply", "--sandbox", "--auto-approve", "examples/"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = mssp(dir.path(), &["alerts", "notify", "--sandbox", "examples/"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("a dry run"), "{stderr}");
    assert!(!stderr.contains("deliveries failed"), "{stderr}");
    // Customers without rules, or with nothing new, are told so.
    assert!(
        stderr.contains("no notification rules in its manifest"),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".mssp-alerts/notify-state.json").exists(),
        "a dry run records nothing"
    );
}

/// The examples in `--help` are whole commands on lines a terminal does not wrap.
#[test]
fn help_examples_fit_a_terminal() {
    let dir = clone_like();
    for sub in ["export", "plan", "apply", "report", "portal", "validate"] {
        let out = mssp(dir.path(), &[sub, "--help"]);
        let help = text(&out.stdout);
        let examples = help
            .split_once("Example")
            .map(|(_, e)| e)
            .unwrap_or_default();
        for line in examples.lines() {
            assert!(
                line.chars().count() <= 100,
                "{sub}: {} columns: {line}",
                line.chars().count()
            );
        }
    }
}

/// The sandbox's start line gives the CA certificate as an absolute path: a relative one is
/// relative to a folder the reader is usually not in.
#[test]
fn sandbox_start_line_names_an_absolute_ca_path() {
    use std::io::BufRead as _;
    let dir = clone_like();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"))
        .current_dir(dir.path())
        .args([
            "sandbox",
            "serve",
            "--seed",
            "examples/",
            "--state",
            "sb/state.json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    let mut line = String::new();
    let read = std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("a start line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    let ca = PathBuf::from(v["ca_cert"].as_str().expect("ca_cert"));
    assert!(ca.is_absolute(), "{line}");
    assert!(ca.is_file(), "{line}");
}

/// `mssp --help` lists the exit codes, 64 for a wrong command line among them, and a wrong
/// command line exits 64.
#[test]
fn usage_errors_exit_64_as_documented() {
    let dir = clone_like();
    let help = text(&mssp(dir.path(), &["--help"]).stdout);
    assert!(help.contains("64 usage error"), "{help}");
    let out = mssp(dir.path(), &["plan", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(64));
}

/// The README's "try it" block, pasted line by line in a fresh clone: plan, apply the saved
/// plan, plan again (nothing to create), reset.
#[test]
fn the_readme_try_it_block_works_pasted_in_order() {
    let readme = std::fs::read_to_string("README.md").expect("README");
    let block = readme
        .split_once("<!-- try-it -->")
        .and_then(|(_, r)| r.split_once("```sh\n"))
        .and_then(|(_, r)| r.split_once("```"))
        .map(|(b, _)| b)
        .expect("README has a try-it block");
    let dir = clone_like();
    let bin = assert_cmd::cargo::cargo_bin("mssp");
    let bin_dir = bin.parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = Vec::new();
    for line in block.lines() {
        let cmd = line.split(" #").next().unwrap_or("").trim();
        // Building is what produced the binary under test.
        if cmd.is_empty() || cmd.starts_with("cargo build") || cmd.starts_with("export PATH") {
            continue;
        }
        let out = std::process::Command::new("sh")
            .args(["-c", cmd])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("AZURE_CLIENT_ID")
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "`{cmd}`: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        outputs.push((cmd.to_string(), text(&out.stdout)));
    }
    let plans: Vec<&String> = outputs
        .iter()
        .filter(|(c, _)| c.starts_with("mssp plan"))
        .map(|(_, o)| o)
        .collect();
    assert_eq!(plans.len(), 2, "{outputs:?}");
    assert!(plans[0].contains("86 to create"), "{}", plans[0]);
    assert!(plans[1].contains(" 0 to create"), "{}", plans[1]);
    assert!(
        !dir.path().join(".mssp-sandbox").exists(),
        "the block ends with a reset"
    );
}

/// E-mail addresses in Markdown (plan comments, the Markdown report) stay copyable: the
/// zero-width joiner that stops GitHub mentions goes only where a mention can start.
#[test]
fn email_addresses_carry_no_zero_width_joiner() {
    use mssp::render::markdown::esc;
    assert_eq!(esc("soc@fabrikam.example"), "soc@fabrikam.example");
    assert_eq!(
        esc("ask first.last@contoso.example"),
        "ask first.last@contoso.example"
    );
    assert_eq!(esc("@security-team"), "@\u{200d}security-team");
    assert_eq!(esc("cc @ciso"), "cc @\u{200d}ciso");
}
