/*
 * events.c
 *	  The integration event log: one integration_events row per successful
 *	  export, import commit and undo, written in the caller's transaction so
 *	  a failed call leaves none.
 *
 * An event's id is drawn before anything is written (ap_event_id), so the
 * history an import keeps row by row can name its event as it goes.
 */
#include "activepipe.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

int64
ap_event_id(const ApBinding *b)
{
	bool		isnull;

	ap_spi_run(b, AP_Q_EVENT_ID, 0, NULL, NULL, NULL, false);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

void
ap_event_log(const ApBinding *b, int64 user_id, int64 event_id,
			 const char *event_type, text *filename,
			 const ApEventCounts *counts, Jsonb *summary)
{
	Oid			types[10] = {INT8OID, INT8OID, TEXTOID, TEXTOID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, JSONBOID};
	Datum		values[10];
	char		nulls[10];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(user_id);
	values[1] = Int64GetDatum(event_id);
	values[2] = CStringGetTextDatum(event_type);
	values[3] = PointerGetDatum(filename);
	if (filename == NULL)
		nulls[3] = 'n';
	values[4] = Int64GetDatum(counts->total_rows);
	values[5] = Int64GetDatum(counts->new_count);
	values[6] = Int64GetDatum(counts->updated_count);
	values[7] = Int64GetDatum(counts->conflict_count);
	values[8] = Int64GetDatum(counts->skipped_count);
	values[9] = JsonbPGetDatum(summary);
	ap_spi_run(b, AP_Q_EVENT_INSERT, 10, types, values, nulls, false);
}
