/*
 * fuzz_csv_reader.c
 *	  libFuzzer target for ap_csv_read / ap_csv_detect_delimiter
 *	  (src/lib/csv_reader.c).
 *
 * The input is a whole CSV file.  Each run reads it several ways and
 * checks every record against a reference: a byte-at-a-time model of
 * libcsv 3.0.3's strict state machine (the options csv_reader.c uses)
 * that also counts physical lines the way csv_reader.h documents them.
 * Any difference in fields, first/last line, record count, status or
 * error line abort()s.  Generic invariants are checked too:
 * line numbers strictly increase from record to record, first_line <=
 * last_line <= the number of physical lines, every field byte is readable
 * and a field is never longer than the input.
 *
 * Ways of reading, per input:
 *	 A. detected delimiter, default allocator (opts NULL, or opts holding
 *		only a realloc hook, which must be ignored: hooks go as a pair);
 *	 B. an explicit delimiter, with hooks that move every block on realloc
 *		and scribble over the old one, and must end with nothing live;
 *	 C. the same hooks failing every allocation after the first few:
 *		AP_CSV_NOMEM, no leak, and the records before it still right;
 *	 D. the callback stopping the read at record k: AP_CSV_STOPPED.
 */
#include <string.h>

#include "csv_reader.h"
#include "fuzz_common.h"

/* ---------------------------------------------------------------------
 * Reference model
 * --------------------------------------------------------------------- */

enum
{
	M_ROW_NOT_BEGUN,
	M_FIELD_NOT_BEGUN,
	M_FIELD_BEGUN,
	M_FIELD_MIGHT_HAVE_ENDED
};

typedef struct ref_field
{
	size_t		off;			/* into ref.content */
	size_t		len;
} ref_field;

typedef struct ref_record
{
	size_t		field0;			/* index of its first field in ref.fields */
	int			nfields;
	long		first_line;
	long		last_line;
} ref_record;

typedef struct ref_result
{
	ap_csv_status status;		/* OK (records > 0), EMPTY, or a quote error */
	long		error_line;
	long		nlines;			/* physical lines after the BOM */
	int			had_bom;

	char	   *content;		/* field bytes, back to back */
	size_t		content_len;
	ref_field  *fields;
	size_t		nfields;
	ref_record *records;
	long		nrecords;

	/* model state */
	char	   *entry;			/* the field being built (libcsv entry_buf) */
	size_t		entry_pos;
	size_t		spaces;
	int			quoted;
	int			pstate;
	long		line;
	long		first_line;
	size_t		rec_field0;
} ref_result;

static int
ref_is_space(unsigned char c, unsigned char delim)
{
	/* csv_reader.c installs a ' '-only space test for tab-delimited input */
	if (delim == '\t')
		return c == ' ';
	return c == ' ' || c == '\t';
}

static void
ref_submit_field(ref_result *m)
{
	ref_field  *f = &m->fields[m->nfields++];

	if (!m->quoted)
		m->entry_pos -= m->spaces;
	f->off = m->content_len;
	f->len = m->entry_pos;
	memcpy(m->content + m->content_len, m->entry, m->entry_pos);
	m->content_len += m->entry_pos;
	m->pstate = M_FIELD_NOT_BEGUN;
	m->entry_pos = 0;
	m->quoted = 0;
	m->spaces = 0;
}

static void
ref_submit_row(ref_result *m)
{
	ref_record *r = &m->records[m->nrecords++];

	r->field0 = m->rec_field0;
	r->nfields = (int) (m->nfields - m->rec_field0);
	r->first_line = m->first_line;
	r->last_line = m->line;
	m->rec_field0 = m->nfields;
	m->pstate = M_ROW_NOT_BEGUN;
	m->entry_pos = 0;
	m->quoted = 0;
	m->spaces = 0;
}

static void
ref_free(ref_result *m)
{
	free(m->content);
	free(m->fields);
	free(m->records);
	free(m->entry);
	memset(m, 0, sizeof(*m));
}

