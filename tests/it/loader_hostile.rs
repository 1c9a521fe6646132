//! Manifest folders are shared with other tools and people: nothing found in one may hang the
//! tool, exhaust it, break it, or hide the manifests it holds.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mssp::manifest::{LoadOutcome, load_paths};

const PROVIDER: &str = "tests/fixtures/world/provider.yaml";

fn customer(name: &str, tenant_suffix: usize) -> String {
    format!(
        "apiVersion: mssp.io/v1\nkind: Customer\nmetadata:\n  name: {name}\nspec:\n  tenantId: 0a000000-0000-4000-8000-{tenant_suffix:012x}\n  domain: {name}.onmicrosoft.com\n  displayName: {name}\n  access:\n    tiers: [tier1]\n"
    )
}

/// A folder with the test provider and `extra` files (path, content).
fn folder(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(PROVIDER, dir.path().join("provider.yaml")).unwrap();
    for (path, text) in extra {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// Loads on another thread, so a loader that hangs fails the test instead of blocking it.
fn load_within(paths: Vec<PathBuf>, limit: Duration) -> LoadOutcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_paths(&paths));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("loading took more than {limit:?} (hung?)"))
}

fn errors(out: &LoadOutcome) -> Vec<String> {
    out.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render())
        .collect()
}

fn warnings(out: &LoadOutcome) -> Vec<String> {
    out.diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.render())
        .collect()
}

/// `customers` customers and ten times as many empty documents in one file, with a typo in one
/// more customer at the end. Returns the text and its line count before the last document.
fn many_documents(customers: usize) -> (String, usize) {
    let mut text = String::new();
    for i in 0..customers {
        text.push_str("---\n");
        text.push_str(&customer(&format!("c{i}"), 0x100 + i));
    }
    text.push_str(&"---\n".repeat(customers * 10));
    let lines_before = text.lines().count();
    text.push_str("---\n");
    text.push_str(&customer("last", 0x99999).replace("displayName:", "displayNmae:"));
    (text, lines_before)
}

/// The faster of two loads of `text` as the only customers file, and the last outcome.
fn timed_load(text: &str) -> (Duration, LoadOutcome) {
    let dir = folder(&[("customers.yaml", text)]);
    let mut best = Duration::MAX;
    let mut outcome = None;
    for _ in 0..2 {
        let started = Instant::now();
        let out = load_within(vec![dir.path().to_path_buf()], Duration::from_secs(120));
        best = best.min(started.elapsed());
        outcome = Some(out);
    }
    (best, outcome.unwrap())
}

/// 2,000 customers and 20,000 empty documents in one file (1 MB). Each document used to be
/// padded with every earlier line (quadratic: ~25 s in a debug build here, and 100,000 `---`
/// took 4 GB); now it is about a second, and positions are still lines of the file. The time is
/// compared with a quarter of the input rather than a wall-clock limit, so a busy machine does
/// not fail it: linear loading takes ~4× as long for 4× the input, quadratic loading ~16×.
#[test]
fn many_documents_in_one_file_load_in_linear_time() {
    let (small, _) = many_documents(500);
    let (text, lines_before) = many_documents(2_000);
    let (took_small, _) = timed_load(&small);
    let (took, out) = timed_load(&text);

    assert_eq!(out.set.customers.len(), 2_000);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    // `---` is line lines_before + 1; `displayNmae` is the 8th line of the customer.
    let at = format!(
        "customers.yaml:{}:3: error: unknown field `displayNmae`",
        lines_before + 9
    );
    assert!(errs[0].contains(&at), "{} does not contain {at}", errs[0]);
    let ratio = took.as_secs_f64() / took_small.as_secs_f64().max(1e-3);
    assert!(
        ratio < 8.0,
        "4× the documents took {ratio:.1}× as long ({took_small:?} → {took:?}): not linear"
    );
}

