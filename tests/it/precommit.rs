//! `mssp validate` as a pre-commit hook: only the changed files are named, foreign YAML among
//! them, and the Provider manifest has to be found or named. The hook's `entry` is read from
//! `.pre-commit-hooks.yaml`, so the definition and the behaviour are tested together.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mssp_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A manifest repository: `.git`, the examples under `manifests/`, a CI workflow.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::create_dir_all(root.join(".github/workflows")).expect("mkdir");
    copy_dir(Path::new("examples"), &root.join("manifests"));
    std::fs::copy(
        "examples/ci/github-actions.yml",
        root.join(".github/workflows/mssp.yml"),
    )
    .expect("copy");
    (dir, root)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The hook's `entry` words and `files` pattern, from the definition pre-commit reads.
fn hook() -> (Vec<String>, String) {
    let text = std::fs::read_to_string(".pre-commit-hooks.yaml").expect("hook file");
    let hooks: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
    let h = hooks
        .as_array()
        .and_then(|a| a.iter().find(|h| h["id"] == "mssp-validate"))
        .expect("an mssp-validate hook");
    assert_eq!(h["pass_filenames"], true);
    let entry = h["entry"].as_str().expect("entry");
    let words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
    assert_eq!(words[0], "mssp", "the hook runs the mssp binary");
    (words, h["files"].as_str().expect("files").to_string())
}

/// What pre-commit would run for these changed files: the entry words after `mssp`, then
/// every file the `files` pattern (`\.(ya?ml)$`) selects.
fn run_hook(root: &Path, changed: &[&str]) -> Run {
    let (words, files) = hook();
    assert_eq!(
        files, r"\.(ya?ml)$",
        "update run_hook's filter with the pattern"
    );
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.extend(
        changed
            .iter()
            .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml")),
    );
    mssp_in(root, &args)
}

#[test]
fn hook_on_a_changed_customer_finds_the_provider() {
    let (_dir, root) = repo();
    let r = run_hook(
        &root,
        &[
            "manifests/customers/contoso.yaml",
            ".github/workflows/mssp.yml",
            "README.md",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("ok: 1 provider and 1 customer in 2 files are valid"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("manifests/provider.yaml"), "{}", r.stderr);
}

#[test]
fn hook_reports_errors_in_the_changed_customer() {
    let (_dir, root) = repo();
    let file = root.join("manifests/customers/contoso.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("tiers: [tier1, tier2]", "tiers: [tier9]"),
    )
    .expect("write");
    let r = run_hook(&root, &["manifests/customers/contoso.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("manifests/customers/contoso.yaml:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("tier9"), "{}", r.stderr);
}

#[test]
fn hook_on_foreign_yaml_only_has_nothing_to_do() {
    let (_dir, root) = repo();
    let r = run_hook(&root, &[".github/workflows/mssp.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("no mssp manifests"), "{}", r.stdout);
    // Named explicitly without --skip-foreign, a foreign file is an error (a typo in `kind`
    // must not pass silently when you ask for that file).
    let r = mssp_in(&root, &["validate", ".github/workflows/mssp.yml"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("document has no `kind`"), "{}", r.stderr);
}

#[test]
fn provider_flag_names_the_provider() {
    let (dir, root) = repo();
    // A customer outside the repository: nothing to discover, --provider says where.
    let outside = dir.path().join("contoso.yaml");
    std::fs::copy(root.join("manifests/customers/contoso.yaml"), &outside).expect("copy");
    let outside = outside.to_string_lossy().into_owned();
    let r = mssp_in(&root, &["validate", &outside]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("no Provider manifest found"),
        "{}",
        r.stderr
    );
    let r = mssp_in(
        &root,
        &[
            "validate",
            "--provider",
            "manifests/provider.yaml",
            &outside,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Naming a file twice (as --provider and as a path) does not load it twice.
    let r = mssp_in(
        &root,
        &[
            "validate",
            "--provider",
            "manifests/provider.yaml",
            "manifests/",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = mssp_in(&root, &["validate", "--provider", "manifests", &outside]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a file"), "{}", r.stderr);
}

#[test]
fn discovery_stops_at_the_repository_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    // provider.yaml above the repository must not be picked up.
    std::fs::copy("examples/provider.yaml", dir.path().join("provider.yaml")).expect("copy");
    copy_dir(Path::new("examples/certs"), &dir.path().join("certs"));
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::create_dir_all(root.join("customers")).expect("mkdir");
    std::fs::copy(
        "examples/customers/contoso.yaml",
        root.join("customers/contoso.yaml"),
    )
    .expect("copy");
    let r = mssp_in(&root, &["validate", "customers/contoso.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("no Provider manifest found"),
        "{}",
        r.stderr
    );
    // Without the .git boundary the same layout finds it.
    std::fs::remove_dir(root.join(".git")).expect("rmdir");
    let r = mssp_in(&root, &["validate", "customers/contoso.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn two_providers_in_one_folder_are_not_guessed() {
    let (_dir, root) = repo();
    std::fs::copy(
        root.join("manifests/provider.yaml"),
        root.join("manifests/provider-staging.yaml"),
    )
    .expect("copy");
    let r = mssp_in(&root, &["validate", "manifests/customers/contoso.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "2 files in manifests hold a Provider manifest (provider-staging.yaml, provider.yaml)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("no Provider manifest found"),
        "{}",
        r.stderr
    );
    let r = mssp_in(
        &root,
        &[
            "validate",
            "--provider",
            "manifests/provider.yaml",
            "manifests/customers/contoso.yaml",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
