/*
 * test_normalize.c
 *	  Unit tests of the value normalisers (src/lib/normalize.c): trimming,
 *	  blank detection, email keys, range numbers, tag lists and the name
 *	  comparison behind import conflicts.
 */
#include "normalize.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBSP "\xC2\xA0"

/* ap_trim on a C string, checked against the expected remainder. */
static void
check_trim(const char *in, const char *want, const char *what)
{
	const char *s = in;
	size_t		len = strlen(in);

	ap_trim(&s, &len);
	is_str(s, len, want, "trim: %s", what);
}

static void
test_trim(void)
{
	const char *s;
	size_t		len;

	check_trim("abc", "abc", "nothing to trim");
	check_trim("  abc  ", "abc", "spaces both sides");
	check_trim("\t\r\n\v\fabc\f\v\n\r\t", "abc", "all ASCII white space");
	check_trim(NBSP "abc" NBSP, "abc", "NBSP both sides");
	check_trim(" " NBSP " \t" NBSP "a b" NBSP " ", "a b", "mixed runs");
	check_trim("a  b", "a  b", "inner white space kept");
	check_trim("a" NBSP "b", "a" NBSP "b", "inner NBSP kept");
	check_trim("", "", "empty");
	check_trim("   ", "", "only spaces");
	check_trim(NBSP NBSP, "", "only NBSPs");
	check_trim("\xC2", "\xC2", "lone C2 byte kept");
	check_trim("\xA0" "abc", "\xA0" "abc", "lone A0 byte kept");
	check_trim("abc\xC2", "abc\xC2", "trailing lone C2 kept");
	check_trim("\xC3\xA9", "\xC3\xA9", "non-ASCII letter kept");

	/* only the first len bytes count */
	s = "  ab  cd";
	len = 5;
	ap_trim(&s, &len);
	is_str(s, len, "ab", "trim honours len");

	s = NULL;
	len = 0;
	ap_trim(&s, &len);
	ok(len == 0, "trim of an empty NULL value");
}

/* Empty values may come as NULL pointers with length 0. */
static void
test_null_empty(void)
{
	char		out[8];

	ok(ap_is_blank(NULL, 0), "NULL is blank");
	ok(ap_email_key(NULL, 0, out, sizeof(out)) == 0, "NULL has no email key");
	ok(ap_parse_range(NULL, 0, out, sizeof(out)) == AP_NUM_EMPTY,
	   "NULL range is EMPTY");
	ok(ap_tags_split(NULL, 0, NULL, NULL, NULL) == 0, "NULL has no tags");
	ok(ap_names_equal(NULL, 0, "", 0), "NULL name equals empty");
	ok(!ap_names_equal(NULL, 0, "a", 1), "NULL name differs from 'a'");
}

static void
test_is_blank(void)
{
	ok(ap_is_blank("", 0), "empty is blank");
	ok(ap_is_blank("   ", 3), "spaces are blank");
	ok(ap_is_blank(" \t\r\n", 4), "ASCII white space is blank");
	ok(ap_is_blank(NBSP, 2), "NBSP is blank");
	ok(ap_is_blank(NBSP " " NBSP, 5), "NBSPs and spaces are blank");
	ok(!ap_is_blank("x", 1), "a letter is not blank");
	ok(!ap_is_blank("  0 ", 4), "'0' is not blank");
	ok(!ap_is_blank("\xC2", 1), "lone C2 is not blank");
	ok(ap_is_blank("  x", 2), "blank within len");
}

/* ap_email_key into a buffer of outsz bytes; want "" for no key. */
static void
check_email(const char *in, size_t outsz, const char *want)
{
	char		out[65];		/* outsz up to 64, and a guard byte */
	size_t		n;

	memset(out, 'Z', sizeof(out));
	n = ap_email_key(in, strlen(in), out, outsz);
	is_str(out, n, want, "email key of '%s' (outsz %zu) is '%s'",
		   in, outsz, want);
	ok(out[n] == '\0' && (outsz == 0 || n < outsz),
	   "email key of '%s' is NUL-terminated within outsz", in);
	ok(out[outsz] == 'Z', "email key of '%s' writes within outsz", in);
}

