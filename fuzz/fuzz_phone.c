/*
 * fuzz_phone.c
 *	  libFuzzer target for ap_phone_key, ap_phone_key_is_mobile and
 *	  ap_phone_region_find (src/lib/phone.c).
 *
 * Input: the first byte picks the default region from a small list (no
 * region, the table's regions, and a region the caller builds itself);
 * the rest is the phone number as written.  Checks:
 *	 - the key is empty (return 0, out "") or "+" and 8..15 digits, the
 *	   first not '0', NUL-terminated, and its length is returned;
 *	 - keying the key again, with the same region or with none, gives the
 *	   same key (the key is canonical);
 *	 - ap_phone_key_is_mobile neither crashes on the key nor on the raw
 *	   bytes, and says yes only to well-formed keys;
 *	 - ap_phone_region_find on the first bytes, with any case.
 */
#include <string.h>

#include "fuzz_common.h"
#include "phone.h"

/* A region not from the table: its calling code shares no prefix with any. */
static const ap_phone_region custom_region = {"XX", "99", "0", "00", 7, "5"};

static const char *const region_codes[] = {
	NULL, "AU", "NZ", "GB", "US", "CA", "IE", "SG", "IN", "au", "Nz", "ZZ"
};

#define NCODES ((int) (sizeof(region_codes) / sizeof(region_codes[0])))

static const ap_phone_region *
pick_region(uint8_t b, const char **name)
{
	int			i = b % (NCODES + 1);

	if (i == NCODES)
	{
		*name = "custom XX";
		return &custom_region;
	}
	*name = region_codes[i] ? region_codes[i] : "none";
	if (region_codes[i] == NULL)
		return NULL;
	return ap_phone_region_find(region_codes[i]);	/* "ZZ": NULL */
}

static void
check_key_format(const char *key, size_t n, const char *what)
{
	size_t		i;

	if (n == 0)
	{
		FUZZ_CHECK(key[0] == '\0', "%s: no key but out is '%s'", what, key);
		return;
	}
	FUZZ_CHECK(n >= 9 && n <= 16, "%s: key '%s' has length %zu", what, key, n);
	FUZZ_CHECK(key[0] == '+', "%s: key '%s' does not start with +", what, key);
	FUZZ_CHECK(key[1] != '0', "%s: key '%s' has a calling code starting with 0",
			   what, key);
	for (i = 1; i < n; i++)
		FUZZ_CHECK(key[i] >= '0' && key[i] <= '9', "%s: key '%s' byte %zu is %d",
				   what, key, i, key[i]);
	FUZZ_CHECK(key[n] == '\0', "%s: key of length %zu not NUL-terminated", what, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ap_phone_region *region;
	const char *rname;
	char	   *num;
	size_t		len;
	char		key[AP_PHONE_KEY_SIZE];
	char		key2[AP_PHONE_KEY_SIZE];
	char		key3[AP_PHONE_KEY_SIZE];
	size_t		n;
	size_t		n2;
	size_t		n3;
	bool		mobile;

	if (size == 0)
		return 0;
	region = pick_region(data[0], &rname);
	len = size - 1;
	num = fuzz_dup(data + 1, len);

	/* region lookup on the raw bytes: never crashes, finds only 2-letter codes */
	if (size >= 3)
	{
		char		code[3] = {(char) data[1], (char) data[2], '\0'};
		const ap_phone_region *r = ap_phone_region_find(code);

		if (r != NULL)
			FUZZ_CHECK(strlen(r->code) == 2 && strlen(code) == 2,
					   "region '%s' found for '%s'", r->code, code);
	}

	memset(key, 0x7f, sizeof(key));
	n = ap_phone_key(num, len, region, key);
	check_key_format(key, n, "key");

	if (n > 0)
	{
		/* idempotent: the key of a key is itself, whatever the region */
		memset(key2, 0x7f, sizeof(key2));
		n2 = ap_phone_key(key, n, region, key2);
		FUZZ_CHECK(n2 == n && memcmp(key, key2, n + 1) == 0,
				   "region %s: '%.*s' keys to '%s', which keys to '%s'",
				   rname, (int) len, num, key, n2 ? key2 : "");
		memset(key3, 0x7f, sizeof(key3));
		n3 = ap_phone_key(key, n, NULL, key3);
		FUZZ_CHECK(n3 == n && memcmp(key, key3, n + 1) == 0,
				   "key '%s' keys to '%s' with no region", key, n3 ? key3 : "");

		mobile = ap_phone_key_is_mobile(key, n);
		(void) mobile;
	}

	/* is_mobile on raw bytes: no crash, yes only for a well-formed key */
	mobile = ap_phone_key_is_mobile(num, len);
	if (mobile)
	{
		FUZZ_CHECK(len >= 2 && len <= 16 && num[0] == '+',
				   "is_mobile says yes to '%.*s'", (int) len, num);
	}

	/* an empty value never has a key, even with a NULL pointer */
	FUZZ_CHECK(ap_phone_key(NULL, 0, region, key2) == 0 && key2[0] == '\0',
			   "empty value keyed");

	free(num);
	return 0;
}
