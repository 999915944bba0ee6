//! Records the source commit (`git rev-parse --short HEAD`) as `GAN_COMMIT` for the
//! provenance of `gan report`; a build outside git leaves it unset.

fn main() {
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output();
    if let Ok(o) = out
        && o.status.success()
    {
        let commit = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !commit.is_empty() {
            println!("cargo:rustc-env=GAN_COMMIT={commit}");
        }
    }
}
