//! The kernel's timezone (`sys_tz`), in which nft's `meta day` counts the weekday: a rule with
//! UTC weekdays (`--weekdays` without `--kerneltz`, [`crate::ir::Match::MetaDay`]) matches as
//! iptables means only where it is UTC, so `apply` reads it before it changes anything.

use crate::ir::Ruleset;

/// The kernel's timezone in minutes west of UTC: 0 unless something set it (systemd does at
/// boot when the hardware clock keeps local time).
pub fn kernel_minutes_west() -> std::io::Result<i32> {
    #[repr(C)]
    struct Timezone {
        minutes_west: libc::c_int,
        dst_time: libc::c_int,
    }
    let mut tz = Timezone { minutes_west: 0, dst_time: 0 };
    // The raw system call: glibc (since 2.31) and musl no longer fill in gettimeofday's
    // timezone, and neither rustix nor nix wraps it.
    #[allow(unsafe_code)]
    // SAFETY: gettimeofday(2) with a null `timeval` writes only the `struct timezone` it is
    // given, which outlives the call and has the kernel's layout (two C ints).
    let r = unsafe {
        libc::syscall(
            libc::SYS_gettimeofday,
            std::ptr::null_mut::<libc::timeval>(),
            &mut tz as *mut Timezone,
        )
    };
    if r == 0 { Ok(tz.minutes_west) } else { Err(std::io::Error::last_os_error()) }
}

/// Why `rs` must not be applied on a kernel `minutes_west` minutes west of UTC: its UTC
/// weekday rules would match other days than iptables' (`None`: nothing against it).
pub fn utc_weekdays_refused(rs: &Ruleset, minutes_west: i32) -> Option<String> {
    if minutes_west == 0 {
        return None;
    }
    let places = rs.utc_weekdays();
    if places.is_empty() {
        return None;
    }
    let east = -minutes_west;
    let offset = format!(
        "UTC{}{:02}:{:02}",
        if east < 0 { '-' } else { '+' },
        east.abs() / 60,
        east.abs() % 60
    );
    Some(format!(
        "the kernel's timezone is {offset}, and nft's `meta day` counts weekdays in it: `--weekdays` without `--kerneltz` (UTC weekdays) at {} would match other days than iptables' (help: add `--kerneltz` to mean the kernel's timezone, or keep the hardware clock in UTC (`timedatectl set-local-rtc 0`) and reboot)",
        places.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruleset(text: &str) -> Ruleset {
        let mut sources = crate::diagnostic::Sources::new();
        let file =
            crate::pipeline::Text { name: "t.rules".into(), bytes: text.as_bytes().to_vec() };
        crate::pipeline::compile(&mut sources, vec![file], None, "overlayfw")
            .ruleset
            .expect("compiles")
    }

    #[test]
    fn utc_weekdays_are_refused_only_on_a_kernel_off_utc() {
        let rs = ruleset(
            "INPUT_CUST -p tcp --dport 22 -j ACCEPT\n\
             INPUT_CUST -m time --weekdays Sat,Sun -j DROP\n\
             INPUT_CUST -m time --weekdays Mon --kerneltz -j DROP\n\
             FORWARD_CUST -m time --timestart 08:00 --timestop 17:00 --weekdays Fri -j ACCEPT\n",
        );
        assert_eq!(rs.utc_weekdays(), ["t.rules:2", "t.rules:4"]);
        assert_eq!(utc_weekdays_refused(&rs, 0), None);
        let why = utc_weekdays_refused(&rs, -60).expect("refused east of UTC");
        assert!(why.contains("UTC+01:00") && why.contains("at t.rules:2, t.rules:4"), "{why}");
        let why = utc_weekdays_refused(&rs, 330).expect("refused west of UTC");
        assert!(why.contains("UTC-05:30"), "{why}");
        // `--kerneltz` weekdays count in the kernel's timezone, as nft does.
        let kernel = ruleset("INPUT_CUST -m time --weekdays Mon --kerneltz -j DROP\n");
        assert_eq!(utc_weekdays_refused(&kernel, -60), None);
    }

    #[test]
    fn the_kernel_timezone_reads_as_minutes() {
        let west = kernel_minutes_west().expect("gettimeofday");
        assert!((-24 * 60..=24 * 60).contains(&west), "{west}");
    }
}
