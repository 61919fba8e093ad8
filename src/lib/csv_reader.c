/*
 * csv_reader.c
 *	  Streaming CSV reader over libcsv 3.0.3 that reports physical line
 *	  numbers, detects the delimiter and skips a UTF-8 BOM.  See
 *	  csv_reader.h for the interface.
 *
 * The input is fed to libcsv one physical line at a time (a line ends at
 * CRLF, LF or CR), so the line being parsed is always known: a record's
 * last line is the line being fed when libcsv reports the end of the
 * record.  Its first line we track ourselves, from libcsv's documented
 * behaviour rather than its parser state (the members of struct
 * csv_parser are not its API): blank lines make no record (we do not set
 * CSV_REPALL_NL), blanks around fields are ignored, any other byte is
 * part of a record, and a record ends exactly when the record callback
 * runs.  So a record begins on the first line, fed while none is open,
 * that holds a byte other than a blank or a line end.  The fuzz target
 * (fuzz/fuzz_csv_reader.c) checks every line number against a model of
 * libcsv's state machine, so a libcsv that behaved otherwise would show.
 *
 * Only libcsv's public functions are used (csv.h): csv_get_buffer_size
 * and csv_set_blk_size make its buffer growth geometric.
 *
 * Plain C, no PostgreSQL headers: all memory goes through the caller's
 * realloc/free hooks and no static state is kept, so a callback that
 * longjmps leaves nothing inconsistent behind.
 */
#include <string.h>
#include <stdlib.h>
#include <csv.h>

#include "csv_reader.h"

#define AP_CSV_OPTIONS	(CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)
#define AP_INIT_BUF		4096
#define AP_INIT_FIELDS	64
#define AP_MIN_BLK		128

/* Everything one ap_csv_read call needs; lives on its stack. */
typedef struct ap_reader
{
	/* input */
	const unsigned char *end;	/* end of the input */
	const unsigned char *next_cr;	/* next '\r' at or after the line, or end */
	const unsigned char *next_lf;	/* next '\n' likewise */
	unsigned char delim;
	unsigned char blank_space;	/* ' ' is trimmed around fields */
	unsigned char blank_tab;	/* '\t' is trimmed around fields */

	/* allocation */
	void	   *(*realloc_fn) (void *ptr, size_t size);
	void		(*free_fn) (void *ptr);

	/* the record being collected: field bytes packed back to back */
	char	   *buf;
	size_t		buf_len;
	size_t		buf_cap;
	ap_csv_field *fields;
	int			nfields;
	int			fields_cap;

	/* lines and outcome */
	long		line;			/* physical line being fed */
	int			in_record;		/* a record has begun and not yet ended */
	long		first_line;		/* line the current record began on */
	long		records;
	ap_csv_status status;		/* set by callbacks: NOMEM or STOPPED */
	long		error_line;

	ap_csv_record_cb cb;
	void	   *cb_arg;
} ap_reader;

/*
 * Space test for tab-delimited input: only ' ' is a blank.  libcsv's
 * default also treats '\t' as a blank; 3.0.3 happens to test the
 * delimiter first, but we don't want to depend on that ordering.
 */
static int
space_only(unsigned char c)
{
	return c == ' ';
}

/* Is c trimmed around fields?  Mirrors libcsv's "is_space && !delim". */
static inline int
is_blank(const ap_reader *r, unsigned char c)
{
	return (c == ' ' && r->blank_space) || (c == '\t' && r->blank_tab);
}

/* Grow a block through the hooks to at least need bytes (doubling). */
static void *
grow(ap_reader *r, void *ptr, size_t *cap, size_t need, size_t elem)
{
	size_t		newcap = *cap;
	void	   *p;

	while (newcap < need)
	{
		if (newcap > ((size_t) -1) / 2 / elem)
			return NULL;
		newcap *= 2;
	}
	p = r->realloc_fn(ptr, newcap * elem);
	if (p != NULL)
		*cap = newcap;
	return p;
}

/* Make room for one more field of len bytes in the current record. */
static int
reserve_field(ap_reader *r, size_t len)
{
	if (r->nfields == r->fields_cap)
	{
		size_t		cap = (size_t) r->fields_cap;
		void	   *p;

		if (cap >= (size_t) (~0U >> 2))
			return 0;
		p = grow(r, r->fields, &cap, cap + 1, sizeof(ap_csv_field));
		if (p == NULL)
			return 0;
		r->fields = p;
		r->fields_cap = (int) cap;
	}
	if (len > r->buf_cap - r->buf_len)
	{
		void	   *p;

		if (len > ((size_t) -1) - r->buf_len)
			return 0;
		p = grow(r, r->buf, &r->buf_cap, r->buf_len + len, 1);
		if (p == NULL)
			return 0;
		r->buf = p;
	}
	return 1;
}

