//! The static musl build's memcpy and memmove (native/mem.c, built by build.rs): musl's own
//! start every copy with `rep movsq`, which made the musl binary's compile 1.2x the glibc
//! one's. This module holds their tests; the functions are C, linked under the libc names on
//! the musl target only.

#[cfg(all(test, overlayfw_mem))]
mod tests {
    use std::ffi::c_void;

    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn overlayfw_memcpy(dest: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
        fn overlayfw_memmove(dest: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
    }

    /// A buffer whose every byte differs from its neighbours' (so a misplaced byte shows).
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    const SIZES: std::ops::RangeInclusive<usize> = 0..=300;

    #[test]
    fn memcpy_copies_every_size_at_every_alignment_and_nothing_else() {
        for n in SIZES {
            for (so, doff) in [(0, 0), (1, 0), (0, 3), (7, 9), (15, 1), (8, 8)] {
                let src = pattern(n + 32, 5);
                let mut dst = pattern(n + 32, 200);
                let mut want = dst.clone();
                want[doff..doff + n].copy_from_slice(&src[so..so + n]);
                #[allow(unsafe_code)]
                // SAFETY: both ranges lie inside their own buffers, which do not overlap.
                let ret = unsafe {
                    let d = dst.as_mut_ptr().add(doff).cast::<c_void>();
                    (overlayfw_memcpy(d, src.as_ptr().add(so).cast(), n), d)
                };
                assert_eq!(ret.0, ret.1, "memcpy returns its destination");
                assert_eq!(dst, want, "n {n}, source offset {so}, destination offset {doff}");
            }
        }
    }

    #[test]
    fn memmove_is_right_for_every_overlap() {
        for n in SIZES {
            // The destination from 70 bytes before the source to 70 after (and far apart).
            for shift in (-70isize..=70).chain([-400, 400]) {
                let base = 420;
                let mut buf = pattern(n + 2 * base, 9);
                let s = base;
                let d = base.checked_add_signed(shift).expect("in the buffer");
                let mut want = buf.clone();
                want.copy_within(s..s + n, d);
                #[allow(unsafe_code)]
                // SAFETY: both ranges lie inside `buf`; memmove allows them to overlap.
                unsafe {
                    let p = buf.as_mut_ptr();
                    overlayfw_memmove(p.add(d).cast(), p.add(s).cast(), n);
                }
                assert_eq!(buf, want, "n {n}, destination - source {shift}");
            }
        }
    }
}