static void
test_email_key(void)
{
	char		out[8];

	check_email("  John.Smith@Example.COM ", 64, "john.smith@example.com");
	check_email("john@example.com", 64, "john@example.com");
	check_email(NBSP "ANN@X.IO" NBSP, 64, "ann@x.io");
	check_email("Z\xC3\x89@x.io", 64, "z\xC3\x89@x.io");	/* É kept as bytes */
	check_email("a@b.co", 7, "a@b.co");	/* exactly fits */
	check_email("a@b.com", 7, "");	/* one byte short */
	check_email("  John.Smith@Example.COM ", 10, "");
	check_email("", 64, "");
	check_email("   ", 64, "");
	check_email("a@b", 1, "");
	check_email("a@b", 4, "a@b");
	/* outsz 0: nothing written at all */
	out[0] = 'Z';
	ok(ap_email_key("a@b", 3, out, 0) == 0 && out[0] == 'Z',
	   "email key with outsz 0 writes nothing");
}

/* Range numbers with a price suffix, and the edge cases around them. */
static const struct
{
	const char *in;
	ap_num_status status;
	const char *want;
}			prices[] =
{
	{"$1.2m", AP_NUM_OK, "1200000"},
	{"1.2M", AP_NUM_OK, "1200000"},
	{"850k", AP_NUM_OK, "850000"},
	{"$850K", AP_NUM_OK, "850000"},
	{" $1.2m ", AP_NUM_OK, "1200000"},
	{"0.5k", AP_NUM_OK, "500"},
	{".5m", AP_NUM_OK, "500000"},
	{"$.5M", AP_NUM_OK, "500000"},
	{"1.25k", AP_NUM_OK, "1250"},
	{"1.2345k", AP_NUM_OK, "1234.5"},
	{"1.23456789m", AP_NUM_OK, "1234567.89"},
	{"0.0000001m", AP_NUM_OK, "0.1"},
	{"0.05k", AP_NUM_OK, "50"},
	{"0.0001k", AP_NUM_OK, "0.1"},
	{"0k", AP_NUM_OK, "0"},
	{"000.000m", AP_NUM_OK, "0"},
	{"007k", AP_NUM_OK, "7000"},
	{"1,250k", AP_NUM_OK, "1250000"},
	{"1 250K", AP_NUM_OK, "1250000"},
	{"1,250.5k", AP_NUM_OK, "1250500"},
	{"1.500m", AP_NUM_OK, "1500000"},
	{"123456789012345678901234567890m",
		AP_NUM_OK, "123456789012345678901234567890000000"},
	{"123456789012345678901234567890123456789012345678901234567m",
		AP_NUM_OK, "123456789012345678901234567890123456789012345678901234567000000"},
	{"1234567890123456789012345678901234567890123456789012345678m",
		AP_NUM_BAD, ""},
	{"m", AP_NUM_BAD, ""},
	{"K", AP_NUM_BAD, ""},
	{"$", AP_NUM_BAD, ""},
	{"$m", AP_NUM_BAD, ""},
	{".m", AP_NUM_BAD, ""},
	{"1.m", AP_NUM_BAD, ""},
	{"1.2.3m", AP_NUM_BAD, ""},
	{"1,2m", AP_NUM_BAD, ""},
	{"1,25k", AP_NUM_BAD, ""},
	{"1,k", AP_NUM_BAD, ""},
	{"1.2 m", AP_NUM_BAD, ""},
	{"850 k", AP_NUM_BAD, ""},
	{"1e6", AP_NUM_BAD, ""},
	{"1.2e6", AP_NUM_BAD, ""},
	{"1mm", AP_NUM_BAD, ""},
	{"1km", AP_NUM_BAD, ""},
	{"1.2mil", AP_NUM_BAD, ""},
	{"1.2b", AP_NUM_BAD, ""},
	{"1.2bn", AP_NUM_BAD, ""},
	{"m1", AP_NUM_BAD, ""},
	{"k850", AP_NUM_BAD, ""},
	{"1k.5", AP_NUM_BAD, ""},
	{"-1.2m", AP_NUM_BAD, ""},
	{"1.2m$", AP_NUM_BAD, ""},
	{"POA", AP_NUM_BAD, ""},
	{"Contact agent", AP_NUM_BAD, ""},
};

/* ap_parse_range of in; want is the number text for AP_NUM_OK, else "". */
static void
check_range(const char *in, ap_num_status want_status, const char *want)
{
	static const char *const names[] = {"EMPTY", "OK", "BAD"};
	char		out[64];
	ap_num_status st;

	st = ap_parse_range(in, strlen(in), out, sizeof(out));
	ok(st == want_status, "range '%s' is %s (got %s)",
	   in, names[want_status], names[st]);
	if (want_status == AP_NUM_OK)
		is_str(out, strlen(out), want, "range '%s' reads '%s'", in, want);
}

