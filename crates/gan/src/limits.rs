//! Up-front checks on the size of a request, so that a large `-n` is refused with the size
//! named instead of aborting in the allocator.

use crate::error::{Error, Result};

/// Bytes of memory the system reports as available (`MemAvailable` in `/proc/meminfo`), or
/// `None` where that is not known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses `what` when it needs more than `bytes` of memory than the system has available
/// (or more than any machine could address); the error names both sizes and `what`.
pub fn check_fits(bytes: Option<u64>, what: &str) -> Result<()> {
    let gb = |b: u64| b as f64 / 1e9;
    match (bytes, available_memory()) {
        (None, _) => Err(Error::Invalid(format!(
            "{what}: the size overflows 64 bits; ask for less"
        ))),
        (Some(b), Some(avail)) if b > avail => Err(Error::Invalid(format!(
            "{what} needs about {:.1} GB of memory and this machine has {:.1} GB available; \
             ask for less",
            gb(b),
            gb(avail)
        ))),
        _ => Ok(()),
    }
}

/// `a * b * c` in bytes, `None` on overflow.
pub fn bytes(a: usize, b: usize, c: usize) -> Option<u64> {
    (a as u64).checked_mul(b as u64)?.checked_mul(c as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_sizes_are_refused_and_small_ones_pass() {
        let e = check_fits(bytes(usize::MAX, 784, 4), "-n").expect_err("overflow");
        assert!(e.to_string().contains("overflows"), "{e}");
        check_fits(Some(1024), "a little").expect("fits");
    }

    #[test]
    #[cfg_attr(
        not(target_os = "linux"),
        ignore = "available memory is read from /proc/meminfo"
    )]
    fn requests_beyond_the_available_memory_are_refused_with_their_size() {
        assert!(
            available_memory().is_some(),
            "no MemAvailable in /proc/meminfo"
        );
        let e = check_fits(bytes(1 << 40, 784, 4), "10^12 samples")
            .expect_err("too large")
            .to_string();
        assert!(
            e.contains("10^12 samples needs about") && e.contains("GB"),
            "{e}"
        );
    }
}
