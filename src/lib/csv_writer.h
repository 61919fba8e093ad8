/*
 * csv_writer.h
 *	  Decisions the CSV exporter makes per cell: whether RFC 4180 needs
 *	  quotes, and whether a cell would run as a spreadsheet formula.
 *
 * Plain C with no PostgreSQL headers; the backend glue appends the bytes.
 */
#ifndef AP_CSV_WRITER_H
#define AP_CSV_WRITER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Quote only when needed, as COPY ... CSV does: the cell holds the
 * delimiter, a double quote, CR or LF.  (COPY also quotes an empty string
 * to tell it from NULL; the exporter never emits empty strings.)
 */
extern bool ap_csv_needs_quotes(const char *s, size_t len, char delimiter);

/*
 * True when a spreadsheet would evaluate the cell: it starts with '=',
 * '+', '-', '@', TAB or CR.  A well-formed phone number ("+61 412 345
 * 678", "-" never starts one) is left alone so it stays usable.
 */
extern bool ap_csv_formula_risky(const char *s, size_t len);

#endif							/* AP_CSV_WRITER_H */
