//! Skipped checks are recorded, never silent: `scripts/test.sh` lists them at the end.

use std::io::Write as _;

/// Notes that a check was skipped: on stdout (shown with `--nocapture`), and appended to the
/// file `MSSP_TEST_SKIPS` names, which `scripts/test.sh` prints after the suite.
pub fn skipped(notice: &str) {
    println!("notice: {notice}");
    if let Some(path) = std::env::var_os("MSSP_TEST_SKIPS")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{notice}");
    }
}
