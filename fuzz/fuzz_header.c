/*
 * fuzz_header.c
 *	  libFuzzer target for the contract lookups of src/lib/contract.c
 *	  (ap_header_index, ap_field_index, ap_range_partner) and the per-cell
 *	  decisions of src/lib/csv_writer.c (ap_csv_needs_quotes,
 *	  ap_csv_formula_risky).
 *
 * Input: the first byte is the delimiter for ap_csv_needs_quotes; the
 * rest is a header line, looked up whole and cell by cell (split at ',',
 * ';' and TAB), each cell also going through the writer functions.
 *
 * Checks:
 *	 - ap_header_index is -1 or a field number, and agrees with a model:
 *	   drop blanks, '_' and '-', fold ASCII case, compare with the contract
 *	   names less their '_'; an exact contract key (ap_field_index) is
 *	   found by both; ap_range_partner is an involution on range fields;
 *	 - ap_csv_needs_quotes is true exactly when the cell holds the
 *	   delimiter, '"', CR or LF;
 *	 - ap_csv_formula_risky is true exactly for cells starting '=', '-',
 *	   '@', TAB or CR, and for '+' unless the rest is phone punctuation
 *	   with 8..15 digits;
 *	 - a row of cells written with those decisions (quoted when needed,
 *	   quotes doubled) reads back with ap_csv_read as the same cells, when
 *	   no unquoted cell has a blank at either end (the reader trims those,
 *	   so the exporter only gets there with trimmed values).
 */
#include <string.h>

#include "contract.h"
#include "csv_reader.h"
#include "csv_writer.h"
#include "fuzz_common.h"

/* Contract names less their '_', made once. */
static char model_names[AP_NFIELDS][64];
static size_t model_name_len[AP_NFIELDS];

static void
model_init(void)
{
	static int	done = 0;
	int			f;

	if (done)
		return;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		size_t		m = 0;

		for (const char *p = ap_contract[f].name; *p; p++)
		{
			if (*p != '_')
				model_names[f][m++] = *p;
		}
		model_name_len[f] = m;
	}
	done = 1;
}

static int
model_header_index(const char *raw, size_t len)
{
	char		folded[64];
	size_t		n = 0;
	int			f;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) raw[i];

		if (c == ' ' || c == '\t' || c == '_' || c == '-' || c == '\r' || c == '\n')
			continue;
		if (n == sizeof(folded))
			return -1;			/* longer than any contract name */
		folded[n++] = (char) ((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (model_name_len[f] == n && memcmp(model_names[f], folded, n) == 0)
			return f;
	}
	return -1;
}

static void
check_header(const char *raw, size_t len)
{
	char	   *copy = fuzz_dup((const uint8_t *) raw, len);
	int			f = ap_header_index(copy, len);
	int			exact = ap_field_index(copy, len);
	int			model = model_header_index(copy, len);

	FUZZ_CHECK(f >= -1 && f < AP_NFIELDS, "header index %d", f);
	FUZZ_CHECK(f == model, "header '%.*s' -> %d, model %d", (int) len, raw, f, model);
	FUZZ_CHECK(exact >= -1 && exact < AP_NFIELDS, "field index %d", exact);
	if (exact >= 0)
	{
		FUZZ_CHECK(f == exact, "contract key '%.*s' -> header %d, field %d",
				   (int) len, raw, f, exact);
		FUZZ_CHECK(strlen(ap_contract[exact].name) == len &&
				   memcmp(ap_contract[exact].name, raw, len) == 0,
				   "field index %d for '%.*s'", exact, (int) len, raw);
	}
	if (f >= 0)
	{
		int			p = ap_range_partner(f);

		FUZZ_CHECK((p >= 0) == (ap_contract[f].kind == AP_KIND_RANGE),
				   "range partner %d of field %d (%s)", p, f, ap_contract[f].name);
		if (p >= 0)
		{
			FUZZ_CHECK(ap_range_partner(p) == f, "partner of partner of %d", f);
			FUZZ_CHECK(strcmp(ap_contract[f].name + 3, ap_contract[p].name + 3) == 0,
					   "partner of %s is %s", ap_contract[f].name, ap_contract[p].name);
		}
	}
	free(copy);
}

static bool
model_needs_quotes(const char *s, size_t len, char delim)
{
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == delim || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	}
	return false;
}

static bool
model_formula_risky(const char *s, size_t len)
{
	int			digits = 0;

	if (len == 0)
		return false;
	if (strchr("=-@\t\r", s[0]) != NULL && s[0] != '\0')
		return true;
	if (s[0] != '+')
		return false;
	for (size_t i = 1; i < len; i++)
	{
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (strchr(" -().", s[i]) == NULL || s[i] == '\0')
			return true;
	}
	return !(digits >= 8 && digits <= 15);
}

