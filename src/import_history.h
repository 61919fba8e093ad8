/*
 * import_history.h
 *	  The kept report of an import commit (import_history.c): one row per
 *	  data row of the file in import_rows, written chunk by chunk, and one
 *	  row per contact the commit wrote in import_contacts, which is what an
 *	  undo (undo.c) puts back.
 */
#ifndef ACTIVEPIPE_IMPORT_HISTORY_H
#define ACTIVEPIPE_IMPORT_HISTORY_H

#include "import.h"

typedef struct ApHistory ApHistory;

/* The setting activepipe.keep_history (superuser; benchmarking only) */
extern bool ap_keep_history;

extern ApHistory *ap_history_begin(const ApTenant *t, int64 event_id,
								   Jsonb *header);
extern void ap_history_row(ApHistory *h, const ApOutcome *o, int64 contact_id,
						   bool has_contact, Jsonb *cells);
extern void ap_history_rows_flush(ApHistory *h);
extern void ap_history_contact(ApHistory *h, const ApTenant *t,
							   const ApContact *ct, Jsonb *after);
extern void ap_history_contacts_flush(ApHistory *h);

/*
 * The state of a contact that an undo compares: its bound identity
 * columns, exactly, and its payload.  vals[f] NULL is SQL NULL.
 */
extern int64 ap_contact_state_hash(const ApBinding *b, const char *const *vals,
								   const uint32 *lens, Jsonb *payload);

#endif							/* ACTIVEPIPE_IMPORT_HISTORY_H */