static void
test_parse_range(void)
{
	char		small[4];
	size_t		i;

	/* accepted */
	check_range("3", AP_NUM_OK, "3");
	check_range(" 3 ", AP_NUM_OK, "3");
	check_range(NBSP "3" NBSP, AP_NUM_OK, "3");
	check_range("2.5", AP_NUM_OK, "2.5");
	check_range("$1,250,000", AP_NUM_OK, "1250000");
	check_range("1 250 000", AP_NUM_OK, "1250000");
	check_range("1,250,000.75", AP_NUM_OK, "1250000.75");
	check_range("$1,250,000.75", AP_NUM_OK, "1250000.75");
	check_range("1 250.5", AP_NUM_OK, "1250.5");
	check_range("2.50", AP_NUM_OK, "2.5");
	check_range("2.00", AP_NUM_OK, "2");
	check_range("2.05", AP_NUM_OK, "2.05");
	check_range("007", AP_NUM_OK, "7");
	check_range("0", AP_NUM_OK, "0");
	check_range("000", AP_NUM_OK, "0");
	check_range("0.0", AP_NUM_OK, "0");
	check_range("0.10", AP_NUM_OK, "0.1");
	check_range(".5", AP_NUM_OK, "0.5");
	check_range("$.5", AP_NUM_OK, "0.5");
	check_range("$0", AP_NUM_OK, "0");
	check_range("100", AP_NUM_OK, "100");
	check_range("1000000", AP_NUM_OK, "1000000");
	check_range("999,999", AP_NUM_OK, "999999");
	check_range("12,345", AP_NUM_OK, "12345");
	check_range("0,001", AP_NUM_OK, "1");
	check_range("123456789012345678901234567890", AP_NUM_OK,
				"123456789012345678901234567890");

	/* empty */
	check_range("", AP_NUM_EMPTY, "");
	check_range("  ", AP_NUM_EMPTY, "");
	check_range(NBSP "\t", AP_NUM_EMPTY, "");

	/* rejected */
	check_range("$", AP_NUM_BAD, "");
	check_range(".", AP_NUM_BAD, "");
	check_range("$.", AP_NUM_BAD, "");
	check_range("5.", AP_NUM_BAD, "");
	check_range("1,2,3", AP_NUM_BAD, "");
	check_range("1,25", AP_NUM_BAD, "");
	check_range("1,2345", AP_NUM_BAD, "");
	check_range("1234,567", AP_NUM_BAD, "");
	check_range("1,250,00", AP_NUM_BAD, "");
	check_range("1,", AP_NUM_BAD, "");
	check_range(",100", AP_NUM_BAD, "");
	check_range("1,,000", AP_NUM_BAD, "");
	check_range("1  250", AP_NUM_BAD, "");
	check_range("12,345 678", AP_NUM_BAD, "");
	check_range("12 345,678", AP_NUM_BAD, "");
	check_range("1.2.3", AP_NUM_BAD, "");
	check_range("1.250,00", AP_NUM_BAD, "");
	check_range("1.5,000", AP_NUM_BAD, "");
	check_range("1e309", AP_NUM_BAD, "");
	check_range("1E3", AP_NUM_BAD, "");
	check_range("NaN", AP_NUM_BAD, "");
	check_range("Infinity", AP_NUM_BAD, "");
	check_range("inf", AP_NUM_BAD, "");
	check_range("-0", AP_NUM_BAD, "");
	check_range("-3", AP_NUM_BAD, "");
	check_range("+3", AP_NUM_BAD, "");
	check_range("3 beds", AP_NUM_BAD, "");
	check_range("3beds", AP_NUM_BAD, "");
	check_range("3-4", AP_NUM_BAD, "");
	check_range("3$", AP_NUM_BAD, "");
	check_range("$$3", AP_NUM_BAD, "");
	check_range("$ 3", AP_NUM_BAD, "");
	check_range("0x10", AP_NUM_BAD, "");
	check_range("3" NBSP "000", AP_NUM_BAD, "");
	check_range("abc", AP_NUM_BAD, "");

	/*
	 * Price suffixes: thousands and millions, either case, after '$' too;
	 * "huge" ends where the canonical form leaves the 64-byte buffer (57
	 * digits and six zeros fit, one more digit does not).
	 */
	for (i = 0; i < sizeof(prices) / sizeof(prices[0]); i++)
		check_range(prices[i].in, prices[i].status, prices[i].want);

	/* the canonical form must fit, not the input */
	ok(ap_parse_range("123", 3, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "123") == 0, "'123' fits a 4-byte buffer");
	ok(ap_parse_range("1234", 4, small, sizeof(small)) == AP_NUM_BAD &&
	   small[0] == '\0', "'1234' does not fit a 4-byte buffer");
	ok(ap_parse_range("$1,000", 6, small, sizeof(small)) == AP_NUM_BAD,
	   "'$1,000' does not fit a 4-byte buffer");
	ok(ap_parse_range("0001.5000", 9, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "1.5") == 0, "'0001.5000' fits as '1.5'");
	ok(ap_parse_range("12.000000", 9, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "12") == 0, "'12.000000' fits as '12'");
	ok(ap_parse_range("1.25", 4, small, sizeof(small)) == AP_NUM_BAD,
	   "'1.25' does not fit a 4-byte buffer");
	ok(ap_parse_range("3", 1, small, 0) == AP_NUM_BAD, "outsz 0 is BAD");
	ok(ap_parse_range("  ", 2, small, 0) == AP_NUM_EMPTY,
	   "blank with outsz 0 is still EMPTY");
	ok(ap_parse_range("3 beds", 1, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "3") == 0, "range honours len");
	ok(ap_parse_range("1.2k", 4, small, sizeof(small)) == AP_NUM_BAD &&
	   small[0] == '\0', "'1.2k' (1200) does not fit a 4-byte buffer");
	ok(ap_parse_range("0.0001k", 7, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "0.1") == 0, "'0.0001k' fits as '0.1': the result counts");
	ok(ap_parse_range(".5kg", 3, small, sizeof(small)) == AP_NUM_OK &&
	   strcmp(small, "500") == 0, "range honours len after a suffix");
}

