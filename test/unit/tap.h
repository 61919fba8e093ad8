/*
 * tap.h
 *	  Minimal TAP producer for the plain-C unit tests of src/lib: prove and
 *	  test/run.sh read the "ok N" / "not ok N" lines it prints.
 */
#ifndef AP_TAP_H
#define AP_TAP_H

#include <stdio.h>
#include <string.h>

static int	tap_count;
static int	tap_failed;

#define ok(cond, ...) \
	do { \
		tap_count++; \
		if (cond) \
			printf("ok %d - ", tap_count); \
		else \
		{ \
			tap_failed++; \
			printf("not ok %d - ", tap_count); \
		} \
		printf(__VA_ARGS__); \
		printf("\n"); \
		if (!(cond)) \
			printf("#   failed at %s line %d\n", __FILE__, __LINE__); \
	} while (0)

/* Compare a (buffer, length) result with an expected C string. */
#define is_str(got, gotlen, want, ...) \
	do { \
		int _eq = ((size_t) (gotlen) == strlen(want) && \
				   memcmp((got), (want), (gotlen)) == 0); \
		ok(_eq, __VA_ARGS__); \
		if (!_eq) \
			printf("#   got '%.*s', want '%s'\n", (int) (gotlen), (got), (want)); \
	} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif							/* AP_TAP_H */
