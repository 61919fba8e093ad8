/*
 * contract.h
 *	  The ActivePipe CSV contract: the 36 headers, in export order, and
 *	  what kind of value each carries.
 *
 * Plain C with no PostgreSQL headers, like all of src/lib, so that it
 * builds into the unit tests (test/unit/) and the fuzz targets (fuzz/) as
 * well as the extension.  The import parser, the exporter, the card API
 * and the unit tests all read this one list, so the contract lives in
 * exactly one place.
 */
#ifndef AP_CONTRACT_H
#define AP_CONTRACT_H

#include <stddef.h>

typedef enum ap_field_kind
{
	AP_KIND_IDENTITY,			/* from the contact, through the binding */
	AP_KIND_TEXT,				/* trimmed text in payload_json */
	AP_KIND_RANGE,				/* JSON number in payload_json */
	AP_KIND_TAGS				/* JSON array of strings in payload_json */
} ap_field_kind;

/* Field numbers, in contract (export) order. */
typedef enum ap_field_id
{
	AP_F_FIRSTNAME = 0,
	AP_F_LASTNAME,
	AP_F_EMAIL,
	AP_F_PHONE,
	AP_F_MOBILE,
	AP_F_STREETADDRESS,
	AP_F_CITY,
	AP_F_STATE,
	AP_F_POSTCODE,
	AP_F_COUNTRY,
	AP_F_STATUS,
	AP_F_SMS_STATUS,
	AP_F_SUBSCRIBED_AT,
	AP_F_UNSUBSCRIBED_AT,
	AP_F_UNSUBSCRIBED_REASON,
	AP_F_SOURCE,
	AP_F_MODIFIED_AT,
	AP_F_LATEST_INTERACTION,
	AP_F_BUYERTYPE,
	AP_F_LOCATIONS,
	AP_F_PROPERTYTYPE,
	AP_F_CATEGORY,
	AP_F_MINBEDS,
	AP_F_MAXBEDS,
	AP_F_MINBATHS,
	AP_F_MAXBATHS,
	AP_F_MINPRICE,
	AP_F_MAXPRICE,
	AP_F_MINPARKING,
	AP_F_MAXPARKING,
	AP_F_MINLANDSIZE,
	AP_F_MAXLANDSIZE,
	AP_F_MINBUILDINGSIZE,
	AP_F_MAXBUILDINGSIZE,
	AP_F_LISTINGTYPE,
	AP_F_TAGS,
	AP_NFIELDS
} ap_field_id;

#define AP_NIDENTITY 10			/* fields 0..9 are identity/address */

typedef struct ap_field
{
	const char *name;			/* ActivePipe header and payload key */
	size_t		name_len;		/* strlen(name), kept for hot paths */
	ap_field_kind kind;
	const char *default_column; /* reference-schema column, identity only */
} ap_field;

extern const ap_field ap_contract[AP_NFIELDS];

/* Index of an exact contract key, or -1. */
extern int	ap_field_index(const char *name, size_t len);

/*
 * Index of a CSV header as people write it: any case, surrounding blanks,
 * and spaces, underscores or hyphens inside ("First Name", "first_name",
 * "SMS-Status"), or -1 when it is not a contract header.
 */
extern int	ap_header_index(const char *raw, size_t len);

/* For a range field, the index of its partner (min <-> max), else -1. */
extern int	ap_range_partner(int field);

#endif							/* AP_CONTRACT_H */
