/*
 * fuzz_normalize.c
 *	  libFuzzer target for the value normalisers of src/lib/normalize.c:
 *	  ap_trim, ap_is_blank, ap_email_key, ap_parse_range, ap_tags_split
 *	  (with ap_tags_scratch_size) and ap_names_equal.
 *
 * Input: the first byte sizes the output buffers (so that short buffers
 * get exercised: every output buffer is a heap block of exactly that
 * size); the rest is the value s.  For the two-argument functions s is
 * split at its first '|', or in the middle when it has none, into a and b.
 *
 * Checks:
 *	 - ap_trim narrows to a span inside the value with no white space at
 *	   either end, and is idempotent; ap_is_blank agrees with it;
 *	 - ap_email_key: 0 and "" when blank or too long, else the trimmed
 *	   value with ASCII letters lower-cased, NUL-terminated; idempotent;
 *	 - ap_parse_range: EMPTY exactly for blank values; on OK the output is
 *	   canonical ((0|[1-9][0-9]*)(.[0-9]*[1-9])?), holds the same digits as
 *	   the input with the point moved by a k/m suffix, less leading and
 *	   trailing fractional zeros, re-parses to itself, and fits a buffer of
 *	   exactly its length + 1; "" on BAD;
 *	 - ap_tags_split, in scratch of exactly ap_tags_scratch_size bytes
 *	   (none when there is no tag), emits non-empty, trimmed spans inside
 *	   the input, in order, with no ';', exactly those of a quadratic
 *	   model that keeps each segment equal (ASCII case folded) to no
 *	   earlier kept one, and returns the number emitted;
 *	 - ap_names_equal is reflexive and symmetric, and agrees with a simple
 *	   fold-and-compare model.
 */
#include <string.h>

#include "fuzz_common.h"
#include "normalize.h"

static int
is_ws_at(const char *p, const char *end)
{
	unsigned char c;

	if (p >= end)
		return 0;
	c = (unsigned char) *p;
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f')
		return 1;
	if (end - p >= 2 && c == 0xC2 && (unsigned char) p[1] == 0xA0)
		return 2;
	return 0;
}

/* White space ends the span [s, end)? */
static int
ends_with_ws(const char *s, const char *end)
{
	unsigned char c;

	if (end <= s)
		return 0;
	c = (unsigned char) end[-1];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f')
		return 1;
	return end - s >= 2 && (unsigned char) end[-2] == 0xC2 && c == 0xA0;
}

static void
check_trim(const char *s, size_t len, const char *what)
{
	const char *t = s;
	size_t		tlen = len;
	const char *t2;
	size_t		t2len;

	ap_trim(&t, &tlen);
	if (len == 0)
		return;
	FUZZ_CHECK(t >= s && t + tlen <= s + len, "%s: trim left the value", what);
	FUZZ_CHECK(tlen == 0 || (!is_ws_at(t, t + tlen) && !ends_with_ws(t, t + tlen)),
			   "%s: trimmed '%.*s' has white space at an end", what, (int) tlen, t);
	t2 = t;
	t2len = tlen;
	ap_trim(&t2, &t2len);
	FUZZ_CHECK(t2 == t && t2len == tlen, "%s: trim not idempotent", what);
	FUZZ_CHECK(ap_is_blank(s, len) == (tlen == 0), "%s: ap_is_blank disagrees", what);
	/* everything trimmed off the front was white space */
	for (const char *p = s; p < t;)
	{
		int			n = is_ws_at(p, s + len);

		FUZZ_CHECK(n > 0, "%s: trim dropped non-space byte %d", what, *p);
		p += n;
	}
}