/* Collects the tags ap_tags_split emits, joined by '|', into buf. */
typedef struct tag_sink
{
	char	   *buf;
	size_t		cap;
	size_t		len;
	int			calls;
	bool		overflow;		/* buf was too small */
} tag_sink;

static void
collect_tag(const char *tag, size_t len, void *arg)
{
	tag_sink   *sink = arg;

	if (sink->len + len + 1 > sink->cap)
	{
		sink->overflow = true;
		return;
	}
	if (sink->calls++ > 0)
		sink->buf[sink->len++] = '|';
	memcpy(sink->buf + sink->len, tag, len);
	sink->len += len;
}

/*
 * ap_tags_split with scratch of exactly ap_tags_scratch_size bytes, plus
 * guard bytes that must stay untouched; returns what it returns.
 */
static int
split_tags(const char *in, size_t len, ap_tag_emit emit, void *arg,
		   bool *guard_ok)
{
	size_t		need = ap_tags_scratch_size(in, len);
	unsigned char *scratch = malloc(need + 16);
	int			n;
	size_t		i;

	memset(scratch + need, 0x5A, 16);
	n = ap_tags_split(in, len, need > 0 ? scratch : NULL, emit, arg);
	*guard_ok = true;
	for (i = need; i < need + 16; i++)
		if (scratch[i] != 0x5A)
			*guard_ok = false;
	free(scratch);
	return n;
}

/* Split in; want lists the kept tags joined by '|'. */
static void
check_tags(const char *in, int want_n, const char *want)
{
	char		buf[256];
	tag_sink	sink = {buf, sizeof(buf), 0, 0, false};
	int			n;
	bool		guard_ok;

	n = split_tags(in, strlen(in), collect_tag, &sink, &guard_ok);
	ok(n == want_n && sink.calls == want_n && guard_ok,
	   "tags of '%s': %d emitted (got %d, %d calls), within scratch",
	   in, want_n, n, sink.calls);
	is_str(sink.buf, sink.len, want, "tags of '%s' are [%s]", in, want);
}

