//! Bakes the git commit into the binary so `/healthz` shows exactly what is live.
//! `MKIT_COMMIT` (set by the Makefile) wins; otherwise git is asked; otherwise "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MKIT_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("MKIT_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    if let Some(c) = commit.filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        println!("cargo:rustc-env=MKIT_COMMIT={c}");
    }
}