static void
check_email(const char *s, size_t len, size_t outsz)
{
	char	   *out = malloc(outsz ? outsz : 1);
	char	   *out2;
	const char *t = s;
	size_t		tlen = len;
	size_t		n;
	size_t		n2;

	ap_trim(&t, &tlen);
	n = ap_email_key(s, len, out, outsz);
	if (tlen == 0 || tlen >= outsz)
	{
		FUZZ_CHECK(n == 0, "email: key of length %zu for a blank or long value", n);
		FUZZ_CHECK(outsz == 0 || out[0] == '\0', "email: no key but out not empty");
		free(out);
		return;
	}
	FUZZ_CHECK(n == tlen, "email: key length %zu, trimmed value %zu", n, tlen);
	FUZZ_CHECK(out[n] == '\0', "email: key not NUL-terminated");
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) t[i];
		unsigned char want = (c >= 'A' && c <= 'Z') ? (unsigned char) (c + 32) : c;

		FUZZ_CHECK((unsigned char) out[i] == want, "email: byte %zu is %d, want %d",
				   i, out[i], want);
	}
	out2 = malloc(n + 1);
	n2 = ap_email_key(out, n, out2, n + 1);
	FUZZ_CHECK(n2 == n && memcmp(out, out2, n + 1) == 0, "email: key not idempotent");
	free(out2);
	free(out);
}

/* Canonical JSON number as ap_parse_range writes it. */
static int
is_canonical_number(const char *s, size_t n)
{
	size_t		i = 0;

	if (n == 0)
		return 0;
	if (s[0] == '0')
		i = 1;
	else
	{
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == 0)
			return 0;
	}
	if (i == n)
		return 1;
	if (s[i] != '.' || i + 1 == n || s[n - 1] == '0')
		return 0;
	for (i++; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

/*
 * The number the input spells, from its digits alone: all its digits in
 * a row, the point after the integer digits moved right by 3 for a final
 * 'k'/'K' and by 6 for 'm'/'M' (zeros appended as needed), then leading
 * zeros of the integer part and trailing zeros of the fraction dropped
 * ("0" for an empty integer part, no '.' for an empty fraction).
 */
static size_t
digits_model(const char *s, size_t len, char *out)
{
	char	   *d = malloc(len + 8);
	size_t		nd = 0;
	size_t		point = (size_t) -1;
	size_t		n = 0;
	size_t		i;
	size_t		end;

	for (i = 0; i < len; i++)
	{
		if (s[i] >= '0' && s[i] <= '9')
			d[nd++] = s[i];
		else if (s[i] == '.')
			point = nd;
	}
	if (point == (size_t) -1)
		point = nd;
	if (len > 0 && (s[len - 1] == 'k' || s[len - 1] == 'K'))
		point += 3;
	else if (len > 0 && (s[len - 1] == 'm' || s[len - 1] == 'M'))
		point += 6;
	while (nd < point)
		d[nd++] = '0';

	for (i = 0; i < point && d[i] == '0'; i++)
		;
	for (; i < point; i++)
		out[n++] = d[i];
	if (n == 0)
		out[n++] = '0';
	for (end = nd; end > point && d[end - 1] == '0'; end--)
		;
	if (end > point)
	{
		out[n++] = '.';
		for (i = point; i < end; i++)
			out[n++] = d[i];
	}
	free(d);
	return n;
}

static void
check_range(const char *s, size_t len, size_t outsz)
{
	char	   *out = malloc(outsz ? outsz : 1);
	const char *t = s;
	size_t		tlen = len;
	ap_num_status st;
	size_t		n;

	ap_trim(&t, &tlen);
	st = ap_parse_range(s, len, out, outsz);
	FUZZ_CHECK(st == AP_NUM_EMPTY || st == AP_NUM_OK || st == AP_NUM_BAD,
			   "range: status %d", st);
	FUZZ_CHECK((st == AP_NUM_EMPTY) == (tlen == 0), "range: EMPTY is %d for trimmed length %zu",
			   st == AP_NUM_EMPTY, tlen);
	if (st != AP_NUM_OK)
	{
		FUZZ_CHECK(outsz == 0 || out[0] == '\0', "range: status %d but out '%s'", st, out);
		free(out);
		return;
	}
	n = strnlen(out, outsz);
	FUZZ_CHECK(n < outsz, "range: output not NUL-terminated");
	FUZZ_CHECK(is_canonical_number(out, n), "range: '%.*s' gave non-canonical '%s'",
			   (int) len, s, out);
	{
		char	   *model = malloc(tlen + 16);
		size_t		mlen = digits_model(t, tlen, model);

		FUZZ_CHECK(mlen == n && memcmp(model, out, n) == 0,
				   "range: '%.*s' gave '%s', its digits say '%.*s'",
				   (int) len, s, out, (int) mlen, model);
		free(model);
	}
	/* nothing but '$', digits, ',', ' ', '.' and a final k/K/m/M */
	for (size_t i = 0; i < tlen; i++)
	{
		char		c = t[i];

		FUZZ_CHECK((c >= '0' && c <= '9') || c == ',' || c == ' ' || c == '.' ||
				   (c == '$' && i == 0) ||
				   (i == tlen - 1 && i > 0 && strchr("kKmM", c) != NULL),
				   "range: '%.*s' accepted with byte %d", (int) len, s, c);
	}
	{
		/* re-parse the canonical form into a buffer of exactly n + 1 */
		char	   *again = malloc(n + 1);
		char	   *tight;

		FUZZ_CHECK(ap_parse_range(out, n, again, n + 1) == AP_NUM_OK &&
				   memcmp(out, again, n + 1) == 0,
				   "range: '%s' does not re-parse to itself", out);
		free(again);
		tight = malloc(n ? n : 1);
		FUZZ_CHECK(ap_parse_range(out, n, tight, n) == AP_NUM_BAD,
				   "range: '%s' fit a buffer of %zu", out, n);
		free(tight);
	}
	free(out);
}

typedef struct tag_list
{
	const char *base;
	size_t		len;
	const char *tag[4096];
	size_t		tlen[4096];
	int			n;
	int			overflow;
} tag_list;

static void
on_tag(const char *tag, size_t len, void *arg)
{
	tag_list   *l = arg;

	FUZZ_CHECK(tag >= l->base && len > 0 && len <= l->len &&
			   tag + len <= l->base + l->len, "tags: span outside the input");
	if (l->n == 4096)
	{
		l->overflow = 1;
		return;
	}
	l->tag[l->n] = tag;
	l->tlen[l->n] = len;
	l->n++;
}

/* Equal ignoring ASCII case, as the tag splitter compares tags. */
static int
tag_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
	{
		unsigned char x = (unsigned char) a[i];
		unsigned char y = (unsigned char) b[i];

		if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y))
			return 0;
	}
	return 1;
}

