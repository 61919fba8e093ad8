/*
 * contract.c
 *	  The ActivePipe CSV contract table and header-name lookup.
 *
 * Plain C, no backend headers: unit-tested and fuzzed outside the server.
 */
#include "contract.h"

#include <string.h>

const ap_field ap_contract[AP_NFIELDS] = {
	{"firstname", AP_KIND_IDENTITY, "first_name"},
	{"lastname", AP_KIND_IDENTITY, "last_name"},
	{"email", AP_KIND_IDENTITY, "email"},
	{"phone", AP_KIND_IDENTITY, "phone"},
	{"mobile", AP_KIND_IDENTITY, "mobile"},
	{"streetaddress", AP_KIND_IDENTITY, "street_address"},
	{"city", AP_KIND_IDENTITY, "city"},
	{"state", AP_KIND_IDENTITY, "state"},
	{"postcode", AP_KIND_IDENTITY, "postcode"},
	{"country", AP_KIND_IDENTITY, "country"},
	{"status", AP_KIND_TEXT, NULL},
	{"sms_status", AP_KIND_TEXT, NULL},
	{"subscribed_at", AP_KIND_TEXT, NULL},
	{"unsubscribed_at", AP_KIND_TEXT, NULL},
	{"unsubscribed_reason", AP_KIND_TEXT, NULL},
	{"source", AP_KIND_TEXT, NULL},
	{"modified_at", AP_KIND_TEXT, NULL},
	{"latest_interaction", AP_KIND_TEXT, NULL},
	{"buyertype", AP_KIND_TEXT, NULL},
	{"locations", AP_KIND_TEXT, NULL},
	{"propertytype", AP_KIND_TEXT, NULL},
	{"category", AP_KIND_TEXT, NULL},
	{"minbeds", AP_KIND_RANGE, NULL},
	{"maxbeds", AP_KIND_RANGE, NULL},
	{"minbaths", AP_KIND_RANGE, NULL},
	{"maxbaths", AP_KIND_RANGE, NULL},
	{"minprice", AP_KIND_RANGE, NULL},
	{"maxprice", AP_KIND_RANGE, NULL},
	{"minparking", AP_KIND_RANGE, NULL},
	{"maxparking", AP_KIND_RANGE, NULL},
	{"minlandsize", AP_KIND_RANGE, NULL},
	{"maxlandsize", AP_KIND_RANGE, NULL},
	{"minbuildingsize", AP_KIND_RANGE, NULL},
	{"maxbuildingsize", AP_KIND_RANGE, NULL},
	{"listingtype", AP_KIND_TEXT, NULL},
	{"tags", AP_KIND_TAGS, NULL},
};

int
ap_field_index(const char *name, size_t len)
{
	int			i;

	for (i = 0; i < AP_NFIELDS; i++)
	{
		if (strlen(ap_contract[i].name) == len &&
			memcmp(ap_contract[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

/* Contract name with its underscores dropped, the form headers fold to. */
static int
folded_equals(const char *folded, size_t flen, const char *name)
{
	size_t		j = 0;

	for (; *name; name++)
	{
		if (*name == '_')
			continue;
		if (j >= flen || folded[j] != *name)
			return 0;
		j++;
	}
	return j == flen;
}

int
ap_header_index(const char *raw, size_t len)
{
	char		folded[64];
	size_t		flen = 0;
	size_t		i;
	int			f;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) raw[i];

		if (c == ' ' || c == '\t' || c == '_' || c == '-' ||
			c == '\r' || c == '\n')
			continue;
		if (flen >= sizeof(folded))
			return -1;			/* longer than any contract header */
		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		folded[flen++] = (char) c;
	}
	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (folded_equals(folded, flen, ap_contract[f].name))
			return f;
	}
	return -1;
}

int
ap_range_partner(int field)
{
	if (field < AP_F_MINBEDS || field > AP_F_MAXBUILDINGSIZE)
		return -1;
	/* min/max pairs alternate, min first */
	return ((field - AP_F_MINBEDS) % 2 == 0) ? field + 1 : field - 1;
}