/* libcsv field callback: the bytes are only valid now, so copy them. */
static void
on_field(void *s, size_t len, void *arg)
{
	ap_reader  *r = arg;
	ap_csv_field *f;

	if (r->status != AP_CSV_OK)
		return;
	if (!reserve_field(r, len))
	{
		r->status = AP_CSV_NOMEM;
		r->error_line = r->line;
		return;
	}
	f = &r->fields[r->nfields];
	f->len = len;
	if (len > 0)
		memcpy(r->buf + r->buf_len, s, len);
	r->buf_len += len;
	r->nfields++;
}

/* libcsv record callback: point the fields into the buffer, hand over. */
static void
on_record(int c, void *arg)
{
	ap_reader  *r = arg;
	size_t		off = 0;
	int			i;

	(void) c;
	r->in_record = 0;
	if (r->status != AP_CSV_OK)
		return;

	/* data pointers are set only now: the buffer may have moved */
	for (i = 0; i < r->nfields; i++)
	{
		r->fields[i].data = r->buf + off;
		off += r->fields[i].len;
	}
	r->records++;
	if (r->cb != NULL &&
		r->cb(r->fields, r->nfields, r->first_line, r->line, r->cb_arg) != 0)
	{
		r->status = AP_CSV_STOPPED;
		r->error_line = r->line;
	}
	r->nfields = 0;
	r->buf_len = 0;
}

/* First of needle at or after from, or end when there is none. */
static const unsigned char *
find_byte(const unsigned char *from, const unsigned char *end, int needle)
{
	const unsigned char *p = memchr(from, needle, end - from);

	return p != NULL ? p : end;
}

/*
 * End (one past the terminator) of the physical line starting at pos.
 * The next CR and LF positions are cached so that a file using only one
 * kind of line end is not searched to its end for the other on each line.
 */
static const unsigned char *
line_end(ap_reader *r, const unsigned char *pos)
{
	const unsigned char *e;

	if (r->next_cr < pos)
		r->next_cr = find_byte(pos, r->end, '\r');
	if (r->next_lf < pos)
		r->next_lf = find_byte(pos, r->end, '\n');

	e = (r->next_cr < r->next_lf) ? r->next_cr : r->next_lf;
	if (e == r->end)
		return e;
	if (*e == '\r' && e + 1 < r->end && e[1] == '\n')
		return e + 2;
	return e + 1;
}

/*
 * libcsv grows its field buffer by a fixed block (128 bytes), which makes
 * a long field cost quadratic copying.  Before feeding a chunk, set the
 * block to at least the buffer's size, so growth is geometric, and to at
 * least the chunk plus two bytes (libcsv grows while one byte is still
 * free, and keeps one for the NUL of CSV_APPEND_NULL), so the chunk needs
 * at most one growth whatever the buffer holds already.
 */
static void
size_libcsv_block(struct csv_parser *p, size_t chunk)
{
	size_t		add = csv_get_buffer_size(p);

	if (add < chunk + 2)
		add = chunk + 2;
	if (add < AP_MIN_BLK)
		add = AP_MIN_BLK;
	csv_set_blk_size(p, add);
}

/*
 * Does this line begin a record, when none is open?  libcsv skips blanks
 * and line ends between records; any other byte begins one.
 */
static int
begins_record(const ap_reader *r, const unsigned char *pos,
			  const unsigned char *e)
{
	for (; pos < e; pos++)
	{
		if (!is_blank(r, *pos) && *pos != '\r' && *pos != '\n')
			return 1;
	}
	return 0;
}

/* Map a libcsv error status to ours. */
static ap_csv_status
libcsv_status(int err, ap_csv_status eparse)
{
	return err == CSV_EPARSE ? eparse : AP_CSV_NOMEM;
}

/* Feed the input line by line, then finish; sets r->status/error_line. */
static void
parse_lines(ap_reader *r, struct csv_parser *p, const unsigned char *pos)
{
	r->next_cr = find_byte(pos, r->end, '\r');
	r->next_lf = find_byte(pos, r->end, '\n');

	while (pos < r->end)
	{
		const unsigned char *e = line_end(r, pos);
		size_t		n = e - pos;

		r->line++;
		if (!r->in_record && begins_record(r, pos, e))
		{
			r->in_record = 1;
			r->first_line = r->line;
		}
		size_libcsv_block(p, n);
		if (csv_parse(p, pos, n, on_field, on_record, r) != n &&
			r->status == AP_CSV_OK)
		{
			r->status = libcsv_status(csv_error(p), AP_CSV_BAD_QUOTE);
			r->error_line = r->line;
		}
		if (r->status != AP_CSV_OK)
			return;
		pos = e;
	}

	/*
	 * An unterminated quoted field is reported at the line its record
	 * began on: that is where a reader has to look for the stray quote.
	 */
	if (csv_fini(p, on_field, on_record, r) != 0 && r->status == AP_CSV_OK)
	{
		r->status = libcsv_status(csv_error(p), AP_CSV_UNTERMINATED_QUOTE);
		r->error_line = r->first_line;
	}
}