/// A manifest file over 8 MiB is refused naming it; an oversized file that names nothing of
/// ours (an OpenAPI document next to the manifests) is skipped with a warning naming it.
#[test]
fn a_file_over_the_size_limit_is_refused_naming_it() {
    let dir = folder(&[
        ("customers.yaml", "apiVersion: mssp.io/v1\nkind: Customer\n"),
        ("openapi.yaml", "openapi: 3.0.0\n"),
    ]);
    for name in ["customers.yaml", "openapi.yaml"] {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(name))
            .unwrap();
        f.set_len(9 * 1024 * 1024).unwrap();
    }
    let out = load_within(vec![dir.path().to_path_buf()], Duration::from_secs(60));
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("customers.yaml"), "{}", errs[0]);
    assert!(errs[0].contains("larger than 8 MiB"), "{}", errs[0]);
    let warns = warnings(&out);
    assert!(
        warns
            .iter()
            .any(|w| w.contains("openapi.yaml") && w.contains("larger than 8 MiB")),
        "{warns:?}"
    );
    assert_eq!(out.set.providers.len(), 1);
    // Named explicitly, any oversized file is an error.
    let out = load_within(
        vec![dir.path().join("openapi.yaml")],
        Duration::from_secs(60),
    );
    assert_eq!(errors(&out).len(), 1, "{:?}", errors(&out));
}

#[test]
fn too_many_documents_in_one_file_are_refused_naming_it() {
    let ours = format!("{}{}", customer("alpha", 0xa1), "---\n".repeat(60_000));
    let dir = folder(&[("many.yaml", &ours), ("dump.yaml", &"---\n".repeat(60_000))]);
    let out = load_within(vec![dir.path().to_path_buf()], Duration::from_secs(60));
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("many.yaml"), "{}", errs[0]);
    assert!(errs[0].contains("at most 50000"), "{}", errs[0]);
    assert!(
        warnings(&out).iter().any(|w| w.contains("dump.yaml")),
        "{:?}",
        warnings(&out)
    );
}

/// YAML that is a list or a scalar (an Ansible playbook, another tool's output) or not YAML
/// at all (a Helm template) is someone else's: skipped in a folder, so every command works.
#[test]
fn foreign_yaml_that_is_not_a_mapping_is_skipped_in_folders() {
    let playbook = "- hosts: all\n  tasks:\n    - name: ping\n      ping: {}\n";
    let dir = folder(&[
        ("customers/alpha.yaml", &customer("alpha", 0xa1)),
        ("ansible/site.yml", playbook),
        ("siem/list.yaml", "- a\n- b\n"),
        ("notes.yaml", "just a sentence\n"),
        ("multi.yaml", "kind: ConfigMap\n---\n- one\n---\n42\n"),
        (
            "chart/templates/deploy.yaml",
            "metadata:\n  name: {{ .Release.Name }}\n  labels: {{- include \"x\" . | nindent 4 }}\n",
        ),
    ]);
    let (v, diags, files) = mssp::engine::load_and_validate(&[dir.path().to_path_buf()]);
    assert!(!diags.has_errors(), "{}", diags.render());
    assert_eq!(v.expect("valid").customers.len(), 1);
    assert_eq!(files, 2, "only the manifest files count");

    // Named on the command line, a list is an error: the user said it is a manifest.
    let out = load_paths(&[dir.path().join("ansible/site.yml")]);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("site.yml:1:1: error: document is not a mapping"),
        "{}",
        errs[0]
    );
}

