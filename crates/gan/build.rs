//! Tells the tests which SIMD kernels the building machine can run, so that a test of a
//! kernel this CPU lacks is reported as ignored (with the reason) instead of passing
//! without testing anything. The library itself chooses its kernels at run time
//! (`fast::cpu`); these flags only mark tests.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gan_cpu_avx512)");
    println!("cargo::rustc-check-cfg=cfg(gan_cpu_vnni)");
    println!("cargo::rerun-if-changed=build.rs");
    // to see what a CPU without AVX-512 reports (the SIMD tests listed as ignored):
    // GAN_TESTS_AS_PORTABLE_CPU=1 cargo test
    println!("cargo::rerun-if-env-changed=GAN_TESTS_AS_PORTABLE_CPU");
    if std::env::var_os("GAN_TESTS_AS_PORTABLE_CPU").is_some() {
        return;
    }
    // the build script runs on the host: its CPU is the test machine's only when the
    // target is the host's
    let (host, target) = (std::env::var("HOST"), std::env::var("TARGET"));
    if host.is_err() || host != target {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            println!("cargo::rustc-cfg=gan_cpu_avx512");
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                println!("cargo::rustc-cfg=gan_cpu_vnni");
            }
        }
    }
}
