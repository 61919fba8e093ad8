/*
 * fuzz_encoding.c
 *	  libFuzzer target for src/lib/encoding.c: BOM detection, UTF-16 to
 *	  UTF-8 decoding and UTF-16 line counting, as the bytea import
 *	  overloads use them on raw uploads.
 *
 * Invariants: the decoder writes within AP_UTF16_MAX_OUT, its output is
 * well-formed UTF-8 (no surrogates, shortest forms), an error offset lies
 * inside the input, and line numbers never decrease with the offset.
 */
#include "fuzz_common.h"

#include <string.h>

#include "encoding.h"

/* Length of the well-formed UTF-8 sequence at p, or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t		n,
				i;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0)
		n = 2, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		n = 3, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t		bomlen;
	ap_bom		bom = ap_detect_bom(data, len, &bomlen);
	int			be;
	size_t		cap,
				bad = 0,
				i;
	long		n,
				prev = 1;
	unsigned char *out;

	FUZZ_CHECK(bomlen <= len && (bom == AP_BOM_NONE) == (bomlen == 0),
			   "bom %d bomlen %zu", (int) bom, bomlen);
	for (be = 0; be <= 1; be++)
	{
		cap = AP_UTF16_MAX_OUT(len);
		out = malloc(cap + 1);
		n = ap_utf16_to_utf8(data, len, be, out, &bad);
		if (n < 0)
			FUZZ_CHECK(bad < len, "error offset %zu of %zu", bad, len);
		else
		{
			FUZZ_CHECK((size_t) n <= cap, "wrote %ld of %zu", n, cap);
			for (i = 0; i < (size_t) n;)
			{
				size_t		k = utf8_seq(out + i, n - i);

				FUZZ_CHECK(k > 0, "bad UTF-8 at output byte %zu", i);
				i += k;
			}
		}
		free(out);
		for (i = 0; i <= len; i += 1 + len / 64)
		{
			long		line = ap_utf16_line_of(data, i, be);

			FUZZ_CHECK(line >= prev && line <= (long) (i / 2) + 1,
					   "line %ld at %zu after %ld", line, i, prev);
			prev = line;
		}
		prev = 1;
	}
	return 0;
}
