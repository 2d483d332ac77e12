/*
 * memcpy and memmove for the static musl build, linked in place of musl's (build.rs).
 *
 * musl's x86_64 memcpy starts every copy with `rep movsq` and ends it with a `movsb` loop:
 * tens of cycles of start-up even for the few bytes most of Rust's copies move (push_str of a
 * word, a number's digits). A 100,000-rule compile makes 1.9 million such calls, 63% of them
 * under 8 bytes; in the musl binary they took 15% of the time, glibc's memmove 1.6%.
 *
 * The scheme is glibc's and the kernel's: up to 64 bytes by overlapping unaligned loads, all
 * made before the first store (so right for overlapping buffers too, which memmove needs);
 * beyond that `rep movsb`, which every x86_64 CPU with ERMS (2013 on) runs at full speed.
 *
 * Compiled freestanding, without builtins and without loop-to-call rewriting, so that nothing
 * here becomes a call to memcpy. The functions carry their own names for the tests
 * (src/mem.rs); OVERLAYFW_LIBC adds the libc names.
 */
#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t u64 __attribute__((may_alias, aligned(1)));
typedef uint32_t u32 __attribute__((may_alias, aligned(1)));
typedef uint16_t u16 __attribute__((may_alias, aligned(1)));

#define LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(p), (v))

/* Copies n <= 64 bytes; every load comes before the first store. */
static inline void small(unsigned char *d, const unsigned char *s, size_t n)
{
	if (n >= 16) {
		if (n > 32) {
			__m128i a = LOAD(s), b = LOAD(s + 16);
			__m128i c = LOAD(s + n - 32), e = LOAD(s + n - 16);
			STORE(d, a);
			STORE(d + 16, b);
			STORE(d + n - 32, c);
			STORE(d + n - 16, e);
		} else {
			__m128i a = LOAD(s), b = LOAD(s + n - 16);
			STORE(d, a);
			STORE(d + n - 16, b);
		}
	} else if (n >= 8) {
		uint64_t a = *(const u64 *)s, b = *(const u64 *)(s + n - 8);
		*(u64 *)d = a;
		*(u64 *)(d + n - 8) = b;
	} else if (n >= 4) {
		uint32_t a = *(const u32 *)s, b = *(const u32 *)(s + n - 4);
		*(u32 *)d = a;
		*(u32 *)(d + n - 4) = b;
	} else if (n >= 2) {
		uint16_t a = *(const u16 *)s, b = *(const u16 *)(s + n - 2);
		*(u16 *)d = a;
		*(u16 *)(d + n - 2) = b;
	} else if (n == 1) {
		*d = *s;
	}
}

void *overlayfw_memcpy(void *restrict dest, const void *restrict src, size_t n)
{
	unsigned char *d = dest;
	const unsigned char *s = src;
	if (n <= 64) {
		small(d, s, n);
	} else {
		__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dest;
}

void *overlayfw_memmove(void *dest, const void *src, size_t n)
{
	unsigned char *d = dest;
	const unsigned char *s = src;
	if (n <= 64) {
		small(d, s, n);
	} else if ((uintptr_t)d - (uintptr_t)s >= n) {
		/* The destination starts before the source or past its end: forward is right. */
		__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	} else {
		/* It starts inside the source: backwards, from the last byte. */
		d += n - 1;
		s += n - 1;
		__asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dest;
}

#ifdef OVERLAYFW_LIBC
void *memcpy(void *restrict, const void *restrict, size_t) __attribute__((alias("overlayfw_memcpy")));
void *memmove(void *, const void *, size_t) __attribute__((alias("overlayfw_memmove")));
#endif
