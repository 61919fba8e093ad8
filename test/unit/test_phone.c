/*
 * test_phone.c
 *	  Unit tests of the phone-number match keys (src/lib/phone.c): the
 *	  equivalent spellings of one number, national and international forms
 *	  per region, junk that must get no key, and mobile detection.
 */
#include "phone.h"
#include "tap.h"

#include <stdbool.h>
#include <string.h>

/* A number as written, its default region, and the key it must give. */
typedef struct key_case
{
	const char *input;
	const char *region;
	const char *want;			/* "" for no key */
} key_case;

static const key_case key_cases[] = {
	/* the equivalence list of phone.h: one AU mobile, six spellings */
	{"0412 345 678", "AU", "+61412345678"},
	{"+61 412 345 678", "AU", "+61412345678"},
	{"61412345678", "AU", "+61412345678"},
	{"0011 61 412 345 678", "AU", "+61412345678"},
	{"412345678", "AU", "+61412345678"},
	{"+61 (0)412 345 678", "AU", "+61412345678"},
	/* more formatting of the same number */
	{"0412-345-678", "AU", "+61412345678"},
	/* two numbers in one cell are no number */
	{"+61 412 345 678 / 0412", "AU", ""},
	{"0412/345/678", "AU", ""},
	{"0412.345.678", "AU", "+61412345678"},
	{"(0412) 345/678", "AU", ""},
	{"  0412 345 678\t\r\n", "AU", "+61412345678"},
	{"\xC2\xA0" "0412\xC2\xA0" "345\xC2\xA0" "678\xC2\xA0", "AU", "+61412345678"},
	{"(+61) 412 345 678", "AU", "+61412345678"},
	{"+610412345678", "AU", "+61412345678"},
	{"00 61 412 345 678", "AU", "+61412345678"},
	{"0412 345 678", "au", "+61412345678"},
	/* extensions are dropped */
	{"0412 345 678 ext 12", "AU", "+61412345678"},
	{"0412 345 678 ext. 12", "AU", "+61412345678"},
	{"0412 345 678 Extension: 12", "AU", "+61412345678"},
	{"0412 345 678x12", "AU", "+61412345678"},
	{"0412 345 678 X 12", "AU", "+61412345678"},
	{"0412 345 678 #12", "AU", "+61412345678"},
	{"(02) 9876 5432 ext 3", "AU", "+61298765432"},
	/* AU landlines */
	{"(02) 9876 5432", "AU", "+61298765432"},
	{"02 9876 5432", "AU", "+61298765432"},
	{"+61 2 9876 5432", "AU", "+61298765432"},
	{"298765432", "AU", "+61298765432"},
	{"1300 123 456", "AU", ""},	/* 10 digits, no trunk prefix: not keyed */
	{"9876 5432", "AU", ""},	/* local number without its area code */
	/* NZ: national numbers of 8 to 10 digits */
	{"+64 21 123 4567", "NZ", "+64211234567"},
	{"021 123 4567", "NZ", "+64211234567"},
	{"021 123 456", "NZ", "+6421123456"},
	{"021 1234 5678", "NZ", "+642112345678"},
	{"09 123 4567", "NZ", "+6491234567"},
	{"64 21 123 4567", "NZ", "+64211234567"},
	{"+64 (0)21 123 4567", "NZ", "+64211234567"},
	{"00 64 21 123 4567", "NZ", "+64211234567"},
	{"+64 21 123 4567", "AU", "+64211234567"},
	/* the default region decides how a national number reads */
	{"021 123 4567", "AU", "+61211234567"},
	/* US and CA: trunk "1" is also the calling code */
	{"(415) 555-0100", "US", "+14155550100"},
	{"+1 415 555 0100", "US", "+14155550100"},
	{"1-415-555-0100", "US", "+14155550100"},
	{"415.555.0100", "US", "+14155550100"},
	{"011 61 412 345 678", "US", "+61412345678"},
	{"00 61 412 345 678", "US", "+61412345678"},
	{"(416) 555-0199", "CA", "+14165550199"},
	{"1415555010", "US", ""},	/* 10 digits starting with the trunk 1 */
	/* GB, IE, SG, IN */
	{"07700 900123", "GB", "+447700900123"},
	{"+44 (0)20 7946 0958", "GB", "+442079460958"},
	{"020 7946 0958", "GB", "+442079460958"},
	{"085 123 4567", "IE", "+353851234567"},
	{"+353 85 123 4567", "IE", "+353851234567"},
	{"9123 4567", "SG", "+6591234567"},
	{"6123 4567", "SG", "+6561234567"},
	{"000 61 412 345 678", "SG", "+61412345678"},
	{"098765 43210", "IN", "+919876543210"},
	{"+91 98765 43210", "IN", "+919876543210"},
	/* foreign numbers with '+' under AU */
	{"+44 20 7946 0958", "AU", "+442079460958"},
	{"+1 (415) 555-0100", "AU", "+14155550100"},
	{"+353 85 123 4567", "AU", "+353851234567"},
	{"+65 9123 4567", "AU", "+6591234567"},
	{"+33 1 23 45 67 89", "AU", "+33123456789"},
	{"+7 495 123 4567", "AU", "+74951234567"},
	{"0011 44 20 7946 0958", "AU", "+442079460958"},
	{"0044 20 7946 0958", "AU", "+442079460958"},
	{"+12 345 678 901 234", "AU", "+12345678901234"},	/* 14 digits */
	{"+123 456 789 012 345", "AU", "+123456789012345"},	/* 15 digits */
	/* foreign numbers without '+' are not guessed */
	{"44 20 7946 0958", "AU", ""},
	{"33123456789", "AU", ""},
	/* garbage */
	{"abc", "AU", ""},
	{"12", "AU", ""},
	{"++61412345678", "AU", ""},
	{"++61", "AU", ""},
	{"+61+412345678", "AU", ""},
	{"0412 345 67a", "AU", ""},
	{"0412 345 678 ext", "AU", ""},
	{"0412 345 678 ext 12a", "AU", ""},
	{"ext 12", "AU", ""},
	{"0412 345 678, 0413 111 222", "AU", ""},
	{"0412 345 678 / 0413 111 222", "AU", ""},	/* too many digits */
	{"0412+345678", "AU", ""},
	{"0412_345_678", "AU", ""},
	{"+61 (0)0412 345 678", "AU", ""},	/* trunk 0 twice: not a key */
	{"0064 0 0640 006 400", "AU", ""},
	{"\xEF\xBC\x90" "412345678", "AU", ""},	/* fullwidth digit zero */
	{"+0412345678", "AU", ""},	/* no calling code starts with 0 */
	{"+", "AU", ""},
	{"+61 4123", "AU", ""},		/* too short */
	{"+1234567", "AU", ""},		/* 7 digits */
	{"+1234 5678 9012 3456", "AU", ""},	/* 16 digits */
	{"0011", "AU", ""},
	{"00", "AU", ""},
	{"0412 345 6789", "AU", ""},	/* one digit too many */
	{"0412 345 67", "AU", ""},	/* one digit too few */
	{"041234567", "AU", ""},	/* 9 digits, but a leading 0 */
	{"61041234567", "AU", ""},	/* calling code, then a 0 */
	/* empty and blank */
	{"", "AU", ""},
	{"   ", "AU", ""},
	{"\xC2\xA0\t", "AU", ""},
	{"--", "AU", ""},
	{"()", "AU", ""},
	/* no default region: only international forms */
	{"+61 412 345 678", NULL, "+61412345678"},
	{"00 61 412 345 678", NULL, "+61412345678"},
	{"0412 345 678", NULL, ""},
};