/* Run the model over the whole input with the given delimiter. */
static void
ref_parse(const unsigned char *data, size_t len, unsigned char delim,
		  ref_result *m)
{
	size_t		bom = 0;
	size_t		i;
	int			at_line_start = 1;

	memset(m, 0, sizeof(*m));
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		bom = 3;
	m->had_bom = (bom > 0);
	/* each byte starts at most one field and one record, fini one more */
	m->content = malloc(len + 1);
	m->entry = malloc(len + 1);
	m->fields = malloc((len + 2) * sizeof(ref_field));
	m->records = malloc((len + 2) * sizeof(ref_record));
	if (!m->content || !m->entry || !m->fields || !m->records)
		abort();
	m->pstate = M_ROW_NOT_BEGUN;
	m->status = AP_CSV_OK;

	for (i = bom; i < len; i++)
	{
		unsigned char c = data[i];
		int			term = (c == '\r' || c == '\n');

		if (at_line_start)
		{
			m->line++;
			if (m->pstate == M_ROW_NOT_BEGUN)
				m->first_line = m->line;
			at_line_start = 0;
		}
		/* a line ends at LF, or at a CR not followed by LF */
		if (c == '\n' || (c == '\r' && (i + 1 == len || data[i + 1] != '\n')))
			at_line_start = 1;

		switch (m->pstate)
		{
			case M_ROW_NOT_BEGUN:
			case M_FIELD_NOT_BEGUN:
				if (ref_is_space(c, delim) && c != delim)
					continue;
				else if (term)
				{
					if (m->pstate == M_FIELD_NOT_BEGUN)
					{
						ref_submit_field(m);
						ref_submit_row(m);
					}
					continue;
				}
				else if (c == delim)
					ref_submit_field(m);
				else if (c == '"')
				{
					m->pstate = M_FIELD_BEGUN;
					m->quoted = 1;
				}
				else
				{
					m->pstate = M_FIELD_BEGUN;
					m->quoted = 0;
					m->entry[m->entry_pos++] = (char) c;
				}
				break;
			case M_FIELD_BEGUN:
				if (c == '"')
				{
					if (m->quoted)
					{
						m->entry[m->entry_pos++] = (char) c;
						m->pstate = M_FIELD_MIGHT_HAVE_ENDED;
					}
					else
						goto parse_error;	/* quote inside an unquoted field */
				}
				else if (c == delim)
				{
					if (m->quoted)
						m->entry[m->entry_pos++] = (char) c;
					else
						ref_submit_field(m);
				}
				else if (term)
				{
					if (!m->quoted)
					{
						ref_submit_field(m);
						ref_submit_row(m);
					}
					else
						m->entry[m->entry_pos++] = (char) c;
				}
				else if (!m->quoted && ref_is_space(c, delim))
				{
					m->entry[m->entry_pos++] = (char) c;
					m->spaces++;
				}
				else
				{
					m->entry[m->entry_pos++] = (char) c;
					m->spaces = 0;
				}
				break;
			case M_FIELD_MIGHT_HAVE_ENDED:
				if (c == delim)
				{
					m->entry_pos -= m->spaces + 1;
					ref_submit_field(m);
				}
				else if (term)
				{
					m->entry_pos -= m->spaces + 1;
					ref_submit_field(m);
					ref_submit_row(m);
				}
				else if (ref_is_space(c, delim))
				{
					m->entry[m->entry_pos++] = (char) c;
					m->spaces++;
				}
				else if (c == '"')
				{
					if (m->spaces)
						goto parse_error;	/* "abc" "  */
					m->pstate = M_FIELD_BEGUN;	/* a doubled quote */
				}
				else
					goto parse_error;	/* "abc"d */
				break;
		}
	}
	m->nlines = m->line;

	/* csv_fini */
	if (m->pstate == M_FIELD_BEGUN && m->quoted)
	{
		m->status = AP_CSV_UNTERMINATED_QUOTE;
		m->error_line = m->first_line;
		return;
	}
	switch (m->pstate)
	{
		case M_FIELD_MIGHT_HAVE_ENDED:
			m->entry_pos -= m->spaces + 1;
			/* FALLTHROUGH */
		case M_FIELD_NOT_BEGUN:
		case M_FIELD_BEGUN:
			ref_submit_field(m);
			ref_submit_row(m);
			break;
	}
	if (m->nrecords == 0)
		m->status = AP_CSV_EMPTY;
	return;

parse_error:
	m->status = AP_CSV_BAD_QUOTE;
	m->error_line = m->line;
	/* physical lines of the whole input, for the bounds checks */
	for (i++; i < len; i++)
	{
		if (at_line_start)
		{
			m->line++;
			at_line_start = 0;
		}
		if (data[i] == '\n' ||
			(data[i] == '\r' && (i + 1 == len || data[i + 1] != '\n')))
			at_line_start = 1;
	}
	m->nlines = m->line;
}

