//! The Debian package's postinst, run against a scratch root (`DPKG_ROOT`, as dpkg
//! itself sets it) with the user and group tools stubbed: an upgrade keeps the mode
//! the operator gave `config.toml`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_upgrade_keeps_the_mode_the_operator_set_on_the_config() {
    let root = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/hotspot-agent");
    std::fs::create_dir_all(&etc).unwrap();
    let config = etc.join("config.toml");
    std::fs::write(&config, "[[router]]\npassword = \"inline\"\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(etc.join("router.pass"), "").unwrap();
    for tool in ["getent", "addgroup", "adduser", "udevadm", "install"] {
        stub(bin.path(), tool, "exit 0");
    }
    stub(bin.path(), "id", "echo hotspot-agent gpio i2c dialout");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/debian/postinst");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("sh")
        .arg(&script)
        .args(["configure", "0.1.0"])
        .env("DPKG_ROOT", root.path())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&config), 0o640, "postinst changed the config's mode");
    assert_eq!(mode(&etc), 0o755);
}
