/*
 * fuzz_common.h
 *	  Shared bits of the libFuzzer targets in fuzz/: an invariant check
 *	  that reports and abort()s, so libFuzzer keeps the input as a crasher.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined (see mk/fuzz.mk).
 */
#ifndef AP_FUZZ_COMMON_H
#define AP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "\nINVARIANT VIOLATED at %s:%d: %s\n  ", \
					__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			abort(); \
		} \
	} while (0)

/* FNV-1a over the input: picks options without consuming input bytes. */
static inline uint32_t
fuzz_hash(const uint8_t *data, size_t len)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

/*
 * A heap copy of exactly len bytes (malloc(1) when len is 0), so that
 * AddressSanitizer catches a read one past the end of a value.
 */
static inline char *
fuzz_dup(const uint8_t *data, size_t len)
{
	char	   *p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		abort();
	for (size_t i = 0; i < len; i++)
		p[i] = (char) data[i];
	return p;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif							/* AP_FUZZ_COMMON_H */
