/*
 * csv_writer.c
 *	  Per-cell quoting and formula-neutralising decisions for CSV export.
 *
 * Plain C, no backend headers.
 */
#include "csv_writer.h"

#include <string.h>

bool
ap_csv_needs_quotes(const char *s, size_t len, char delimiter)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == delimiter || c == '"' || c == '\n' || c == '\r')
			return true;
	}
	return false;
}

/*
 * "+61 412 345 678", "+1 (415) 555-0100": a plus, then only digits and
 * phone punctuation, with at least eight digits.
 */
static bool
looks_like_phone(const char *s, size_t len)
{
	size_t		i;
	int			digits = 0;

	if (len < 2 || s[0] != '+')
		return false;
	for (i = 1; i < len; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
			digits++;
		else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.')
			return false;
	}
	return digits >= 8 && digits <= 15;
}

bool
ap_csv_formula_risky(const char *s, size_t len)
{
	if (len == 0)
		return false;
	switch (s[0])
	{
		case '=':
		case '-':
		case '@':
		case '\t':
		case '\r':
			return true;
		case '+':
			return !looks_like_phone(s, len);
		default:
			return false;
	}
}
