/*
 * phone.c
 *	  Phone-number match keys: the region table and the normaliser that
 *	  turns a number as people write it into "+<calling code><NSN>".
 *
 * Plain C, no backend headers, no allocation and no locale: ap_phone_key
 * runs for the phone and mobile fields of every imported row.  The input
 * is read once into a small digit buffer; the rules then only look at
 * prefixes and lengths of that buffer.
 *
 * A number is keyed only when its country is certain: written in
 * international form ('+', "00" or the default region's international
 * prefix), or fitting the default region's national formats.  Anything
 * else, e.g. a local number without its area code ("9876 5432" in AU) or
 * a foreign number written without '+', gets no key rather than a key
 * with a guessed country, because a wrong key could merge two contacts
 * while a missing one only loses a match.
 */
#include "phone.h"

#include <string.h>

/*
 * Digits of a key, calling code included: E.164 allows at most 15, and
 * fewer than 8 is no full number of any region.
 */
#define MIN_KEY_DIGITS 8
#define MAX_KEY_DIGITS 15

/*
 * Room for the digits as written: a key's 15 plus the longest
 * international prefix (4) and a "(0)" trunk prefix.  More digits than
 * this can never make a key.
 */
#define MAX_RAW_DIGITS 20

/*
 * A region with the national-number length range the normaliser accepts;
 * only NZ, whose numbers run from 8 to 10 digits, has a real range.
 */
typedef struct phone_rules
{
	ap_phone_region region;
	int			nsn_min;
	int			nsn_max;
} phone_rules;

static const phone_rules rules_table[] = {
	{{"AU", "61", "0", "0011", 9, "4"}, 9, 9},
	{{"NZ", "64", "0", "00", 9, "2"}, 8, 10},
	{{"GB", "44", "0", "00", 10, "7"}, 10, 10},
	{{"US", "1", "1", "011", 10, NULL}, 10, 10},
	{{"CA", "1", "1", "011", 10, NULL}, 10, 10},
	{{"IE", "353", "0", "00", 9, "8"}, 9, 9},
	{{"SG", "65", "", "000", 8, "8,9"}, 8, 8},
	{{"IN", "91", "0", "00", 10, NULL}, 10, 10},
};

#define NRULES ((int) (sizeof(rules_table) / sizeof(rules_table[0])))

static char
ascii_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const ap_phone_region *
ap_phone_region_find(const char *code)
{
	int			i;

	if (code == NULL || code[0] == '\0' || code[1] == '\0' || code[2] != '\0')
		return NULL;
	for (i = 0; i < NRULES; i++)
	{
		const char *c = rules_table[i].region.code;

		if (ascii_upper(code[0]) == c[0] && ascii_upper(code[1]) == c[1])
			return &rules_table[i].region;
	}
	return NULL;
}

/*
 * Accepted national-number lengths of a region.  A region the caller built
 * itself, not from the table, has exactly its nsn_length.
 */
static void
nsn_bounds(const ap_phone_region *r, int *lo, int *hi)
{
	int			i;

	*lo = *hi = r->nsn_length;
	for (i = 0; i < NRULES; i++)
	{
		if (r == &rules_table[i].region)
		{
			*lo = rules_table[i].nsn_min;
			*hi = rules_table[i].nsn_max;
			return;
		}
	}
}

static bool
nsn_length_ok(const ap_phone_region *r, int n)
{
	int			lo;
	int			hi;

	nsn_bounds(r, &lo, &hi);
	return n >= lo && n <= hi;
}

/* Length of prefix when digits d[0..n) start with it, else 0. */
static int
prefix_len(const char *d, int n, const char *prefix)
{
	int			plen = (int) strlen(prefix);

	if (plen == 0 || plen > n || memcmp(d, prefix, (size_t) plen) != 0)
		return 0;
	return plen;
}

/* The table region whose calling code is the longest prefix of d, or NULL. */
static const ap_phone_region *
region_by_calling_code(const char *d, int n, int *cclen)
{
	const ap_phone_region *best = NULL;
	int			i;

	*cclen = 0;
	for (i = 0; i < NRULES; i++)
	{
		int			len = prefix_len(d, n, rules_table[i].region.calling_code);

		if (len > *cclen)
		{
			*cclen = len;
			best = &rules_table[i].region;
		}
	}
	return best;
}