static void
test_tags(void)
{
	check_tags("a; b;;A; c ", 3, "a|b|c");
	check_tags("", 0, "");
	check_tags(" ; ; ", 0, "");
	check_tags(";", 0, "");
	check_tags(NBSP ";" NBSP, 0, "");
	check_tags("Buyer;buyer;BUYER;Seller", 2, "Buyer|Seller");
	check_tags("one", 1, "one");
	check_tags("  hot lead  ", 1, "hot lead");
	check_tags("hot  lead;hot lead", 2, "hot  lead|hot lead");
	check_tags("b;a;B;c;A;d", 4, "b|a|c|d");
	check_tags("x;;;;y;", 2, "x|y");
	check_tags(";;first", 1, "first");
	check_tags(NBSP "VIP" NBSP "; vip", 1, "VIP");
	check_tags("ab;a;abc;b", 4, "ab|a|abc|b");
	/* non-ASCII kept as bytes, compared exactly */
	check_tags("caf\xC3\xA9;Caf\xC3\xA9;CAF\xC3\x89", 2,
			   "caf\xC3\xA9|CAF\xC3\x89");
	check_tags("\xE6\x9D\xB1\xE4\xBA\xAC; \xE6\x9D\xB1\xE4\xBA\xAC ", 1,
			   "\xE6\x9D\xB1\xE4\xBA\xAC");
	/* the same tag: ASCII letters folded, nothing else ('@' is not '`') */
	check_tags("Buyer;bUYER;Buyers;buyer;a-b;a_b;@;`;[;{", 8,
			   "Buyer|Buyers|a-b|a_b|@|`|[|{");
	check_tags("z;b;B;a;b;Z;c;A", 4, "z|b|a|c");

	ok(ap_tags_scratch_size(NULL, 0) == 0, "no scratch for an empty value");
	ok(ap_tags_scratch_size(" ;;" NBSP "; ", 7) == 0, "no scratch for blank tags");
	ok(ap_tags_scratch_size("a;b;A", 5) == 3 * ap_tags_scratch_size("a", 1) &&
	   ap_tags_scratch_size("a", 1) > 0, "scratch grows with the tags, duplicates included");
}

static void
on_alarm(int sig)
{
	static const char msg[] =
		"not ok - tags: 400,000 tags not split within 120 s (quadratic?)\n";

	(void) sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

/*
 * Big enough that comparing each tag with the earlier ones (the old
 * quadratic splitter: 8e10 comparisons here, many minutes) cannot pass,
 * while sorting takes a fraction of a second; the alarm turns a hang into
 * a failure.  200,000 distinct tags, then each again in reverse order and
 * in other cases, so every run of equals has later spellings to drop.
 */
static void
test_tags_big(void)
{
	const long	ndistinct = 200000;
	size_t		size = (size_t) ndistinct * 2 * 12 + 1;
	char	   *s = malloc(size);
	char	   *want = malloc(size);
	size_t		len = 0;
	size_t		wantlen = 0;
	tag_sink	sink = {malloc(size), size, 0, 0, false};
	bool		guard_ok;
	int			n;
	long		i;

	for (i = 0; i < ndistinct; i++)
	{
		len += sprintf(s + len, "Tag%ld;", i);
		wantlen += sprintf(want + wantlen, i > 0 ? "|Tag%ld" : "Tag%ld", i);
	}
	for (i = ndistinct - 1; i >= 0; i--)
		len += sprintf(s + len, i % 2 ? " tag%ld ;" : "TAG%ld;", i);
	fflush(stdout);				/* the handler writes past stdio */
	signal(SIGALRM, on_alarm);
	alarm(120);
	n = split_tags(s, len, collect_tag, &sink, &guard_ok);
	alarm(0);
	ok(n == ndistinct && sink.calls == ndistinct && guard_ok && !sink.overflow &&
	   sink.len == wantlen && memcmp(sink.buf, want, wantlen) == 0,
	   "tags: 400,000 tags, 200,000 kept with first spelling in order (%d)", n);
	free(sink.buf);
	free(want);
	free(s);
}

static void
check_names(const char *a, const char *b, bool want)
{
	ok(ap_names_equal(a, strlen(a), b, strlen(b)) == want,
	   "names '%s' and '%s' %s", a, b, want ? "equal" : "differ");
	ok(ap_names_equal(b, strlen(b), a, strlen(a)) == want,
	   "names '%s' and '%s' %s (swapped)", b, a, want ? "equal" : "differ");
}

static void
test_names_equal(void)
{
	check_names("John  Smith", " john smith", true);
	check_names("Jon", "John", false);
	check_names("", "", true);
	check_names("", "   ", true);
	check_names("John", "", false);
	check_names("JOHN", "john", true);
	check_names("John\tSmith", "john smith", true);
	check_names("John" NBSP "Smith", "John Smith", true);
	check_names(NBSP "John Smith" NBSP, "john smith", true);
	check_names("John Smith", "JohnSmith", false);
	check_names("John Smith", "John Smith Jr", false);
	check_names("John Smith ", "John Smith", true);
	check_names("Mary-Jane", "mary jane", false);
	check_names("Zo\xC3\xAB", "zo\xC3\xAB", true);
	check_names("\xC3\x89mile", "\xC3\xA9mile", false);
	check_names("John.Smith@Example.COM", " john.smith@example.com ", true);
	check_names("a", "b", false);
}

int
main(void)
{
	test_trim();
	test_is_blank();
	test_null_empty();
	test_email_key();
	test_parse_range();
	test_tags();
	test_tags_big();
	test_names_equal();
	return done_testing();
}