/*
 * The splitter's answer the slow way: walk the segments and keep each
 * non-blank one that equals no tag kept before it.
 */
static void
model_tags(const char *s, size_t len, tag_list *m)
{
	const char *p = s;

	/* past 4096 kept tags the comparison is given up: bounded work */
	while (len > 0 && p <= s + len && !m->overflow)
	{
		const char *semi = memchr(p, ';', (size_t) (s + len - p));
		const char *seg = p;
		size_t		seglen = (size_t) ((semi ? semi : s + len) - p);
		int			dup = 0;

		ap_trim(&seg, &seglen);
		for (int i = 0; i < m->n && !dup && seglen > 0; i++)
			dup = tag_equal(m->tag[i], m->tlen[i], seg, seglen);
		if (seglen > 0 && !dup)
			on_tag(seg, seglen, m);
		if (semi == NULL)
			break;
		p = semi + 1;
	}
}

static void
check_tags(const char *s, size_t len)
{
	static tag_list l;
	static tag_list m;
	size_t		need = ap_tags_scratch_size(s, len);
	void	   *scratch = need > 0 ? malloc(need) : NULL;	/* exact: ASan */
	int			ret;
	int			i;

	memset(&l, 0, sizeof(l));
	l.base = s;
	l.len = len;
	ret = ap_tags_split(s, len, scratch, on_tag, &l);
	free(scratch);
	FUZZ_CHECK((need == 0) == (l.n == 0), "tags: %zu bytes of scratch for %d tags",
			   need, l.n);
	if (l.overflow)
		return;
	FUZZ_CHECK(ret == l.n, "tags: returned %d, emitted %d", ret, l.n);
	for (i = 0; i < l.n; i++)
	{
		const char *t = l.tag[i];
		size_t		tl = l.tlen[i];

		FUZZ_CHECK(memchr(t, ';', tl) == NULL, "tags: tag '%.*s' holds ';'", (int) tl, t);
		FUZZ_CHECK(!is_ws_at(t, t + tl) && !ends_with_ws(t, t + tl),
				   "tags: tag '%.*s' not trimmed", (int) tl, t);
		if (i > 0)
			FUZZ_CHECK(t >= l.tag[i - 1] + l.tlen[i - 1], "tags: out of order");
	}

	/* exactly the model's tags: same spans (first spellings), same order */
	memset(&m, 0, sizeof(m));
	m.base = s;
	m.len = len;
	model_tags(s, len, &m);
	if (m.overflow)
		return;
	FUZZ_CHECK(m.n == l.n, "tags: %d emitted, model %d", l.n, m.n);
	for (i = 0; i < l.n; i++)
		FUZZ_CHECK(l.tag[i] == m.tag[i] && l.tlen[i] == m.tlen[i],
				   "tags: tag %d is '%.*s' at %td, model '%.*s' at %td", i,
				   (int) l.tlen[i], l.tag[i], l.tag[i] - s,
				   (int) m.tlen[i], m.tag[i], m.tag[i] - s);
}

