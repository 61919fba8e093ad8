/*
 * phone.h
 *	  Phone-number match keys in one canonical international form.
 *
 * Plain C with no PostgreSQL headers.  Not libphonenumber (about 11 us a
 * number here, too slow for the import hot path): a small normaliser that
 * knows international prefixes, trunk prefixes and national number lengths
 * for the regions a Ulysses deployment uses.
 */
#ifndef AP_PHONE_H
#define AP_PHONE_H

#include <stdbool.h>
#include <stddef.h>

/* "+" and at most 15 digits (E.164), plus NUL. */
#define AP_PHONE_KEY_SIZE 17

typedef struct ap_phone_region
{
	const char *code;			/* ISO 3166 alpha-2, e.g. "AU" */
	const char *calling_code;	/* e.g. "61" */
	const char *trunk_prefix;	/* e.g. "0"; "" when none */
	const char *intl_prefix;	/* e.g. "0011"; "00" is honoured everywhere */
	int			nsn_length;		/* national significant number length, e.g. 9 */
	const char *mobile_prefix;	/* NSN prefixes of mobiles, comma-separated,
								 * e.g. "4" or "8,9"; NULL if unknown */
} ap_phone_region;

/* Region by ISO code, case-insensitive ("AU", "nz"), or NULL. */
extern const ap_phone_region *ap_phone_region_find(const char *code);

/*
 * Canonical key of a phone number as written, for the given default
 * region.  Writes "+<calling code><national number>" to out (at least
 * AP_PHONE_KEY_SIZE bytes) and returns its length; returns 0 (no key)
 * when the value is blank, holds letters or other junk beyond phone
 * formatting, or has too few (< 8) or too many (> 15) digits.
 *
 * With region AU these are one key, "+61412345678": "0412 345 678",
 * "+61 412 345 678", "61412345678", "0011 61 412 345 678", "412345678",
 * "+61 (0)412 345 678".
 */
extern size_t ap_phone_key(const char *s, size_t len,
						   const ap_phone_region *region, char *out);

/* True when a canonical key is a mobile number of a region we know. */
extern bool ap_phone_key_is_mobile(const char *key, size_t keylen);

#endif							/* AP_PHONE_H */
