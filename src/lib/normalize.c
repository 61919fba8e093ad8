/*
 * normalize.c
 *	  Value normalisers behind normalize.h: white-space trimming (NBSP
 *	  included), email keys, range numbers, semicolon tag lists and the
 *	  loose name comparison used for import conflicts.
 *
 * Plain C, no backend headers and no allocation: these run on every field
 * of every imported row, so each is a single pass over bytes (the tag
 * splitter also sorts, in memory its caller provides) and none depends on
 * the locale (ASCII case-folding only; other bytes compare as they are).
 */
#include "normalize.h"

#include <stdlib.h>
#include <string.h>

/* UTF-8 NO-BREAK SPACE, U+00A0 */
#define NBSP_0 ((unsigned char) 0xC2)
#define NBSP_1 ((unsigned char) 0xA0)

static bool
is_ascii_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		c == '\v' || c == '\f';
}

/* Length of the white space starting at p (0 when none, 2 for NBSP). */
static size_t
space_len(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	if (is_ascii_space((unsigned char) *p))
		return 1;
	if (end - p >= 2 && (unsigned char) p[0] == NBSP_0 &&
		(unsigned char) p[1] == NBSP_1)
		return 2;
	return 0;
}

/*
 * Length of the white space ending at end.  0xC2 is a UTF-8 lead byte and
 * never a continuation byte, so a trailing C2 A0 is always an NBSP.
 */
static size_t
space_len_back(const char *start, const char *end)
{
	if (end <= start)
		return 0;
	if (is_ascii_space((unsigned char) end[-1]))
		return 1;
	if (end - start >= 2 && (unsigned char) end[-2] == NBSP_0 &&
		(unsigned char) end[-1] == NBSP_1)
		return 2;
	return 0;
}

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

void
ap_trim(const char **s, size_t *len)
{
	const char *p = *s;
	const char *end;
	size_t		n;

	if (*len == 0)
		return;					/* s may be NULL */
	end = p + *len;
	while ((n = space_len(p, end)) > 0)
		p += n;
	while ((n = space_len_back(p, end)) > 0)
		end -= n;
	*s = p;
	*len = (size_t) (end - p);
}

bool
ap_is_blank(const char *s, size_t len)
{
	ap_trim(&s, &len);
	return len == 0;
}

size_t
ap_email_key(const char *s, size_t len, char *out, size_t outsz)
{
	size_t		i;

	ap_trim(&s, &len);
	if (len == 0 || len >= outsz)
	{
		if (outsz > 0)
			out[0] = '\0';
		return 0;
	}
	for (i = 0; i < len; i++)
		out[i] = (char) ascii_lower((unsigned char) s[i]);
	out[len] = '\0';
	return len;
}

/*
 * A range number whose form ap_parse_range has checked: the integer part
 * (digits, maybe grouping separators), the fraction digits, and where the
 * decimal point goes once a 'k' or 'm' suffix has moved it.  Digits are
 * numbered across both parts, integer first; digits past the written ones
 * are zeros ("1.2m" is 1, 2, then five zeros before the point).
 */
typedef struct num_form
{
	const char *int_end;		/* end of the integer part */
	const char *frac_p;			/* fraction digits, after the '.' */
	const char *frac_end;
	size_t		ndigits;		/* digits written, both parts */
	size_t		point;			/* digits before the point, after scaling */
	size_t		first_nz;		/* first non-zero digit, or (size_t) -1 */
	size_t		end_nz;			/* one past the last non-zero digit, or 0 */
} num_form;

static void
note_digit(num_form *f, char c)
{
	if (c != '0')
	{
		if (f->first_nz == (size_t) -1)
			f->first_nz = f->ndigits;
		f->end_nz = f->ndigits + 1;
	}
	f->ndigits++;
}

/*
 * Integer part: digits, either ungrouped or grouped in threes by one kind
 * of separator (',' or a single space), the first group holding 1 to 3
 * digits.  Returns false on bad grouping.
 */