/* The input with control and non-ASCII bytes escaped, for TAP lines. */
static const char *
shown(const char *s)
{
	static char buf[256];
	size_t		n = 0;

	for (; *s && n + 5 < sizeof(buf); s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c >= 0x20 && c < 0x7F)
			buf[n++] = (char) c;
		else
			n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\\x%02X", c);
	}
	buf[n] = '\0';
	return buf;
}

static void
test_key_cases(void)
{
	size_t		i;

	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++)
	{
		const key_case *c = &key_cases[i];
		const ap_phone_region *r = NULL;
		char		out[AP_PHONE_KEY_SIZE];
		size_t		n;

		if (c->region)
			r = ap_phone_region_find(c->region);
		n = ap_phone_key(c->input, strlen(c->input), r, out);
		is_str(out, n, c->want, "key of '%s' in %s is '%s'",
			   shown(c->input), c->region ? c->region : "no region", c->want);
		/* the returned length and the NUL agree */
		ok(strlen(out) == n, "key of '%s' is NUL-terminated", shown(c->input));
	}
}

/* Long runs of digits: no key, and no write past the key buffer. */
static void
test_long_inputs(void)
{
	const ap_phone_region *au = ap_phone_region_find("AU");
	char		digits[65];
	char		plus[66];
	char		buf[AP_PHONE_KEY_SIZE + 8];
	size_t		i;

	memset(digits, '9', 64);
	digits[64] = '\0';
	plus[0] = '+';
	memcpy(plus + 1, digits, sizeof(digits));

	memset(buf, 'Z', sizeof(buf));
	ok(ap_phone_key(digits, 64, au, buf) == 0, "64 digits: no key");
	ok(ap_phone_key(plus, 65, au, buf) == 0, "'+' and 64 digits: no key");
	for (i = AP_PHONE_KEY_SIZE; i < sizeof(buf); i++)
	{
		if (buf[i] != 'Z')
			break;
	}
	ok(i == sizeof(buf), "nothing written past AP_PHONE_KEY_SIZE");

	/* length, not NUL, bounds the input */
	ok(ap_phone_key("0412 345 678 999", 12, au, buf) == 12,
	   "only len bytes of the input are read");
	is_str(buf, strlen(buf), "+61412345678", "prefix of a longer buffer");

	ok(ap_phone_key(NULL, 0, au, buf) == 0 && buf[0] == '\0',
	   "NULL value: no key, empty output");

	/* a NUL inside the value is junk, not an end */
	ok(ap_phone_key("0412\0345678", 11, au, buf) == 0, "embedded NUL: no key");
}