/*
 * Length of the formatting character at p, 0 when p holds something else.
 * All white space counts, so leading and trailing blanks need no trimming.
 * '/' does not: "0412 345 678 / 02 9876 5432" is two numbers, not one.
 */
static int
format_len(const char *p, const char *end)
{
	switch (*p)
	{
		case ' ':
		case '\t':
		case '\r':
		case '\n':
		case '\v':
		case '\f':
		case '.':
		case '-':
		case '(':
		case ')':
			return 1;
		default:
			break;
	}
	/* UTF-8 NO-BREAK SPACE */
	if (end - p >= 2 && (unsigned char) p[0] == 0xC2 &&
		(unsigned char) p[1] == 0xA0)
		return 2;
	return 0;
}

/* Skip formatting characters from p on. */
static const char *
skip_format(const char *p, const char *end)
{
	int			n;

	while (p < end && (n = format_len(p, end)) > 0)
		p += n;
	return p;
}

/* Whether [p, end) starts with word, ASCII-case-insensitively. */
static bool
starts_with_word(const char *p, const char *end, const char *word)
{
	for (; *word; word++, p++)
	{
		if (p >= end || ascii_upper(*p) != ascii_upper(*word))
			return false;
	}
	return true;
}

/*
 * Whether [p, end) is a trailing extension: "ext", "ext.", "extension",
 * "x" or "#", then optional formatting or ':', then digits to the end
 * ("ext 12", "x12", "#12", "Ext: 12").
 */
static bool
is_extension(const char *p, const char *end)
{
	/* longest first: "ext" is a prefix of "extension" */
	static const char *const markers[] = {"extension", "ext", "x", "#"};
	const int	nmarkers = (int) (sizeof(markers) / sizeof(markers[0]));
	int			i;

	for (i = 0; i < nmarkers && !starts_with_word(p, end, markers[i]); i++)
		;
	if (i == nmarkers)
		return false;
	p = skip_format(p + strlen(markers[i]), end);
	if (p < end && *p == ':')
		p = skip_format(p + 1, end);
	if (p >= end)
		return false;
	for (; p < end; p++)
	{
		if (!is_digit(*p))
			return false;
	}
	return true;
}

/*
 * Read the digits of a number into d (MAX_RAW_DIGITS bytes), dropping
 * formatting and a trailing extension.  *plus tells whether a '+' came
 * before the first digit.  Returns the digit count, or -1 for anything
 * that is not a phone number: a letter, a second '+', too many digits.
 */
static int
read_digits(const char *s, size_t len, char *d, bool *plus)
{
	const char *p = s;
	const char *end = s + len;
	int			n = 0;

	*plus = false;
	while ((p = skip_format(p, end)) < end)
	{
		if (is_digit(*p))
		{
			if (n == MAX_RAW_DIGITS)
				return -1;
			d[n++] = *p++;
		}
		else if (*p == '+' && n == 0 && !*plus)
		{
			*plus = true;
			p++;
		}
		else if (n > 0 && is_extension(p, end))
			break;
		else
			return -1;
	}
	return n;
}

/* Write "+<cc><nsn>" when its digit count fits E.164; returns its length. */
static size_t
write_key(const char *cc, int cclen, const char *nsn, int nsnlen, char *out)
{
	int			ndigits = cclen + nsnlen;

	if (ndigits < MIN_KEY_DIGITS || ndigits > MAX_KEY_DIGITS)
		return 0;
	out[0] = '+';
	memcpy(out + 1, cc, (size_t) cclen);
	memcpy(out + 1 + cclen, nsn, (size_t) nsnlen);
	out[1 + ndigits] = '\0';
	return (size_t) (1 + ndigits);
}

/*
 * Key of digits in international form, calling code first.  For a known
 * region whose trunk prefix is "0", a "0" right after the calling code is
 * the trunk prefix written in by habit ("+61 (0)412 345 678") and goes.
 * Numbers of unknown calling codes are kept as written.
 */