static bool
scan_integer(const char **pp, const char *end, num_form *f)
{
	const char *p = *pp;
	char		sep = 0;
	int			group = 0;		/* digits since the last separator */

	for (; p < end; p++)
	{
		if (is_digit(*p))
		{
			note_digit(f, *p);
			group++;
		}
		else if (*p == ',' || *p == ' ')
		{
			if (sep == 0 ? (group < 1 || group > 3) : (*p != sep || group != 3))
				return false;
			sep = *p;
			group = 0;
		}
		else
			break;
	}
	*pp = p;
	f->int_end = p;
	return sep == 0 || group == 3;
}

/* Powers of ten of the price suffixes: "850k", "1.2M". */
static size_t
suffix_shift(char c)
{
	if (c == 'k' || c == 'K')
		return 3;
	if (c == 'm' || c == 'M')
		return 6;
	return 0;
}

/* Digit i of the number, read in order from *p onwards (see num_form). */
static char
next_digit(const num_form *f, const char **p)
{
	while (*p < f->int_end && !is_digit(**p))
		(*p)++;					/* a grouping separator */
	if (*p < f->int_end)
		return *(*p)++;
	if (*p < f->frac_p)
		*p = f->frac_p;			/* the '.' */
	if (*p < f->frac_end)
		return *(*p)++;
	return '0';
}

/*
 * Write the canonical form: the integer digits from the first non-zero
 * one ("0" when there is none), then '.' and the fraction digits up to
 * the last non-zero one, when there is one.
 */
static void
write_number(const num_form *f, const char *start, char *out)
{
	const char *p = start;
	size_t		n = 0;
	size_t		i;

	for (i = 0; i < f->point; i++)
	{
		char		d = next_digit(f, &p);

		if (i >= f->first_nz)
			out[n++] = d;
	}
	if (n == 0)
		out[n++] = '0';
	if (f->end_nz > f->point)
	{
		out[n++] = '.';
		for (; i < f->end_nz; i++)
			out[n++] = next_digit(f, &p);
	}
	out[n] = '\0';
}

ap_num_status
ap_parse_range(const char *s, size_t len, char *out, size_t outsz)
{
	const char *p;
	const char *end;
	const char *start;
	num_form	f;
	size_t		nint;
	size_t		outlen;
	bool		good;

	if (outsz > 0)
		out[0] = '\0';
	ap_trim(&s, &len);
	if (len == 0)
		return AP_NUM_EMPTY;
	p = s;
	end = s + len;
	if (*p == '$')
		p++;
	start = p;

	memset(&f, 0, sizeof(f));
	f.first_nz = (size_t) -1;
	good = scan_integer(&p, end, &f);
	nint = f.ndigits;
	f.frac_p = f.frac_end = p;
	if (good && p < end && *p == '.')
	{
		f.frac_p = ++p;
		while (p < end && is_digit(*p))
			note_digit(&f, *p++);
		f.frac_end = p;
		good = (p > f.frac_p);	/* "5." and "." are not numbers */
	}
	else if (nint == 0)
		good = false;			/* "$" or nothing but separators */
	f.point = nint;
	if (good && p < end && suffix_shift(*p) > 0)
		f.point += suffix_shift(*p++);
	if (!good || p != end)
		return AP_NUM_BAD;

	outlen = f.first_nz < f.point ? f.point - f.first_nz : 1;
	if (f.end_nz > f.point)
		outlen += 1 + (f.end_nz - f.point);
	if (outlen >= outsz)
		return AP_NUM_BAD;		/* keep one byte for the NUL */
	write_number(&f, start, out);
	return AP_NUM_OK;
}

/* Walk over the ';'-separated segments of a tag string. */
typedef struct seg_cursor
{
	const char *p;				/* start of the next segment */
	const char *end;
	bool		done;
} seg_cursor;

static void
seg_init(seg_cursor *c, const char *s, size_t len)
{
	c->p = s;
	c->end = len > 0 ? s + len : s;	/* s may be NULL when len is 0 */
	c->done = (len == 0);
}

/* Next segment, trimmed; false when the input is used up. */
static bool
next_segment(seg_cursor *c, const char **seg, size_t *seglen)
{
	const char *semi;

	if (c->done)
		return false;
	semi = memchr(c->p, ';', (size_t) (c->end - c->p));
	if (semi == NULL)
	{
		semi = c->end;
		c->done = true;
	}
	*seg = c->p;
	*seglen = (size_t) (semi - c->p);
	ap_trim(seg, seglen);
	if (!c->done)
		c->p = semi + 1;
	return true;
}

