/*
 * activepipe.c
 *	  Module entry point: settings (GUCs), and the small SQL functions that
 *	  expose the contract and the match-key normalisers.
 */
#include "activepipe.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "normalize.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			ap_export_cap = 5000;
bool		ap_stamp_exports = true;
static char *ap_default_region_code = NULL;

static bool
check_region(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || ap_phone_region_find(*newval) != NULL)
		return true;
	GUC_check_errdetail("Unknown phone region \"%s\".", *newval);
	GUC_check_errhint("Use an ISO 3166 code such as AU, NZ, GB or US.");
	return false;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("activepipe.export_cap",
							"Most contacts one ActivePipe export may hold.",
							"Exports of more distinct contacts are refused.",
							&ap_export_cap,
							5000, 0, 10000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("activepipe.stamp_exports",
							 "Whether exports set last_exported_at (benchmarking only).",
							 "Off measures CSV generation alone; it breaks the export contract, so only superusers may turn it off.",
							 &ap_stamp_exports,
							 true,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("activepipe.default_region",
							   "Region whose trunk prefix and calling code apply to phone numbers written without one.",
							   NULL,
							   &ap_default_region_code,
							   "AU",
							   PGC_USERSET, 0,
							   check_region, NULL, NULL);
	MarkGUCPrefixReserved("activepipe");
}

const ap_phone_region *
ap_default_region(void)
{
	const ap_phone_region *r = NULL;

	if (ap_default_region_code)
		r = ap_phone_region_find(ap_default_region_code);
	return r ? r : ap_phone_region_find("AU");
}

static const char *
kind_name(ap_field_kind kind)
{
	switch (kind)
	{
		case AP_KIND_IDENTITY:
			return "identity";
		case AP_KIND_TEXT:
			return "text";
		case AP_KIND_RANGE:
			return "range";
		case AP_KIND_TAGS:
			return "tags";
	}
	return "unknown";
}

PG_FUNCTION_INFO_V1(activepipe_contract);
Datum
activepipe_contract(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			f;

	InitMaterializedSRF(fcinfo, 0);
	for (f = 0; f < AP_NFIELDS; f++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(f + 1);
		values[1] = CStringGetTextDatum(ap_contract[f].name);
		values[2] = CStringGetTextDatum(kind_name(ap_contract[f].kind));
		if (ap_contract[f].default_column)
			values[3] = CStringGetTextDatum(ap_contract[f].default_column);
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(activepipe_phone_key);
Datum
activepipe_phone_key(PG_FUNCTION_ARGS)
{
	text	   *phone;
	const ap_phone_region *region = ap_default_region();
	char		key[AP_PHONE_KEY_SIZE];
	size_t		n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	phone = PG_GETARG_TEXT_PP(0);
	if (!PG_ARGISNULL(1))
	{
		char	   *code = text_to_cstring(PG_GETARG_TEXT_PP(1));

		region = ap_phone_region_find(code);
		if (region == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown phone region \"%s\"", code),
					 errhint("Use an ISO 3166 code such as AU, NZ, GB or US.")));
	}
	n = ap_phone_key(VARDATA_ANY(phone), VARSIZE_ANY_EXHDR(phone), region, key);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(key, n));
}

PG_FUNCTION_INFO_V1(activepipe_email_key);
Datum
activepipe_email_key(PG_FUNCTION_ARGS)
{
	text	   *email = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(email);
	char	   *key = palloc(len + 1);
	size_t		n;

	n = ap_email_key(VARDATA_ANY(email), len, key, len + 1);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(key, n));
}