static void
test_regions(void)
{
	const ap_phone_region *au = ap_phone_region_find("AU");
	const ap_phone_region *nz = ap_phone_region_find("nz");

	ok(au != NULL && strcmp(au->calling_code, "61") == 0, "AU found, code 61");
	ok(nz != NULL && strcmp(nz->code, "NZ") == 0, "lower-case 'nz' finds NZ");
	ok(ap_phone_region_find("Gb") != NULL, "mixed-case 'Gb' found");
	ok(ap_phone_region_find("US") != NULL && ap_phone_region_find("CA") != NULL,
	   "US and CA found");
	ok(ap_phone_region_find("IE") && ap_phone_region_find("SG") &&
	   ap_phone_region_find("IN"), "IE, SG and IN found");
	ok(ap_phone_region_find("FR") == NULL, "unknown region: NULL");
	ok(ap_phone_region_find("") == NULL, "empty code: NULL");
	ok(ap_phone_region_find("A") == NULL, "one letter: NULL");
	ok(ap_phone_region_find("AUS") == NULL, "three letters: NULL");
	ok(ap_phone_region_find(NULL) == NULL, "NULL code: NULL");
}

/* A region the caller built: rules from its fields, exact NSN length. */
static void
test_custom_region(void)
{
	static const ap_phone_region fr = {"FR", "33", "0", "00", 9, "6,7"};
	char		out[AP_PHONE_KEY_SIZE];
	size_t		n;

	n = ap_phone_key("06 12 34 56 78", 14, &fr, out);
	is_str(out, n, "+33612345678", "caller-built region FR");
	n = ap_phone_key("06 12 34 56 7", 13, &fr, out);
	ok(n == 0, "caller-built region: NSN length is exact");
}

static bool
mobile(const char *key)
{
	return ap_phone_key_is_mobile(key, strlen(key));
}

static void
test_is_mobile(void)
{
	const ap_phone_region *au = ap_phone_region_find("AU");
	char		out[AP_PHONE_KEY_SIZE];
	size_t		n;

	ok(mobile("+61412345678"), "AU mobile");
	ok(mobile("+61499999999"), "AU mobile 0499");
	ok(!mobile("+61298765432"), "AU landline is not mobile");
	ok(!mobile("+61312345678"), "AU landline 03 is not mobile");
	ok(!mobile("+6141234567"), "AU mobile prefix, short NSN: not mobile");
	ok(!mobile("+614123456789"), "AU mobile prefix, long NSN: not mobile");
	ok(mobile("+64211234567"), "NZ mobile, 9-digit NSN");
	ok(mobile("+6421123456"), "NZ mobile, 8-digit NSN");
	ok(mobile("+642112345678"), "NZ mobile, 10-digit NSN");
	ok(!mobile("+6491234567"), "NZ landline is not mobile");
	ok(mobile("+447700900123"), "GB mobile");
	ok(!mobile("+442079460958"), "GB landline is not mobile");
	ok(mobile("+353851234567"), "IE mobile");
	ok(mobile("+6591234567") && mobile("+6581234567"), "SG mobiles 9 and 8");
	ok(!mobile("+6561234567"), "SG landline is not mobile");
	ok(!mobile("+14155550100"), "US: mobiles unknown");
	ok(!mobile("+919876543210"), "IN: mobiles unknown");
	ok(!mobile("+33612345678"), "unknown calling code: not mobile");
	ok(!mobile(""), "empty key: not mobile");
	ok(!mobile("+"), "'+' alone: not mobile");
	ok(!mobile("61412345678"), "key without '+': not mobile");
	ok(!mobile("+6141234567890123"), "key over 15 digits: not mobile");

	n = ap_phone_key("0412 345 678", 12, au, out);
	ok(ap_phone_key_is_mobile(out, n), "key of '0412 345 678' is mobile");
	n = ap_phone_key("(02) 9876 5432", 14, au, out);
	ok(!ap_phone_key_is_mobile(out, n), "key of '(02) 9876 5432' is not");
}

int
main(void)
{
	test_key_cases();
	test_long_inputs();
	test_regions();
	test_custom_region();
	test_is_mobile();
	return done_testing();
}