/* One non-blank segment: where it is in the input and how long. */
typedef struct tag_slot
{
	const char *p;
	size_t		len;
} tag_slot;

size_t
ap_tags_scratch_size(const char *s, size_t len)
{
	seg_cursor	c;
	const char *seg;
	size_t		seglen;
	size_t		n = 0;

	seg_init(&c, s, len);
	while (next_segment(&c, &seg, &seglen))
		if (seglen > 0)
			n++;
	return n * sizeof(tag_slot);
}

/*
 * Tags in an order where those equal ignoring ASCII case are neighbours:
 * length first, then case-folded bytes.  0 exactly when they are equal.
 */
static int
cmp_spelling(const tag_slot *a, const tag_slot *b)
{
	size_t		i;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	for (i = 0; i < a->len; i++)
	{
		unsigned char ca = ascii_lower((unsigned char) a->p[i]);
		unsigned char cb = ascii_lower((unsigned char) b->p[i]);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return 0;
}

/* Input order: every slot points into the same string. */
static int
cmp_position(const void *x, const void *y)
{
	const tag_slot *a = x;
	const tag_slot *b = y;

	return (a->p > b->p) - (a->p < b->p);
}

/* By spelling, then by position: each run of equals starts with the first. */
static int
cmp_spelling_position(const void *x, const void *y)
{
	int			r = cmp_spelling(x, y);

	return r != 0 ? r : cmp_position(x, y);
}

/*
 * Sort the tags by folded spelling, keep the first of each run of equal
 * ones, then put the kept ones back in input order: O(n log n) for n
 * tags, where comparing each tag with the earlier ones was quadratic (a
 * cell of 40,000 tags took seconds, and an import splits each cell more
 * than once).
 */
int
ap_tags_split(const char *s, size_t len, void *scratch, ap_tag_emit emit,
			  void *arg)
{
	tag_slot   *slots = scratch;
	seg_cursor	c;
	const char *seg;
	size_t		seglen;
	size_t		n = 0;
	size_t		kept = 0;
	size_t		i;

	seg_init(&c, s, len);
	while (next_segment(&c, &seg, &seglen))
	{
		if (seglen == 0)
			continue;
		slots[n].p = seg;
		slots[n].len = seglen;
		n++;
	}
	if (n == 0)
		return 0;

	qsort(slots, n, sizeof(tag_slot), cmp_spelling_position);
	for (i = 0; i < n; i++)
	{
		/* slots[kept - 1] is the first spelling of the current run */
		if (kept == 0 || cmp_spelling(&slots[kept - 1], &slots[i]) != 0)
			slots[kept++] = slots[i];
	}
	qsort(slots, kept, sizeof(tag_slot), cmp_position);

	for (i = 0; i < kept; i++)
		emit(slots[i].p, slots[i].len, arg);
	return (int) kept;
}

/*
 * Cursor over a trimmed value that yields ASCII-lower-cased bytes, with
 * each run of inner white space yielded as one ' '.
 */
typedef struct name_cursor
{
	const char *p;
	const char *end;
} name_cursor;

/* Next folded byte, or -1 at the end. */
static int
name_next(name_cursor *c)
{
	size_t		n = space_len(c->p, c->end);

	if (n > 0)
	{
		/* trimmed, so a white-space run always has text after it */
		while ((n = space_len(c->p, c->end)) > 0)
			c->p += n;
		return ' ';
	}
	if (c->p >= c->end)
		return -1;
	return ascii_lower((unsigned char) *c->p++);
}

bool
ap_names_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	name_cursor ca;
	name_cursor cb;
	int			x;
	int			y;

	ap_trim(&a, &alen);
	ap_trim(&b, &blen);
	if (alen == 0 || blen == 0)
		return alen == blen;	/* a or b may be NULL */
	ca.p = a;
	ca.end = a + alen;
	cb.p = b;
	cb.end = b + blen;
	do
	{
		x = name_next(&ca);
		y = name_next(&cb);
		if (x != y)
			return false;
	} while (x >= 0);
	return true;
}