/* Fold as ap_names_equal describes: trim, ASCII lower, one space per run. */
static size_t
fold_name(const char *s, size_t len, char *out)
{
	const char *p = s;
	const char *end = s + len;
	size_t		n = 0;
	int			w;

	while ((w = is_ws_at(p, end)) > 0)
		p += w;
	while (p < end)
	{
		if ((w = is_ws_at(p, end)) > 0)
		{
			while ((w = is_ws_at(p, end)) > 0)
				p += w;
			if (p < end)
				out[n++] = ' ';	/* inner run; a trailing one is trimmed */
			continue;
		}
		out[n++] = (char) ((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		p++;
	}
	return n;
}

static void
check_names(const char *a, size_t alen, const char *b, size_t blen)
{
	bool		ab = ap_names_equal(a, alen, b, blen);
	bool		ba = ap_names_equal(b, blen, a, alen);
	char	   *fa = malloc(alen + 1);
	char	   *fb = malloc(blen + 1);
	size_t		na = fold_name(a, alen, fa);
	size_t		nb = fold_name(b, blen, fb);
	bool		model = (na == nb && memcmp(fa, fb, na) == 0);

	FUZZ_CHECK(ab == ba, "names: not symmetric for '%.*s' / '%.*s'",
			   (int) alen, a, (int) blen, b);
	FUZZ_CHECK(ap_names_equal(a, alen, a, alen), "names: '%.*s' not equal to itself",
			   (int) alen, a);
	FUZZ_CHECK(ap_names_equal(b, blen, b, blen), "names: '%.*s' not equal to itself",
			   (int) blen, b);
	FUZZ_CHECK(ab == model, "names: '%.*s' vs '%.*s' gave %d, folding gives %d",
			   (int) alen, a, (int) blen, b, ab, model);
	/* a value equals its own fold */
	FUZZ_CHECK(ap_names_equal(a, alen, fa, na), "names: '%.*s' differs from its fold '%.*s'",
			   (int) alen, a, (int) na, fa);
	free(fa);
	free(fb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		outsz;
	char	   *s;
	size_t		len;
	const char *bar;
	char	   *a;
	char	   *b;
	size_t		alen;
	size_t		blen;

	if (size == 0)
		return 0;
	/* mostly roomy buffers, sometimes tight ones (0..31) */
	outsz = (data[0] & 0x80) ? (size_t) (data[0] & 0x1f) : 320;
	len = size - 1;
	s = fuzz_dup(data + 1, len);

	bar = memchr(s, '|', len);
	alen = bar ? (size_t) (bar - s) : len / 2;
	a = fuzz_dup((const uint8_t *) s, alen);
	blen = len - alen - (bar ? 1 : 0);
	b = fuzz_dup((const uint8_t *) s + len - blen, blen);

	check_trim(s, len, "s");
	check_trim(a, alen, "a");
	check_email(s, len, outsz);
	check_email(a, alen, outsz);
	check_range(s, len, outsz);
	check_range(a, alen, outsz);
	check_range(b, blen, outsz);
	check_tags(s, len);
	check_names(a, alen, b, blen);

	/* a NULL pointer with length 0 is allowed everywhere */
	FUZZ_CHECK(ap_is_blank(NULL, 0), "NULL not blank");
	FUZZ_CHECK(ap_tags_scratch_size(NULL, 0) == 0 &&
			   ap_tags_split(NULL, 0, NULL, on_tag, NULL) == 0, "NULL has tags");
	FUZZ_CHECK(ap_names_equal(NULL, 0, "", 0), "NULL names differ");

	free(a);
	free(b);
	free(s);
	return 0;
}
