//! Records the git commit the binary was built from, for the `alpr_build_info` metric.
//! `ALPR_GIT_COMMIT` set at build time wins, for builds from a source archive without `.git`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ALPR_GIT_COMMIT");
    // HEAD moves on checkout and commit; the branch file it names moves on commit.
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    if let Some(git_dir) = &git_dir {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/refs/heads");
    }
    let commit = std::env::var("ALPR_GIT_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=ALPR_BUILD_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_string())
    );
}