/* Set up libcsv with our delimiter, blanks and allocator hooks. */
static void
init_libcsv(struct csv_parser *p, const ap_reader *r)
{
	csv_init(p, AP_CSV_OPTIONS);
	csv_set_delim(p, r->delim);
	if (r->delim == '\t')
		csv_set_space_func(p, space_only);
	csv_set_realloc_func(p, r->realloc_fn);
	csv_set_free_func(p, r->free_fn);
}

/* Default allocator hooks, used unless both hooks are given. */
static void *
default_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size);
}

static void
default_free(void *ptr)
{
	free(ptr);
}

static void
release(ap_reader *r)
{
	if (r->buf != NULL)
		r->free_fn(r->buf);
	if (r->fields != NULL)
		r->free_fn(r->fields);
	r->buf = NULL;
	r->fields = NULL;
}

/* Length of a UTF-8 BOM at the start of data, or 0. */
static size_t
bom_length(const char *data, size_t len)
{
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		return 3;
	return 0;
}

ap_csv_status
ap_csv_read(const char *data, size_t len, const ap_csv_options *opts,
			ap_csv_record_cb cb, void *arg, ap_csv_result *result)
{
	ap_csv_result local;
	ap_reader	r;
	struct csv_parser p;
	size_t		bom;

	if (result == NULL)
		result = &local;
	if (data == NULL)
		len = 0;
	memset(result, 0, sizeof(*result));
	memset(&r, 0, sizeof(r));

	bom = bom_length(data, len);
	result->had_bom = (bom > 0);
	if (opts != NULL && opts->delimiter != 0)
		r.delim = (unsigned char) opts->delimiter;
	else
		r.delim = (unsigned char) ap_csv_detect_delimiter(data, len);
	result->delimiter = (char) r.delim;
	r.blank_space = (r.delim != ' ');
	r.blank_tab = (r.delim != '\t');

	/* hooks go as a pair: never free one allocator's memory with another */
	if (opts != NULL && opts->realloc_fn != NULL && opts->free_fn != NULL)
	{
		r.realloc_fn = opts->realloc_fn;
		r.free_fn = opts->free_fn;
	}
	else
	{
		r.realloc_fn = default_realloc;
		r.free_fn = default_free;
	}
	r.cb = cb;
	r.cb_arg = arg;

	if (len > bom)
	{
		r.end = (const unsigned char *) data + len;
		r.buf_cap = AP_INIT_BUF;
		r.fields_cap = AP_INIT_FIELDS;
		r.buf = r.realloc_fn(NULL, r.buf_cap);
		if (r.buf != NULL)
			r.fields = r.realloc_fn(NULL, r.fields_cap * sizeof(ap_csv_field));
		if (r.fields == NULL)
		{
			r.status = AP_CSV_NOMEM;
			r.error_line = 1;
		}
		else
		{
			init_libcsv(&p, &r);
			parse_lines(&r, &p, (const unsigned char *) data + bom);
			csv_free(&p);
		}
		release(&r);
	}

	result->records = r.records;
	result->status = r.status;
	result->line = r.error_line;
	if (r.status == AP_CSV_OK && r.records == 0)
		result->status = AP_CSV_EMPTY;
	return result->status;
}

char
ap_csv_detect_delimiter(const char *data, size_t len)
{
	const unsigned char *s;
	const unsigned char *end;
	long		commas = 0;
	long		semis = 0;
	long		tabs = 0;
	int			in_quotes = 0;

	if (data == NULL)
		return ',';
	s = (const unsigned char *) data + bom_length(data, len);
	end = (const unsigned char *) data + len;

	/* a doubled quote toggles twice, so it needs no special case */
	for (; s < end; s++)
	{
		unsigned char c = *s;

		if (c == '"')
			in_quotes = !in_quotes;
		else if (in_quotes)
			continue;
		else if (c == '\n' || c == '\r')
			break;
		else if (c == ',')
			commas++;
		else if (c == ';')
			semis++;
		else if (c == '\t')
			tabs++;
	}

	if (semis > commas && semis > tabs)
		return ';';
	if (tabs > commas && tabs > semis)
		return '\t';
	return ',';
}

const char *
ap_csv_status_text(ap_csv_status status)
{
	switch (status)
	{
		case AP_CSV_OK:
			return "success";
		case AP_CSV_EMPTY:
			return "no records in input";
		case AP_CSV_UNTERMINATED_QUOTE:
			return "unterminated quoted field";
		case AP_CSV_BAD_QUOTE:
			return "misplaced quote";
		case AP_CSV_NOMEM:
			return "out of memory";
		case AP_CSV_STOPPED:
			return "stopped by callback";
	}
	return "unknown status";
}
