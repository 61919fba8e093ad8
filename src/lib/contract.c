/*
 * contract.c
 *	  The ActivePipe CSV contract table and header-name lookup.
 *
 * Plain C, no backend headers: unit-tested and fuzzed outside the server.
 */
#include "contract.h"

#include <string.h>

/* name, its length, kind, reference-schema column */
#define F(name, kind, column) {name, sizeof(name) - 1, kind, column}

const ap_field ap_contract[AP_NFIELDS] = {
	F("firstname", AP_KIND_IDENTITY, "first_name"),
	F("lastname", AP_KIND_IDENTITY, "last_name"),
	F("email", AP_KIND_IDENTITY, "email"),
	F("phone", AP_KIND_IDENTITY, "phone"),
	F("mobile", AP_KIND_IDENTITY, "mobile"),
	F("streetaddress", AP_KIND_IDENTITY, "street_address"),
	F("city", AP_KIND_IDENTITY, "city"),
	F("state", AP_KIND_IDENTITY, "state"),
	F("postcode", AP_KIND_IDENTITY, "postcode"),
	F("country", AP_KIND_IDENTITY, "country"),
	F("status", AP_KIND_TEXT, NULL),
	F("sms_status", AP_KIND_TEXT, NULL),
	F("subscribed_at", AP_KIND_TEXT, NULL),
	F("unsubscribed_at", AP_KIND_TEXT, NULL),
	F("unsubscribed_reason", AP_KIND_TEXT, NULL),
	F("source", AP_KIND_TEXT, NULL),
	F("modified_at", AP_KIND_TEXT, NULL),
	F("latest_interaction", AP_KIND_TEXT, NULL),
	F("buyertype", AP_KIND_TEXT, NULL),
	F("locations", AP_KIND_TEXT, NULL),
	F("propertytype", AP_KIND_TEXT, NULL),
	F("category", AP_KIND_TEXT, NULL),
	F("minbeds", AP_KIND_RANGE, NULL),
	F("maxbeds", AP_KIND_RANGE, NULL),
	F("minbaths", AP_KIND_RANGE, NULL),
	F("maxbaths", AP_KIND_RANGE, NULL),
	F("minprice", AP_KIND_RANGE, NULL),
	F("maxprice", AP_KIND_RANGE, NULL),
	F("minparking", AP_KIND_RANGE, NULL),
	F("maxparking", AP_KIND_RANGE, NULL),
	F("minlandsize", AP_KIND_RANGE, NULL),
	F("maxlandsize", AP_KIND_RANGE, NULL),
	F("minbuildingsize", AP_KIND_RANGE, NULL),
	F("maxbuildingsize", AP_KIND_RANGE, NULL),
	F("listingtype", AP_KIND_TEXT, NULL),
	F("tags", AP_KIND_TAGS, NULL),
};

int
ap_field_index(const char *name, size_t len)
{
	int			i;

	for (i = 0; i < AP_NFIELDS; i++)
	{
		if (ap_contract[i].name_len == len && name[0] == ap_contract[i].name[0] &&
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
