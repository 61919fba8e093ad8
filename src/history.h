/*
 * history.h
 *	  What activepipe keeps of past calls, read back (history.c) and undone
 *	  (undo.c).
 */
#ifndef ACTIVEPIPE_HISTORY_H
#define ACTIVEPIPE_HISTORY_H

#include "activepipe.h"

/*
 * Columns of activepipe_import_report (and of activepipe_import_plan):
 * line, action, contact_id, matched_by, reason, changes, conflicts,
 * reason_code, field.
 */
#define AP_REPORT_NATTS 9

extern void ap_history_event(const ApBinding *b, int64 user_id, int64 event_id,
							 const char *kind, int64 *undone_by, Datum *pending);

#endif							/* ACTIVEPIPE_HISTORY_H */
