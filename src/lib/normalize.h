/*
 * normalize.h
 *	  Value normalisers shared by the card API, export and import: trimming,
 *	  email keys, range numbers, tags, and the name comparison that decides
 *	  import conflicts.
 *
 * Plain C with no PostgreSQL headers; no allocation: results go to buffers
 * the caller owns, or through a callback.
 */
#ifndef AP_NORMALIZE_H
#define AP_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Narrow *s and *len to drop leading and trailing white space: ASCII space,
 * tab, CR, LF, VT, FF, and UTF-8 NO-BREAK SPACE (C2 A0), which Excel and
 * web forms leave behind.
 */
extern void ap_trim(const char **s, size_t *len);

/* True when the value is empty after ap_trim. */
extern bool ap_is_blank(const char *s, size_t len);

/*
 * Email match key: trimmed, ASCII letters lower-cased, other bytes kept.
 * Writes at most outsz-1 bytes plus NUL; returns the key length, 0 when
 * the value is blank or does not fit (no key).
 */
extern size_t ap_email_key(const char *s, size_t len, char *out, size_t outsz);

typedef enum ap_num_status
{
	AP_NUM_EMPTY,				/* blank: the field is absent */
	AP_NUM_OK,					/* out holds a JSON number */
	AP_NUM_BAD					/* not a number we accept */
} ap_num_status;

/*
 * Range-field number.  Accepts, after trimming: an optional leading '$',
 * digits optionally grouped in threes by ',' or by single spaces
 * ("1,250,000", "1 250 000"), an optional '.' with decimals, and an
 * optional price suffix 'k'/'K' (thousands) or 'm'/'M' (millions) right
 * after the digits ("850k", "$1.2M").  Rejects signs, exponents,
 * NaN/Infinity, bad grouping ("1,2,3"), a space before the suffix, stray
 * text.  On AP_NUM_OK, out holds the canonical JSON number text (no
 * leading zeros, no trailing fractional zeros, no separators: "1250000",
 * "2.5", "0"; "$1.2m" gives "1200000").  AP_NUM_BAD also when the
 * canonical form would not fit outsz.  Callers keep a value that is
 * AP_NUM_BAD as text.
 */
extern ap_num_status ap_parse_range(const char *s, size_t len,
									char *out, size_t outsz);

/*
 * Split a semicolon-separated tag string: each tag trimmed, empty tags
 * dropped, later duplicates (equal ignoring ASCII case) dropped, first
 * spelling and order kept.  Calls emit once per kept tag, in input order,
 * with a pointer into s.  Returns the number of tags emitted.
 *
 * Duplicates are found by sorting, in O(n log n) for n tags, in scratch
 * memory the caller provides: ap_tags_scratch_size(s, len) bytes, aligned
 * for a pointer (malloc and palloc memory are), or NULL when that is 0.
 * The sorting is over before the first emit and nothing is held across
 * the calls, so emit may longjmp.
 */
typedef void (*ap_tag_emit) (const char *tag, size_t len, void *arg);
extern size_t ap_tags_scratch_size(const char *s, size_t len);
extern int	ap_tags_split(const char *s, size_t len, void *scratch,
						  ap_tag_emit emit, void *arg);

/*
 * Names (or emails) are "the same" for conflict detection when they are
 * equal after trimming, ASCII case-folding and collapsing runs of inner
 * white space to one space.
 */
extern bool ap_names_equal(const char *a, size_t alen,
						   const char *b, size_t blen);

#endif							/* AP_NORMALIZE_H */
