//! The deployment files in `deploy/` are what docs/install.md tells operators to use: the
//! systemd unit must be one systemd accepts without a warning.

use std::process::Command;

#[test]
fn the_systemd_unit_is_accepted_without_warnings() {
    let analyze = std::path::Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let unit = include_str!("../../../deploy/tollgate.service")
        .replace("/usr/local/bin/tollgate", env!("CARGO_BIN_EXE_tollgate"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tollgate.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    // systemd ignores a directive it cannot parse with only a warning; here that is a failure.
    let warnings: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("tollgate.service"))
        .collect();
    assert!(warnings.is_empty(), "{said}");
}