static void
check_cell(const char *cell, size_t len, char delim)
{
	char	   *copy = fuzz_dup((const uint8_t *) cell, len);

	FUZZ_CHECK(ap_csv_needs_quotes(copy, len, delim) == model_needs_quotes(copy, len, delim),
			   "needs_quotes('%.*s', %d)", (int) len, cell, delim);
	FUZZ_CHECK(ap_csv_formula_risky(copy, len) == model_formula_risky(copy, len),
			   "formula_risky('%.*s')", (int) len, cell);
	free(copy);
}

/* ---- write a row with the writer's decisions, read it back ---- */

#define MAX_CELLS 256

typedef struct row
{
	const char *cell[MAX_CELLS];
	size_t		len[MAX_CELLS];
	int			n;
	int			matched;
} row;

static int
on_record(const ap_csv_field *fields, int nfields, long first_line,
		  long last_line, void *arg)
{
	row		   *r = arg;
	int			i;

	(void) first_line;
	(void) last_line;
	if (r->matched++ == 0)
		return 0;				/* the "h" line */
	FUZZ_CHECK(nfields == r->n, "round trip: %d cells read back as %d", r->n, nfields);
	for (i = 0; i < nfields; i++)
		FUZZ_CHECK(fields[i].len == r->len[i] &&
				   memcmp(fields[i].data, r->cell[i], r->len[i]) == 0,
				   "round trip: cell %d '%.*s' read back as '%.*s'", i,
				   (int) r->len[i], r->cell[i], (int) fields[i].len, fields[i].data);
	return 0;
}

static bool
is_blank_byte(char c, char delim)
{
	return (c == ' ' && delim != ' ') || (c == '\t' && delim != '\t');
}

static void
round_trip(row *r, char delim)
{
	size_t		cap = 4;
	size_t		n = 0;
	char	   *buf;
	int			i;
	ap_csv_options opts;
	ap_csv_result res;

	for (i = 0; i < r->n; i++)
		cap += 2 * r->len[i] + 3;
	buf = malloc(cap);
	buf[n++] = 'h';
	buf[n++] = '\n';
	for (i = 0; i < r->n; i++)
	{
		const char *s = r->cell[i];
		size_t		len = r->len[i];

		if (i > 0)
			buf[n++] = delim;
		if (ap_csv_needs_quotes(s, len, delim))
		{
			buf[n++] = '"';
			for (size_t j = 0; j < len; j++)
			{
				if (s[j] == '"')
					buf[n++] = '"';
				buf[n++] = s[j];
			}
			buf[n++] = '"';
		}
		else
		{
			memcpy(buf + n, s, len);
			n += len;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.delimiter = delim;
	r->matched = 0;
	FUZZ_CHECK(ap_csv_read(buf, n, &opts, on_record, r, &res) == AP_CSV_OK,
			   "round trip: written row reads back as status %d (%s) at line %ld",
			   res.status, ap_csv_status_text(res.status), res.line);
	FUZZ_CHECK(r->matched == 2, "round trip: %d records read back", r->matched);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static row	r;
	const char *line;
	size_t		len;
	const char *p;
	const char *end;
	char		delim;
	bool		trip = true;

	if (size == 0)
		return 0;
	model_init();
	delim = (char) data[0];
	line = (const char *) data + 1;
	len = size - 1;
	end = line + len;

	check_header(line, len);
	check_cell(line, len, delim);

	memset(&r, 0, sizeof(r));
	for (p = line; p <= end;)
	{
		const char *q = p;

		while (q < end && *q != ',' && *q != ';' && *q != '\t')
			q++;
		check_header(p, (size_t) (q - p));
		check_cell(p, (size_t) (q - p), delim);
		check_cell(p, (size_t) (q - p), ',');
		if (r.n < MAX_CELLS)
		{
			r.cell[r.n] = p;
			r.len[r.n] = (size_t) (q - p);
			if (q > p && (is_blank_byte(*p, delim) || is_blank_byte(q[-1], delim)) &&
				!ap_csv_needs_quotes(p, (size_t) (q - p), delim))
				trip = false;
			r.n++;
		}
		else
			trip = false;
		if (q == end)
			break;
		p = q + 1;
	}

	/*
	 * The row round trip needs a delimiter the reader can be given: not
	 * NUL (which asks it to detect one), a quote or a line end.  A single empty cell would be a blank line.
	 */
	if (trip && delim != '\0' && delim != '"' && delim != '\r' && delim != '\n' &&
		!(r.n == 1 && r.len[0] == 0))
		round_trip(&r, delim);
	return 0;
}
