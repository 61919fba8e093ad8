/*
 * events.c
 *	  The integration event log: one integration_events row per successful
 *	  export and per import commit, written in the caller's transaction so
 *	  a failed call leaves none.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

int64
ap_event_log(const ApBinding *b, int64 user_id, const char *event_type,
			 text *filename, const ApEventCounts *counts, Jsonb *summary)
{
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, JSONBOID};
	Datum		values[9];
	char		nulls[9];
	bool		isnull;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(user_id);
	values[1] = CStringGetTextDatum(event_type);
	values[2] = PointerGetDatum(filename);
	if (filename == NULL)
		nulls[2] = 'n';
	values[3] = Int64GetDatum(counts->total_rows);
	values[4] = Int64GetDatum(counts->new_count);
	values[5] = Int64GetDatum(counts->updated_count);
	values[6] = Int64GetDatum(counts->conflict_count);
	values[7] = Int64GetDatum(counts->skipped_count);
	values[8] = JsonbPGetDatum(summary);
	ap_spi_run(b, AP_Q_EVENT_INSERT, 9, types, values, nulls, false);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}
