//! Which instruction-set kernels run. Every kernel with a SIMD form also has a portable one;
//! the choice is made here, once per process, and can be forced:
//!
//! - [`Simd::detected`]: what the CPU supports (runtime detection);
//! - [`Simd::active`]: what this process uses: the detected set, or none of it when the
//!   environment variable `GAN_SIMD` is `portable` (to measure what a CPU without AVX-512
//!   gets, or to rule the SIMD kernels out when chasing a difference);
//! - functions that take a kernel choice explicitly (`sparse`'s blocks, [`super::int8::dots`],
//!   [`crate::eval::parzen::log_likelihoods_with`]) let tests run each path on purpose.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The environment variable that can force the portable kernels.
pub const SIMD_ENV: &str = "GAN_SIMD";

/// The SIMD instruction sets the kernels of this crate can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Simd {
    /// AVX-512 Foundation (the sparse maxout products, the Parzen bounds).
    pub avx512f: bool,
    /// AVX-512 VNNI on top of AVX-512F (the Parzen screen's integer dot products).
    pub avx512vnni: bool,
}

impl Simd {
    /// No SIMD kernel: every choice takes its portable path.
    pub const PORTABLE: Simd = Simd {
        avx512f: false,
        avx512vnni: false,
    };

    /// What this CPU supports.
    pub fn detected() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512f = std::arch::is_x86_feature_detected!("avx512f");
            Simd {
                avx512f,
                avx512vnni: avx512f && std::arch::is_x86_feature_detected!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Simd::PORTABLE
        }
    }

    /// What this process uses: [`Simd::detected`], or [`Simd::PORTABLE`] when `GAN_SIMD` is
    /// `portable`. Read once; an unrecognised value counts as unset here (the CLI refuses it
    /// up front through [`Simd::from_env`]).
    pub fn active() -> Simd {
        static ACTIVE: OnceLock<Simd> = OnceLock::new();
        *ACTIVE.get_or_init(|| Simd::from_env().unwrap_or_else(|_| Simd::detected()))
    }

    /// The set `GAN_SIMD` asks for: unset, empty or `auto` gives [`Simd::detected`],
    /// `portable` gives [`Simd::PORTABLE`]; anything else is an error naming the variable.
    pub fn from_env() -> Result<Simd> {
        match std::env::var(SIMD_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Simd::detected()),
            Ok(v) => Simd::parse(&v),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Invalid(format!(
                "{SIMD_ENV} is not valid UTF-8 (expected \"auto\" or \"portable\")"
            ))),
        }
    }

    fn parse(value: &str) -> Result<Simd> {
        match value.trim() {
            "" | "auto" => Ok(Simd::detected()),
            "portable" => Ok(Simd::PORTABLE),
            other => Err(Error::Invalid(format!(
                "{SIMD_ENV}={other:?}: expected \"auto\" or \"portable\""
            ))),
        }
    }

    /// A short name for reports: `avx512-vnni`, `avx512` or `portable`.
    pub fn name(self) -> &'static str {
        match (self.avx512f, self.avx512vnni) {
            (true, true) => "avx512-vnni",
            (true, false) => "avx512",
            _ => "portable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_parses_two_words_and_refuses_the_rest() {
        assert_eq!(Simd::parse("portable").expect("portable"), Simd::PORTABLE);
        assert_eq!(Simd::parse("auto").expect("auto"), Simd::detected());
        assert_eq!(Simd::parse("").expect("empty"), Simd::detected());
        let e = Simd::parse("avx9").expect_err("unknown").to_string();
        assert!(e.contains("GAN_SIMD") && e.contains("avx9"), "{e}");
        assert_eq!(Simd::PORTABLE.name(), "portable");
    }
}
