/*
 * encoding.c
 *	  BOM detection and UTF-16 to UTF-8 decoding for uploaded files.
 *
 * Plain C, no backend headers.
 */
#include "encoding.h"

ap_bom
ap_detect_bom(const unsigned char *data, size_t len, size_t *bomlen)
{
	*bomlen = 0;
	if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
	{
		*bomlen = 3;
		return AP_BOM_UTF8;
	}
	if (len >= 2 && data[0] == 0xFF && data[1] == 0xFE)
	{
		*bomlen = 2;
		return AP_BOM_UTF16LE;
	}
	if (len >= 2 && data[0] == 0xFE && data[1] == 0xFF)
	{
		*bomlen = 2;
		return AP_BOM_UTF16BE;
	}
	return AP_BOM_NONE;
}

static unsigned
unit_at(const unsigned char *p, int big_endian)
{
	return big_endian ? ((unsigned) p[0] << 8) | p[1] : ((unsigned) p[1] << 8) | p[0];
}

static size_t
put_utf8(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (unsigned char) (0xC0 | (cp >> 6));
		out[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (unsigned char) (0xE0 | (cp >> 12));
		out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char) (0xF0 | (cp >> 18));
	out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

long
ap_utf16_to_utf8(const unsigned char *data, size_t len, int big_endian,
				 unsigned char *out, size_t *bad_at)
{
	size_t		i = 0;
	size_t		o = 0;

	if (len % 2 != 0)
	{
		*bad_at = len - 1;
		return -1;
	}
	while (i < len)
	{
		unsigned long cp = unit_at(data + i, big_endian);

		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			unsigned	lo;

			if (i + 4 > len ||
				(lo = unit_at(data + i + 2, big_endian)) < 0xDC00 || lo > 0xDFFF)
			{
				*bad_at = i;
				return -1;
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i += 2;
		}
		else if (cp >= 0xDC00 && cp <= 0xDFFF)
		{
			*bad_at = i;
			return -1;
		}
		i += 2;
		o += put_utf8(cp, out + o);
	}
	return (long) o;
}

long
ap_utf16_line_of(const unsigned char *data, size_t pos, int big_endian)
{
	long		line = 1;
	size_t		i;

	for (i = 0; i + 1 < pos; i += 2)
	{
		unsigned	u = unit_at(data + i, big_endian);

		if (u == 0x0A)
			line++;
		else if (u == 0x0D &&
				 (i + 3 >= pos || unit_at(data + i + 2, big_endian) != 0x0A))
			line++;
	}
	return line;
}
