/*
 * csv_reader.h
 *	  Streaming RFC 4180 reader over libcsv that knows physical line
 *	  numbers, detects the delimiter and skips a UTF-8 BOM.
 *
 * Plain C with no PostgreSQL headers.  Memory comes from allocator hooks
 * so the backend can hand it palloc-based ones: the record callback may
 * then ereport (longjmp) without leaking what libcsv holds.
 */
#ifndef AP_CSV_READER_H
#define AP_CSV_READER_H

#include <stddef.h>

typedef struct ap_csv_field
{
	const char *data;			/* not NUL-terminated; valid during callback */
	size_t		len;
} ap_csv_field;

/*
 * Called once per record (blank physical lines are not records).
 * first_line/last_line are 1-based physical line numbers in the input,
 * counting a BOM-prefixed first line as line 1, and counting the lines a
 * quoted field spans.  Return 0 to go on, non-zero to stop the read
 * (ap_csv_read then returns AP_CSV_STOPPED).
 */
typedef int (*ap_csv_record_cb) (const ap_csv_field *fields, int nfields,
								 long first_line, long last_line, void *arg);

typedef enum ap_csv_status
{
	AP_CSV_OK = 0,
	AP_CSV_EMPTY,				/* no record at all (empty, BOM only, blank lines) */
	AP_CSV_UNTERMINATED_QUOTE,	/* a quoted field never closes */
	AP_CSV_BAD_QUOTE,			/* e.g. "abc"d : text after a closing quote */
	AP_CSV_NOMEM,
	AP_CSV_STOPPED				/* the callback asked to stop */
} ap_csv_status;

typedef struct ap_csv_options
{
	/* realloc(NULL, n) must allocate; NULL hooks mean malloc/realloc/free */
	void	   *(*realloc_fn) (void *ptr, size_t size);
	void		(*free_fn) (void *ptr);
	char		delimiter;		/* 0: detect from the header line */
} ap_csv_options;

typedef struct ap_csv_result
{
	ap_csv_status status;
	long		line;			/* physical line where an error was seen */
	char		delimiter;		/* the delimiter used */
	int			had_bom;
	long		records;		/* records delivered */
} ap_csv_result;

/*
 * Read the whole buffer, calling cb for each record.  Line ends may be
 * CRLF, LF or CR, mixed.  Fills *result and returns result->status.
 */
extern ap_csv_status ap_csv_read(const char *data, size_t len,
								 const ap_csv_options *opts,
								 ap_csv_record_cb cb, void *arg,
								 ap_csv_result *result);

/*
 * Delimiter of a file from its first line (after any BOM), counting
 * commas, semicolons and tabs outside quotes; the most frequent wins,
 * comma on a tie or when none appears.
 */
extern char ap_csv_detect_delimiter(const char *data, size_t len);

/* Human-readable text of a status, for error messages. */
extern const char *ap_csv_status_text(ap_csv_status status);

#endif							/* AP_CSV_READER_H */
