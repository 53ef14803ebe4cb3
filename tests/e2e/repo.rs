//! The repository itself: no kiosk state (a SQLite store, its WAL) is tracked, so a
//! clone never starts with somebody's sales in it.

use std::path::Path;
use std::process::Command;

#[test]
fn no_state_file_is_tracked_in_git() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = match Command::new("git")
        .arg("-C")
        .arg(&root)
        .arg("ls-files")
        .output()
    {
        Ok(o) if o.status.success() => o,
        // A source tarball without .git has nothing tracked to check.
        _ => {
            eprintln!("not a git checkout: nothing to check");
            return;
        }
    };
    let files = String::from_utf8_lossy(&out.stdout);
    let tracked: Vec<&str> = files
        .lines()
        .filter(|f| {
            f.starts_with("hotspot-state/")
                || f.ends_with(".db")
                || f.ends_with(".db-wal")
                || f.ends_with(".sqlite")
                || f.contains("/hotspot-state/")
        })
        .collect();
    assert!(
        tracked.is_empty(),
        "state files tracked in git: {tracked:?}"
    );
}