/* Independent delimiter detection, per csv_reader.h. */
static char
ref_detect(const unsigned char *data, size_t len)
{
	size_t		i = (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
	long		n[3] = {0, 0, 0};	/* , ; TAB */
	int			inq = 0;

	for (; i < len; i++)
	{
		unsigned char c = data[i];

		if (c == '"')
			inq = !inq;
		else if (inq)
			continue;
		else if (c == '\r' || c == '\n')
			break;
		else if (c == ',')
			n[0]++;
		else if (c == ';')
			n[1]++;
		else if (c == '\t')
			n[2]++;
	}
	if (n[1] > n[0] && n[1] > n[2])
		return ';';
	if (n[2] > n[0] && n[2] > n[1])
		return '\t';
	return ',';
}

/* ---------------------------------------------------------------------
 * Allocator hooks: every block moves on realloc, the old one is
 * scribbled over before it is freed, and live blocks are counted.
 * --------------------------------------------------------------------- */

typedef struct hook_state
{
	long		live;			/* blocks handed out and not freed */
	long		calls;			/* realloc calls so far */
	long		fail_after;		/* calls beyond this fail; < 0: never */
	int			failed;			/* a call has failed */
} hook_state;

static hook_state hooks;

typedef struct block_head
{
	size_t		size;
	size_t		magic;
} block_head;

#define BLOCK_MAGIC ((size_t) 0x61704655u)

static void *
hook_realloc(void *ptr, size_t size)
{
	block_head *old = ptr ? (block_head *) ptr - 1 : NULL;
	block_head *nb;

	hooks.calls++;
	if (hooks.fail_after >= 0 && hooks.calls > hooks.fail_after)
	{
		hooks.failed = 1;
		return NULL;
	}
	if (old != NULL)
		FUZZ_CHECK(old->magic == BLOCK_MAGIC, "realloc of a block not ours");
	if (size > ((size_t) 1 << 31))
		return NULL;			/* way beyond what a 64 KB input needs */
	nb = malloc(sizeof(block_head) + (size ? size : 1));
	if (nb == NULL)
		return NULL;
	nb->size = size;
	nb->magic = BLOCK_MAGIC;
	if (old != NULL)
	{
		memcpy(nb + 1, old + 1, old->size < size ? old->size : size);
		memset(old + 1, 0xA5, old->size);
		old->magic = 0;
		free(old);
	}
	else
		hooks.live++;
	return nb + 1;
}

static void
hook_free(void *ptr)
{
	block_head *b;

	if (ptr == NULL)
		return;
	b = (block_head *) ptr - 1;
	FUZZ_CHECK(b->magic == BLOCK_MAGIC, "free of a block not ours");
	memset(b + 1, 0xA5, b->size);
	b->magic = 0;
	free(b);
	hooks.live--;
}

/* realloc hook given without a free hook: must never be called */
static void *
unpaired_realloc(void *ptr, size_t size)
{
	(void) ptr;
	(void) size;
	FUZZ_CHECK(0, "a realloc hook without a free hook was used");
	return NULL;
}

/* ---------------------------------------------------------------------
 * The record callback: compares with the model as records arrive.
 * --------------------------------------------------------------------- */

typedef struct run_state
{
	const ref_result *ref;
	size_t		input_len;
	long		seen;			/* records delivered */
	long		prev_last;		/* last_line of the previous record */
	long		stop_at;		/* return non-zero on this record; 0 never */
	const char *what;			/* which way of reading, for messages */
} run_state;

static int
on_record(const ap_csv_field *fields, int nfields, long first_line,
		  long last_line, void *arg)
{
	run_state  *st = arg;
	const ref_result *m = st->ref;
	const ref_record *want;
	size_t		total = 0;
	volatile unsigned char sink = 0;
	int			i;

	st->seen++;
	FUZZ_CHECK(st->seen <= m->nrecords, "%s: record %ld beyond the model's %ld",
			   st->what, st->seen, m->nrecords);
	want = &m->records[st->seen - 1];

	/* generic invariants */
	FUZZ_CHECK(nfields >= 1, "%s: record %ld has %d fields", st->what, st->seen, nfields);
	FUZZ_CHECK(first_line >= 1 && first_line <= last_line,
			   "%s: record %ld lines %ld..%ld", st->what, st->seen, first_line, last_line);
	FUZZ_CHECK(first_line > st->prev_last,
			   "%s: record %ld starts at line %ld, previous ended at %ld",
			   st->what, st->seen, first_line, st->prev_last);
	FUZZ_CHECK(last_line <= m->nlines, "%s: record %ld ends at line %ld of %ld",
			   st->what, st->seen, last_line, m->nlines);
	st->prev_last = last_line;
	for (i = 0; i < nfields; i++)
	{
		const ap_csv_field *f = &fields[i];

		FUZZ_CHECK(f->len <= st->input_len, "%s: field of %zu bytes in %zu of input",
				   st->what, f->len, st->input_len);
		FUZZ_CHECK(f->len == 0 || f->data != NULL, "%s: NULL data", st->what);
		for (size_t j = 0; j < f->len; j++)
			sink ^= (unsigned char) f->data[j];	/* ASan: all bytes readable */
		total += f->len;
	}
	(void) sink;
	FUZZ_CHECK(total <= st->input_len, "%s: %zu field bytes from %zu of input",
			   st->what, total, st->input_len);

	/* the model */
	FUZZ_CHECK(nfields == want->nfields, "%s: record %ld has %d fields, model %d",
			   st->what, st->seen, nfields, want->nfields);
	FUZZ_CHECK(first_line == want->first_line && last_line == want->last_line,
			   "%s: record %ld lines %ld..%ld, model %ld..%ld", st->what, st->seen,
			   first_line, last_line, want->first_line, want->last_line);
	for (i = 0; i < nfields; i++)
	{
		const ap_csv_field *f = &fields[i];
		const ref_field *w = &m->fields[want->field0 + i];

		FUZZ_CHECK(f->len == w->len && memcmp(f->data, m->content + w->off, w->len) == 0,
				   "%s: record %ld field %d is '%.*s', model '%.*s'", st->what, st->seen,
				   i, (int) f->len, f->data, (int) w->len, m->content + w->off);
	}
	return (st->stop_at > 0 && st->seen == st->stop_at) ? 1 : 0;
}

/* Status and result checks after a read that ran to its end. */
static void
check_result(const char *what, const ap_csv_result *res, ap_csv_status ret,
			 const ref_result *m, const run_state *st, char delim)
{
	FUZZ_CHECK(ret == res->status, "%s: returned %d, result says %d", what, ret, res->status);
	FUZZ_CHECK(res->delimiter == delim, "%s: delimiter %d, want %d", what,
			   res->delimiter, delim);
	FUZZ_CHECK(res->had_bom == m->had_bom, "%s: had_bom %d, want %d", what,
			   res->had_bom, m->had_bom);
	FUZZ_CHECK(res->records == st->seen, "%s: records %ld, callback saw %ld", what,
			   res->records, st->seen);
	FUZZ_CHECK(res->status == m->status, "%s: status %d (%s), model %d (%s)", what,
			   res->status, ap_csv_status_text(res->status),
			   m->status, ap_csv_status_text(m->status));
	if (m->status == AP_CSV_OK || m->status == AP_CSV_EMPTY)
		FUZZ_CHECK(res->records == m->nrecords, "%s: %ld records, model %ld", what,
				   res->records, m->nrecords);
	else
		FUZZ_CHECK(res->line == m->error_line, "%s: error at line %ld, model %ld",
				   what, res->line, m->error_line);
	if (res->status == AP_CSV_OK || res->status == AP_CSV_EMPTY)
		FUZZ_CHECK((res->status == AP_CSV_OK) == (res->records > 0),
				   "%s: status %d with %ld records", what, res->status, res->records);
	else
		FUZZ_CHECK(res->line >= 1 && res->line <= m->nlines,
				   "%s: error line %ld of %ld", what, res->line, m->nlines);
	FUZZ_CHECK(ap_csv_status_text(res->status) != NULL, "%s: no status text", what);
}

static const char delimiters[] = {',', ';', '\t', '|', ' ', ':'};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	uint32_t	h = fuzz_hash(data, size);
	char		detected;
	char		delim;
	ref_result	m_detect;
	ref_result	m_explicit;
	ref_result *m;
	ap_csv_options opts;
	ap_csv_result res;
	ap_csv_status ret;
	run_state	st;

	/* delimiter detection */
	detected = ap_csv_detect_delimiter(text, size);
	FUZZ_CHECK(detected == ref_detect(data, size), "detected %d, model %d",
			   detected, ref_detect(data, size));

	/* A. detected delimiter, default allocator */
	ref_parse(data, size, (unsigned char) detected, &m_detect);
	memset(&st, 0, sizeof(st));
	st.ref = &m_detect;
	st.input_len = size;
	st.what = "A/detect";
	memset(&opts, 0, sizeof(opts));
	opts.realloc_fn = unpaired_realloc;	/* without free_fn: ignored */
	ret = ap_csv_read(text, size, (h & 1) ? &opts : NULL, on_record, &st, &res);
	check_result(st.what, &res, ret, &m_detect, &st, detected);

	/* B. explicit delimiter, moving hooks */
	delim = delimiters[(h >> 1) % sizeof(delimiters)];
	if (delim == detected)
		m = &m_detect;
	else
	{
		ref_parse(data, size, (unsigned char) delim, &m_explicit);
		m = &m_explicit;
	}
	memset(&hooks, 0, sizeof(hooks));
	hooks.fail_after = -1;
	memset(&opts, 0, sizeof(opts));
	opts.realloc_fn = hook_realloc;
	opts.free_fn = hook_free;
	opts.delimiter = delim;
	memset(&st, 0, sizeof(st));
	st.ref = m;
	st.input_len = size;
	st.what = "B/hooks";
	ret = ap_csv_read(text, size, &opts, on_record, &st, &res);
	check_result(st.what, &res, ret, m, &st, delim);
	FUZZ_CHECK(hooks.live == 0, "B/hooks: %ld blocks leaked", hooks.live);

	/* C. allocation failure after a few calls */
	memset(&hooks, 0, sizeof(hooks));
	hooks.fail_after = (long) ((h >> 8) % 6);
	memset(&st, 0, sizeof(st));
	st.ref = m;
	st.input_len = size;
	st.what = "C/nomem";
	ret = ap_csv_read(text, size, &opts, on_record, &st, &res);
	FUZZ_CHECK(hooks.live == 0, "C/nomem: %ld blocks leaked", hooks.live);
	FUZZ_CHECK(ret == res.status, "C/nomem: returned %d, result %d", ret, res.status);
	if (hooks.failed)
	{
		FUZZ_CHECK(res.status == AP_CSV_NOMEM, "C/nomem: allocation failed, status %d",
				   res.status);
		FUZZ_CHECK(res.line >= 1 && res.line <= (m->nlines > 0 ? m->nlines : 1),
				   "C/nomem: error line %ld of %ld", res.line, m->nlines);
		FUZZ_CHECK(res.records == st.seen, "C/nomem: records %ld, seen %ld",
				   res.records, st.seen);
	}
	else
		check_result(st.what, &res, ret, m, &st, delim);

	/* D. the callback stops the read */
	if (m->nrecords > 0)
	{
		memset(&hooks, 0, sizeof(hooks));
		hooks.fail_after = -1;
		memset(&st, 0, sizeof(st));
		st.ref = m;
		st.input_len = size;
		st.what = "D/stop";
		st.stop_at = 1 + (long) ((h >> 16) % (uint32_t) m->nrecords);
		ret = ap_csv_read(text, size, &opts, on_record, &st, &res);
		FUZZ_CHECK(hooks.live == 0, "D/stop: %ld blocks leaked", hooks.live);
		FUZZ_CHECK(ret == AP_CSV_STOPPED && res.status == AP_CSV_STOPPED,
				   "D/stop: status %d after stopping at record %ld", ret, st.stop_at);
		FUZZ_CHECK(res.records == st.stop_at && st.seen == st.stop_at,
				   "D/stop: records %ld, seen %ld, stopped at %ld", res.records,
				   st.seen, st.stop_at);
		FUZZ_CHECK(res.line == m->records[st.stop_at - 1].last_line,
				   "D/stop: line %ld, record ended at %ld", res.line,
				   m->records[st.stop_at - 1].last_line);
	}

	/* no callback at all: counts only */
	ret = ap_csv_read(text, size, NULL, NULL, NULL, &res);
	FUZZ_CHECK(ret == m_detect.status, "no callback: status %d, model %d", ret,
			   m_detect.status);
	if (ret == AP_CSV_OK || ret == AP_CSV_EMPTY)
		FUZZ_CHECK(res.records == m_detect.nrecords, "no callback: %ld records, model %ld",
				   res.records, m_detect.nrecords);

	/* no result struct, no data, every status text */
	ret = ap_csv_read(text, size, NULL, NULL, NULL, NULL);
	FUZZ_CHECK(ret == m_detect.status, "no result: status %d, model %d", ret,
			   m_detect.status);
	FUZZ_CHECK(ap_csv_read(NULL, size, NULL, NULL, NULL, &res) == AP_CSV_EMPTY &&
			   res.records == 0 && res.delimiter == ',', "NULL data not empty");
	FUZZ_CHECK(ap_csv_detect_delimiter(NULL, size) == ',', "NULL data delimiter");
	FUZZ_CHECK(ap_csv_status_text((ap_csv_status) (h % 8)) != NULL, "status text");

	if (m == &m_explicit)
		ref_free(&m_explicit);
	ref_free(&m_detect);
	return 0;
}