static size_t
international_key(const char *d, int n, char *out)
{
	const ap_phone_region *r;
	int			cclen;

	if (n == 0 || d[0] == '0')
		return 0;				/* no calling code starts with 0 */
	r = region_by_calling_code(d, n, &cclen);
	if (r != NULL && strcmp(r->trunk_prefix, "0") == 0 &&
		cclen < n && d[cclen] == '0')
	{
		/*
		 * Its national numbers never start with 0, so a second 0 is junk
		 * ("+61 (0)0412 345 678"); keying it as written would also give a
		 * key that keys to another one.
		 */
		if (cclen + 1 < n && d[cclen + 1] == '0')
			return 0;
		return write_key(d, cclen, d + cclen + 1, n - cclen - 1, out);
	}
	return write_key(d, 0, d, n, out);
}

/*
 * Length of the international prefix d starts with in region r: r's own
 * or "00", the longer first ("0011" before "00"); 0 when none.
 */
static int
intl_prefix_len(const char *d, int n, const ap_phone_region *r)
{
	int			len = 0;

	if (r != NULL)
		len = prefix_len(d, n, r->intl_prefix);
	if (len < 2 && prefix_len(d, n, "00") > 0)
		len = 2;
	return len;
}

/*
 * Key of digits with neither '+' nor an international prefix, read with
 * the rules of region r, in this order: trunk prefix and national number
 * ("0412 345 678"); calling code and national number without the '+'
 * ("61412345678"); bare national number, as spreadsheets leave it after
 * eating the leading 0 ("412345678").  Anything else has no key.
 */
static size_t
national_key(const char *d, int n, const ap_phone_region *r, char *out)
{
	int			cclen = (int) strlen(r->calling_code);
	int			tlen = prefix_len(d, n, r->trunk_prefix);
	int			nsn_at;

	if (tlen > 0 && nsn_length_ok(r, n - tlen))
		nsn_at = tlen;
	else if (prefix_len(d, n, r->calling_code) > 0 &&
			 nsn_length_ok(r, n - cclen))
		nsn_at = cclen;
	else if (tlen == 0 && nsn_length_ok(r, n))
		nsn_at = 0;
	else
		return 0;
	/* national numbers of the table's regions never start with 0 */
	if (d[nsn_at] == '0')
		return 0;
	return write_key(r->calling_code, cclen, d + nsn_at, n - nsn_at, out);
}

size_t
ap_phone_key(const char *s, size_t len, const ap_phone_region *region,
			 char *out)
{
	char		d[MAX_RAW_DIGITS];
	bool		plus;
	int			n;
	int			ilen;

	out[0] = '\0';
	if (len == 0)
		return 0;				/* s may be NULL */
	n = read_digits(s, len, d, &plus);
	if (n <= 0)
		return 0;
	if (plus)
		return international_key(d, n, out);
	ilen = intl_prefix_len(d, n, region);
	if (ilen > 0)
		return international_key(d + ilen, n - ilen, out);
	if (region == NULL)
		return 0;				/* no default region: international only */
	return national_key(d, n, region, out);
}

/* Whether nsn starts with one of the comma-separated prefixes in list. */
static bool
has_listed_prefix(const char *nsn, int n, const char *list)
{
	while (*list)
	{
		size_t		plen = strcspn(list, ",");

		if ((int) plen <= n && memcmp(nsn, list, plen) == 0)
			return true;
		list += plen;
		if (*list == ',')
			list++;
	}
	return false;
}

bool
ap_phone_key_is_mobile(const char *key, size_t keylen)
{
	const ap_phone_region *r;
	int			cclen;
	int			n;

	if (keylen < 2 || keylen > MAX_KEY_DIGITS + 1 || key[0] != '+')
		return false;
	n = (int) keylen - 1;
	r = region_by_calling_code(key + 1, n, &cclen);
	if (r == NULL || r->mobile_prefix == NULL ||
		!nsn_length_ok(r, n - cclen))
		return false;
	return has_listed_prefix(key + 1 + cclen, n - cclen, r->mobile_prefix);
}