/// What looks like ours stays an error even in a folder: a typo must never hide a customer.
#[test]
fn broken_documents_that_look_like_ours_are_still_errors() {
    let dir = folder(&[
        (
            "customers/broken.yaml",
            "apiVersion: mssp.io/v1\nkind: Customer\nmetadata: { name: broken\nspec: {}\n",
        ),
        (
            "customers/list.yaml",
            "- apiVersion: mssp.io/v1\n  kind: Customer\n",
        ),
        (
            "customers/nokind.yaml",
            "apiVersion: mssp.io/v1\nmetadata: { name: x }\n",
        ),
    ]);
    let out = load_paths(&[dir.path().to_path_buf()]);
    let errs = errors(&out);
    assert!(errs.iter().any(|e| e.contains("broken.yaml:")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("list.yaml:")),
        "a list of our documents is not skipped: {errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("nokind.yaml:1:1: error: document has no `kind`")),
        "{errs:?}"
    );
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_named_yaml_are_skipped_not_read() {
    let dir = folder(&[("customers/alpha.yaml", &customer("alpha", 0xa1))]);
    let fifo = dir.path().join("customers/pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
    let out = load_within(vec![dir.path().to_path_buf()], Duration::from_secs(60));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    assert_eq!(out.set.providers.len(), 1);
    assert_eq!(out.set.customers.len(), 1);
    let warns = warnings(&out);
    for name in ["pipe.yaml", "zero.yaml"] {
        assert!(
            warns
                .iter()
                .any(|w| w.contains(name) && w.contains("not a regular file")),
            "{name}: {warns:?}"
        );
    }
    // Named explicitly it is an error, still without reading it.
    let out = load_within(vec![dir.path().join("zero.yaml")], Duration::from_secs(60));
    assert!(
        errors(&out)
            .iter()
            .any(|e| e.contains("zero.yaml") && e.contains("not a regular file")),
        "{:?}",
        errors(&out)
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_searched_once() {
    let dir = folder(&[("customers/alpha.yaml", &customer("alpha", 0xa1))]);
    std::os::unix::fs::symlink("..", dir.path().join("customers/up")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("customers/self")).unwrap();
    let out = load_within(vec![dir.path().to_path_buf()], Duration::from_secs(60));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    assert_eq!(out.set.providers.len(), 1, "loaded once");
    assert_eq!(out.set.customers.len(), 1, "loaded once");
    assert!(
        warnings(&out)
            .iter()
            .any(|w| w.contains("customers/up") && w.contains("already searched")),
        "{:?}",
        warnings(&out)
    );
}

/// Whether `p` can still be read after being made unreadable (root can read anything).
fn still_readable(p: &Path) -> bool {
    if p.is_dir() {
        std::fs::read_dir(p).is_ok()
    } else {
        std::fs::read(p).is_ok()
    }
}

/// An unreadable folder or file is an error naming it (permission denied), reported with the
/// rest; the provider elsewhere is still found (it used to be "no Provider manifest found").
#[cfg(unix)]
#[test]
fn unreadable_folders_and_files_are_errors_naming_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = folder(&[
        ("customers/alpha.yaml", &customer("alpha", 0xa1)),
        ("more/beta.yaml", &customer("beta", 0xb2)),
    ]);
    let customers = dir.path().join("customers");
    let beta = dir.path().join("more/beta.yaml");
    std::fs::set_permissions(&customers, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(&beta, std::fs::Permissions::from_mode(0o000)).unwrap();
    let check = |stderr: &str| {
        assert!(
            stderr.contains("customers: cannot read directory: Permission denied"),
            "{stderr}"
        );
        assert!(
            stderr.contains("beta.yaml: error: cannot read file: Permission denied"),
            "{stderr}"
        );
        assert!(!stderr.contains("no Provider manifest found"), "{stderr}");
    };
    if !still_readable(&customers) && !still_readable(&beta) {
        let out = load_paths(&[dir.path().to_path_buf()]);
        check(&out.diagnostics.render());
        assert_eq!(out.set.providers.len(), 1);
    } else if Path::new("/usr/bin/setpriv").exists() {
        // Running as root: run the real binary as `nobody`, for whom the modes hold.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("mssp"))
            .arg("validate")
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("Permission denied") || out.status.code() != Some(126) {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            check(&stderr);
        } else {
            eprintln!("notice: cannot drop privileges here; permission checks not exercised");
        }
    } else {
        eprintln!("notice: running as root without setpriv; permission checks not exercised");
    }
    std::fs::set_permissions(&customers, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The test provider with one certificate credential at `path`.
fn provider_with_certificate(path: &str) -> String {
    std::fs::read_to_string(PROVIDER).unwrap().replace(
        "    credentials:\n",
        &format!("    credentials:\n      - certificate:\n          path: {path}\n"),
    )
}

fn cert_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    rcgen::CertificateParams::new(vec!["siem".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem()
}

/// Validation errors of a manifest folder, rendered.
fn validate_dir(dir: &Path) -> String {
    let (_, diags, _) = mssp::engine::load_and_validate(&[dir.to_path_buf()]);
    diags.render()
}

/// The certificate value's position in the provider written by `provider_with_certificate`.
fn cert_value_at(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("provider.yaml")).unwrap();
    let line = text.lines().position(|l| l.contains("path: ")).unwrap() + 1;
    format!("provider.yaml:{line}:17")
}

/// A relative certificate path stays inside the manifests' folder, after `..` and symbolic
/// links; the error names the manifest value's file:line:col.
#[cfg(unix)]
#[test]
fn certificate_paths_stay_inside_the_manifests_folder() {
    for path in ["../../../../../../etc/passwd", "certs/escape/passwd"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("certs/escape")).unwrap();
        std::fs::write(
            dir.path().join("provider.yaml"),
            provider_with_certificate(path),
        )
        .unwrap();
        let out = validate_dir(dir.path());
        let at = cert_value_at(dir.path());
        assert!(
            out.contains(&format!(
                "{at}: error: certificate file `{path}` is outside the manifests' folder"
            )),
            "{path}: {out}"
        );
    }
    // Inside the folder (even through `..` from a subfolder of it) is fine.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mssp")).unwrap();
    std::fs::create_dir_all(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/siem.crt"), cert_pem()).unwrap();
    std::fs::write(
        dir.path().join("mssp/provider.yaml"),
        provider_with_certificate("../certs/siem.crt"),
    )
    .unwrap();
    let out = validate_dir(dir.path());
    assert!(!out.contains("error"), "{out}");
    // ...but not when only the provider's own folder was given.
    let out = validate_dir(&dir.path().join("mssp"));
    assert!(out.contains("is outside the manifests' folder"), "{out}");
}

#[cfg(unix)]
#[test]
fn certificate_files_must_be_readable_certificates() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("provider.yaml"),
        provider_with_certificate("siem.crt"),
    )
    .unwrap();
    let at = cert_value_at(dir.path());
    let cert = dir.path().join("siem.crt");

    std::fs::write(&cert, "not a certificate\n").unwrap();
    let out = validate_dir(dir.path());
    assert!(
        out.contains(&format!(
            "{at}: error: certificate file `siem.crt` is not a PEM or DER certificate"
        )),
        "{out}"
    );

    std::fs::remove_file(&cert).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&cert)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let out = validate_dir(dir.path());
    assert!(
        out.contains("certificate file `siem.crt` is not a regular file"),
        "{out}"
    );

    std::fs::remove_file(&cert).unwrap();
    std::fs::write(&cert, cert_pem()).unwrap();
    let out = validate_dir(dir.path());
    assert!(!out.contains("error"), "{out}");

    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o000)).unwrap();
    let expected =
        format!("{at}: error: certificate file `siem.crt` cannot be read: Permission denied");
    if !still_readable(&cert) {
        let out = validate_dir(dir.path());
        assert!(out.contains(&expected), "{out}");
    } else if Path::new("/usr/bin/setpriv").exists() {
        // Running as root: run the real binary as `nobody`, for whom the mode holds.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            dir.path().join("provider.yaml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let out = std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("mssp"))
            .arg("validate")
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(126) {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains(&expected), "{stderr}");
        } else {
            eprintln!("notice: cannot drop privileges here; permission check not exercised");
        }
    } else {
        eprintln!("notice: running as root without setpriv; permission check not exercised");
    }
}

/// Rendering a diagnostic fetches its line from the file: one per document of a large file
/// must not re-scan the file each time (10,000 errors in one file took 47 s to print).
#[test]
fn source_lines_are_found_without_rescanning_the_file() {
    let text: String = (0..50_000).map(|i| format!("line {i}\r\n")).collect();
    let src = mssp::diagnostics::SourceFile::new("big.yaml", text);
    let started = Instant::now();
    for n in 1..=50_000u32 {
        assert_eq!(src.line(n), Some(format!("line {}", n - 1).as_str()));
    }
    assert_eq!(src.line(50_001), Some(""));
    assert_eq!(src.line(50_002), None);
    assert_eq!(src.line(0), None);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "50,000 lines took {took:?}");
}
