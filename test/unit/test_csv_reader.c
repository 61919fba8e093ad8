/*
 * test_csv_reader.c
 *	  TAP unit tests for src/lib/csv_reader.c: records and physical line
 *	  numbers over every kind of line end (multi-line quoted fields and
 *	  blank lines between records included), BOM, delimiter detection,
 *	  quote errors, callback stop, allocator hooks, large inputs, a
 *	  randomised write/read round trip and random garbage.
 */
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"
#include "tap.h"

/*
 * Collector: renders every record as "first-last:f1|f2|...;" with CR, LF
 * and NUL escaped, so that one is_str checks fields and line numbers at
 * once.
 */
typedef struct collector
{
	char		out[8192];
	size_t		len;
	long		calls;
	long		stop_after;		/* return 1 on this call; 0 = never */
} collector;

static void
put(collector *c, const char *s, size_t n)
{
	if (c->len + n < sizeof(c->out))
	{
		memcpy(c->out + c->len, s, n);
		c->len += n;
		c->out[c->len] = '\0';
	}
}

static void
put_field(collector *c, const ap_csv_field *f)
{
	size_t		i;

	for (i = 0; i < f->len; i++)
	{
		char		ch = f->data[i];

		if (ch == '\n')
			put(c, "\\n", 2);
		else if (ch == '\r')
			put(c, "\\r", 2);
		else if (ch == '\0')
			put(c, "\\0", 2);
		else
			put(c, &ch, 1);
	}
}

static int
collect(const ap_csv_field *fields, int n, long first, long last, void *arg)
{
	collector  *c = arg;
	char		head[64];
	int			i;

	snprintf(head, sizeof(head), "%ld-%ld:", first, last);
	put(c, head, strlen(head));
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			put(c, "|", 1);
		put_field(c, &fields[i]);
	}
	put(c, ";", 1);
	c->calls++;
	return c->stop_after != 0 && c->calls == c->stop_after;
}

/* Read a C string with default options; the rendering is in c->out. */
static ap_csv_status
read_str(const char *s, collector *c, ap_csv_result *res)
{
	memset(c, 0, sizeof(*c));
	return ap_csv_read(s, strlen(s), NULL, collect, c, res);
}

static ap_csv_status
read_buf(const char *s, size_t len, char delim, collector *c,
		 ap_csv_result *res)
{
	ap_csv_options o;

	memset(&o, 0, sizeof(o));
	o.delimiter = delim;
	memset(c, 0, sizeof(*c));
	return ap_csv_read(s, len, &o, collect, c, res);
}

/* Run one input and check status, rendering and record count. */
#define CHECK(input, want_status, want_out, name) \
	do { \
		collector _c; \
		ap_csv_result _r; \
		ap_csv_status _s = read_str((input), &_c, &_r); \
		ok(_s == (want_status) && _r.status == _s, \
		   "%s: status %s", name, ap_csv_status_text(_s)); \
		is_str(_c.out, _c.len, (want_out), "%s: records", name); \
	} while (0)

/* Counting allocator hooks, optionally failing after a budget. */
static long live_allocs;
static long alloc_calls;
static long fail_after = -1;	/* -1: never fail */

static void *
count_realloc(void *ptr, size_t size)
{
	void	   *p;

	alloc_calls++;
	if (fail_after >= 0 && alloc_calls > fail_after)
		return NULL;
	p = realloc(ptr, size);
	if (p != NULL && ptr == NULL)
		live_allocs++;
	return p;
}

static void
count_free(void *ptr)
{
	if (ptr != NULL)
		live_allocs--;
	free(ptr);
}

static ap_csv_status
read_counted(const char *s, size_t len, collector *c, ap_csv_result *res)
{
	ap_csv_options o;

	memset(&o, 0, sizeof(o));
	o.realloc_fn = count_realloc;
	o.free_fn = count_free;
	live_allocs = alloc_calls = 0;
	memset(c, 0, sizeof(*c));
	return ap_csv_read(s, len, &o, collect, c, res);
}

static void
test_basic(void)
{
	CHECK("a,b,c\n1,2,3\n", AP_CSV_OK, "1-1:a|b|c;2-2:1|2|3;", "simple LF");
	CHECK("a,b\r\n1,2\r\n", AP_CSV_OK, "1-1:a|b;2-2:1|2;", "CRLF");
	CHECK("a,b\r1,2\r", AP_CSV_OK, "1-1:a|b;2-2:1|2;", "CR");
	CHECK("a\r\nb\nc\rd\r\n\re\n", AP_CSV_OK,
		  "1-1:a;2-2:b;3-3:c;4-4:d;6-6:e;", "mixed line ends");
	CHECK("a,b\n1,2", AP_CSV_OK, "1-1:a|b;2-2:1|2;", "last line without end");
	CHECK("a,\"b\"", AP_CSV_OK, "1-1:a|b;", "quoted last field at EOF");
	CHECK("a,b\n\n\n1,2\n\r\n3,4\n\n", AP_CSV_OK,
		  "1-1:a|b;4-4:1|2;6-6:3|4;", "blank lines keep counting");
	CHECK("  a , b b ,c  \n   \n\t\n x\n", AP_CSV_OK,
		  "1-1:a|b b|c;4-4:x;", "blanks trimmed, blank-ish lines skipped");
	CHECK(",,\n,\n", AP_CSV_OK, "1-1:||;2-2:|;", "empty fields");
	CHECK("\"\"\n", AP_CSV_OK, "1-1:;", "one empty quoted field is a record");
	CHECK("a,\"\",\n", AP_CSV_OK, "1-1:a||;", "empty quoted among unquoted");
}

static void
test_quoted(void)
{
	CHECK("\"a,b\",\"say \"\"hi\"\"\",c\n", AP_CSV_OK,
		  "1-1:a,b|say \"hi\"|c;", "quoted delimiter and quotes");
	CHECK("x,y\n\"line1\nline2\",z\nw,v\n", AP_CSV_OK,
		  "1-1:x|y;2-3:line1\\nline2|z;4-4:w|v;", "quoted LF spans lines");
	CHECK("x\r\n\"a\r\nb\r\nc\",\"d\re\"\r\nnext\r\n", AP_CSV_OK,
		  "1-1:x;2-5:a\\r\\nb\\r\\nc|d\\re;6-6:next;",
		  "quoted CRLF and CR count lines");
	CHECK("\"\"\"\"\"\",\"\n\"\n", AP_CSV_OK, "1-2:\"\"|\\n;",
		  "only quotes, only newline");
	CHECK("  \"a\"  ,\t\"b\" \n", AP_CSV_OK, "1-1:a|b;",
		  "blanks around quotes trimmed");
	CHECK("\"a\n\n\nb\",\"c\n\"\n\nd\n", AP_CSV_OK,
		  "1-5:a\\n\\n\\nb|c\\n;7-7:d;", "blank lines inside quotes");
	CHECK("1,\"\",\"x\"\"\",\" \"\n\"q\",2\n", AP_CSV_OK,
		  "1-1:1||x\"| ;2-2:q|2;", "empty, quote-only and blank quoted fields");
}

/*
 * A record's first line is the first line, after the previous record,
 * that holds anything but blanks: blank lines between records, and a
 * quoted first field that spans lines, must not move it.
 */
static void
test_line_numbers(void)
{
	collector	c;
	ap_csv_result r;

	CHECK("\"a\nb\",c\n\"d\ne\nf\"\n", AP_CSV_OK,
		  "1-2:a\\nb|c;3-5:d\\ne\\nf;", "multi-line quoted first fields");
	CHECK("\"a\nb\"\n\n\n\"c\nd\"\n\n", AP_CSV_OK,
		  "1-2:a\\nb;5-6:c\\nd;", "blank lines between multi-line records");
	CHECK("x\n \t \n\t\n\"y\n\nz\",w\n", AP_CSV_OK,
		  "1-1:x;4-6:y\\n\\nz|w;", "blank-ish lines, then a quoted field with a blank line");
	CHECK("\r\n\r\n\"p\r\nq\"\r\n\r\n\rr\r", AP_CSV_OK,
		  "3-4:p\\r\\nq;7-7:r;", "CRLF and CR blank lines around a multi-line field");
	CHECK("  \"a\n\nb\"  ,x\n", AP_CSV_OK,
		  "1-3:a\\n\\nb|x;", "blanks before a multi-line first field");
	CHECK("\n\n,\"a\nb\"\n", AP_CSV_OK,
		  "3-4:|a\\nb;", "an empty first field begins the record");
	CHECK("\"\"\n\n\"\n\"\n", AP_CSV_OK,
		  "1-1:;3-4:\\n;", "empty and newline-only quoted fields");
	CHECK("a\n\n  \n\"b\nc\nd", AP_CSV_UNTERMINATED_QUOTE,
		  "1-1:a;", "unterminated after blank lines");
	read_str("a\n\n  \n\"b\nc\nd", &c, &r);
	ok(r.line == 4, "unterminated after blank lines: line 4, where it begins (%ld)",
	   r.line);
	read_str("a\n\n\"b\nc\"d\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE && r.line == 4,
	   "a bad quote on a record's second line is reported there (%ld)", r.line);

	/* what is blank depends on the delimiter */
	read_buf(" \n\t\nx\n", 6, '\t', &c, &r);
	is_str(c.out, c.len, "2-2:|;3-3:x;", "tab-delimited: a tab line is a record, a space line not");
	read_buf("a\n \nb\n", 6, ' ', &c, &r);
	is_str(c.out, c.len, "1-1:a;2-2:|;3-3:b;", "space-delimited: a space line is a record");
	read_buf("\t\n \"q\nr\"\n", 9, ',', &c, &r);
	is_str(c.out, c.len, "2-3:q\\nr;", "comma-delimited: tab and space lines are blank");
}

static void
test_bom_and_delimiters(void)
{
	collector	c;
	ap_csv_result r;

	read_str("\xEF\xBB\xBF" "a,b\n1,2\n", &c, &r);
	ok(r.status == AP_CSV_OK && r.had_bom == 1, "BOM: ok, had_bom");
	is_str(c.out, c.len, "1-1:a|b;2-2:1|2;", "BOM: skipped, line 1");
	read_str("\xEF\xBB\xBF\"a\",b\n", &c, &r);
	is_str(c.out, c.len, "1-1:a|b;", "BOM before a quote");
	read_str("a,b\n", &c, &r);
	ok(r.had_bom == 0 && r.delimiter == ',', "no BOM, comma");

	read_str("a;b;c\n1;\"2;3\";4\n", &c, &r);
	ok(r.delimiter == ';', "semicolon detected");
	is_str(c.out, c.len, "1-1:a|b|c;2-2:1|2;3|4;", "semicolon records");

	read_str("name\tcity name\tnote\n J Smith \t New York\t \"a\tb\" \n",
			 &c, &r);
	ok(r.delimiter == '\t', "tab detected");
	is_str(c.out, c.len,
		   "1-1:name|city name|note;2-2:J Smith|New York|a\tb;",
		   "tab file keeps inner spaces, trims outer");
	read_str("a\t\tb\n", &c, &r);
	is_str(c.out, c.len, "1-1:a||b;", "tab: empty middle field");

	ok(ap_csv_detect_delimiter("a,b;c;d\n", 8) == ';', "detect: most wins");
	ok(ap_csv_detect_delimiter("a,b;c\n", 6) == ',', "detect: tie -> comma");
	ok(ap_csv_detect_delimiter("a;b\tc\n", 6) == ',',
	   "detect: ;/tab tie -> comma");
	ok(ap_csv_detect_delimiter("abc\n", 4) == ',', "detect: none -> comma");
	ok(ap_csv_detect_delimiter("\"a;b;c\",d,e\n", 12) == ',',
	   "detect: quoted ones do not count");
	ok(ap_csv_detect_delimiter("a,b\nc;d;e;f\n", 12) == ',',
	   "detect: first line only");
	ok(ap_csv_detect_delimiter("\xEF\xBB\xBF;a;b", 7) == ';', "detect: after BOM");
	ok(ap_csv_detect_delimiter("", 0) == ',', "detect: empty");

	read_buf("a;b,c\n", 6, ',', &c, &r);
	ok(r.delimiter == ',', "explicit delimiter wins over detection");
	is_str(c.out, c.len, "1-1:a;b|c;", "explicit delimiter records");
}

static void
test_errors(void)
{
	collector	c;
	ap_csv_result r;

	read_str("a,b\n\"open,c\nd,e\n", &c, &r);
	ok(r.status == AP_CSV_UNTERMINATED_QUOTE && r.line == 2,
	   "unterminated mid-file: reported at the record's first line 2 (%ld)",
	   r.line);
	is_str(c.out, c.len, "1-1:a|b;", "unterminated: records before it delivered");

	read_str("a\nb,\"x\ny\nz", &c, &r);
	ok(r.status == AP_CSV_UNTERMINATED_QUOTE && r.line == 2,
	   "unterminated at end: line 2 (%ld)", r.line);
	read_str("\"a\nb\",\"c\nd\n", &c, &r);
	ok(r.status == AP_CSV_UNTERMINATED_QUOTE && r.line == 1,
	   "unterminated after a multi-line field: record start 1 (%ld)", r.line);
	ok(strcmp(ap_csv_status_text(r.status), "unterminated quoted field") == 0,
	   "status text");

	/* text after a closing quote */
	read_str("x\n\"abc\"d,e\nf\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE && r.line == 2,
	   "\"abc\"d is a bad quote at line 2 (%ld)", r.line);
	is_str(c.out, c.len, "1-1:x;", "bad quote: nothing of its record delivered");
	read_str("\"abc\" d\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE, "\"abc\" d (blank then text) is a bad quote");
	read_str("\"abc\" \"\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE, "\"abc\" \" is a bad quote");

	/* stray quote inside an unquoted field */
	read_str("x\ny\nab\"c,d\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE && r.line == 3,
	   "ab\"c is a bad quote at line 3 (%ld)", r.line);
	is_str(c.out, c.len, "1-1:x;2-2:y;", "stray quote: earlier records delivered");
	read_str("a \"b\"\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE, "a \"b\" is a bad quote");

	/* an unterminated quote that a later quote "closes" */
	read_str("a\n\"b,c\nd,\"e\n", &c, &r);
	ok(r.status == AP_CSV_BAD_QUOTE && r.line == 3,
	   "quote closed by a later line then text: bad quote at 3 (%ld)", r.line);
	read_str("a\n\"b,c\nd,\"\n", &c, &r);
	ok(r.status == AP_CSV_OK, "quote closed by a later line: one long field");
	is_str(c.out, c.len, "1-1:a;2-3:b,c\\nd,;", "long field spans 2-3");
}

static void
test_nul_and_stop(void)
{
	collector	c;
	ap_csv_result r;
	static const char nul[] = "a,b\0c,\"d\0\"\n\0\n";

	read_buf(nul, sizeof(nul) - 1, ',', &c, &r);
	ok(r.status == AP_CSV_OK, "NUL bytes: ok");
	is_str(c.out, c.len, "1-1:a|b\\0c|d\\0;2-2:\\0;", "NUL bytes kept");

	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	ap_csv_read("a\nb\nc\nd\n", 8, NULL, collect, &c, &r);
	ok(r.status == AP_CSV_STOPPED && r.records == 2 && c.calls == 2,
	   "callback stop: stopped after 2");
	ok(r.line == 2, "callback stop: line 2 (%ld)", r.line);

	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	ap_csv_read("a\nb", 3, NULL, collect, &c, &r);
	ok(r.status == AP_CSV_STOPPED && r.records == 2,
	   "stop on the record finished by EOF");

	ok(ap_csv_read("a\nb\n", 4, NULL, NULL, NULL, NULL) == AP_CSV_OK,
	   "NULL callback and result");
}

static void
test_empty(void)
{
	CHECK("", AP_CSV_EMPTY, "", "empty input");
	CHECK("\xEF\xBB\xBF", AP_CSV_EMPTY, "", "BOM only");
	CHECK("\n\r\n\r\n", AP_CSV_EMPTY, "", "blank lines only");
	CHECK("  \n\t\n ", AP_CSV_EMPTY, "", "blank-ish lines only");
	ok(ap_csv_read(NULL, 0, NULL, NULL, NULL, NULL) == AP_CSV_EMPTY,
	   "NULL data");
	ok(strcmp(ap_csv_status_text(AP_CSV_EMPTY), "no records in input") == 0,
	   "empty status text");
}

/* Checks of the large inputs, done inside the callback. */
typedef struct big_check
{
	int			nfields;
	size_t		len0;
	long		first;
	long		last;
	int			good;
} big_check;

static int
check_big(const ap_csv_field *f, int n, long first, long last, void *arg)
{
	big_check  *b = arg;
	int			i;

	b->nfields = n;
	b->len0 = f[0].len;
	b->first = first;
	b->last = last;
	b->good = 1;
	for (i = 0; i < n; i++)
	{
		size_t		j;

		for (j = 0; j < f[i].len; j++)
			if (f[i].data[j] != (char) ('a' + (i + j) % 26))
				b->good = 0;
	}
	return 0;
}

static void
test_large(void)
{
	big_check	b;
	ap_csv_result r;
	size_t		size = 5000 * 8 + 2;
	char	   *s = malloc(size);
	size_t		n = 0;
	int			i;

	/* a 5,000-field record, each field i = "<i..i+4 letters>" */
	for (i = 0; i < 5000; i++)
	{
		int			j;

		for (j = 0; j < 5; j++)
			s[n++] = 'a' + (i + j) % 26;
		s[n++] = ',';
	}
	s[n - 1] = '\n';
	memset(&b, 0, sizeof(b));
	ap_csv_read(s, n, NULL, check_big, &b, &r);
	ok(r.status == AP_CSV_OK && b.nfields == 5000 && b.good,
	   "5,000 fields (%d)", b.nfields);
	free(s);

	/* a 1 MB quoted field over several lines, then a record */
	size = (1 << 20) + 64;
	s = malloc(size);
	n = 0;
	s[n++] = '"';
	for (i = 0; i < (1 << 20); i++)
		s[n++] = 'a' + i % 26;
	s[n++] = '"';
	s[n++] = '\n';
	memset(&b, 0, sizeof(b));
	ap_csv_read(s, n, NULL, check_big, &b, &r);
	ok(r.status == AP_CSV_OK && b.len0 == (1 << 20) && b.good,
	   "1 MB field intact");
	/* the same field cut by line ends: lines counted, content kept */
	s[100] = '\n';
	s[200000] = '\r';
	s[300000] = '\r';
	s[300001] = '\n';
	memset(&b, 0, sizeof(b));
	ap_csv_read(s, n, NULL, check_big, &b, &r);
	ok(r.status == AP_CSV_OK && b.len0 == (1 << 20) &&
	   b.first == 1 && b.last == 4,
	   "1 MB field over 4 lines: lines %ld-%ld", b.first, b.last);
	free(s);

	/* 100,000 empty lines, then a record */
	s = malloc(100000 + 8);
	memset(s, '\n', 100000);
	memcpy(s + 100000, "x,y\n", 4);
	memset(&b, 0, sizeof(b));
	ap_csv_read(s, 100004, NULL, check_big, &b, &r);
	ok(r.status == AP_CSV_OK && r.records == 1 &&
	   b.first == 100001 && b.last == 100001,
	   "record after 100,000 empty lines is on line 100001 (%ld)", b.first);
	memset(s, '\r', 100000);
	s[99999] = '\n';
	ap_csv_read(s, 100004, NULL, check_big, &b, &r);
	ok(b.first == 100000, "99,998 CRs and a CRLF: line 100000 (%ld)", b.first);
	free(s);
}

/* Every path releases what it allocated; allocation failures are clean. */
static void
test_allocation(void)
{
	collector	c;
	ap_csv_result r;
	ap_csv_options o;
	static const char *inputs[] = {
		"a,b\n1,2\n", "a,\"b\nc\n", "a\"b\n", "\"x\"y\n", "\n\n", "a\nb\nc\n"
	};
	int			i;
	long		budget;
	int			all_clean = 1;
	int			saw_nomem = 0;
	size_t		size = (1 << 20) + 16;
	char	   *s;

	for (i = 0; i < (int) (sizeof(inputs) / sizeof(inputs[0])); i++)
	{
		read_counted(inputs[i], strlen(inputs[i]), &c, &r);
		ok(live_allocs == 0 && alloc_calls > 0,
		   "hooks used and all freed: input %d (%s)", i,
		   ap_csv_status_text(r.status));
	}
	memset(&o, 0, sizeof(o));
	o.realloc_fn = count_realloc;
	o.free_fn = count_free;
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	live_allocs = 0;
	ap_csv_read("a\nb\nc\n", 6, &o, collect, &c, &r);
	ok(r.status == AP_CSV_STOPPED && live_allocs == 0,
	   "stop path frees everything");
	memset(&o, 0, sizeof(o));
	o.realloc_fn = count_realloc;	/* no free hook: both defaults used */
	alloc_calls = 0;
	ap_csv_read("a\n", 2, &o, NULL, NULL, &r);
	ok(r.status == AP_CSV_OK && alloc_calls == 0,
	   "a lone realloc hook is not paired with free()");

	/* fail the k-th allocation for every k until the read succeeds */
	for (budget = 0; budget < 40; budget++)
	{
		const char *in = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,"
			"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,"
			"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z\n"
			"\"a long quoted field that is longer than one block of "
			"libcsv's buffer, which is 128 bytes by default, so that "
			"the parser grows its buffer at least once\",2\n";

		fail_after = budget;
		read_counted(in, strlen(in), &c, &r);
		if (live_allocs != 0 ||
			(r.status != AP_CSV_OK && r.status != AP_CSV_NOMEM))
			all_clean = 0;
		if (r.status == AP_CSV_NOMEM)
			saw_nomem = 1;
	}
	fail_after = -1;
	ok(all_clean && saw_nomem, "allocation failures: NOMEM, nothing leaked");

	/* libcsv's buffer grows geometrically, not by 128-byte blocks */
	s = malloc(size);
	s[0] = '"';
	memset(s + 1, 'x', 1 << 20);
	for (i = 1; i < (1 << 20); i += 1000)
		s[i] = '\n';
	memcpy(s + 1 + (1 << 20), "\"\n", 2);
	read_counted(s, (1 << 20) + 3, &c, &r);
	ok(r.status == AP_CSV_OK && alloc_calls < 80,
	   "1 MB multi-line field: %ld allocator calls", alloc_calls);
	free(s);
}

/*
 * Round trip: write random records (random quoting, blanks around quoted
 * fields, all three line ends, quotes, delimiters and line ends inside
 * quoted fields), read them back and compare fields and line numbers.
 */
typedef struct rt_field
{
	char		data[12];
	size_t		len;
	int			quoted;
} rt_field;

typedef struct rt_record
{
	rt_field	f[6];
	int			n;
	long		first;
	long		last;
} rt_record;

typedef struct rt_state
{
	rt_record  *recs;
	long		next;
	long		bad;
} rt_state;

static unsigned long rng = 12345;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned) ((rng >> 33) % n);
}

static int
rt_check(const ap_csv_field *f, int n, long first, long last, void *arg)
{
	rt_state   *st = arg;
	rt_record  *want = &st->recs[st->next++];
	int			i;

	if (n != want->n || first != want->first || last != want->last)
	{
		st->bad++;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (f[i].len != want->f[i].len ||
			memcmp(f[i].data, want->f[i].data, f[i].len) != 0)
		{
			st->bad++;
			break;
		}
	return 0;
}

static void
rt_make_field(rt_field *f, char delim)
{
	static const char any[] = "ab ,;\t\"\r\n\0x";
	static const char plain[] = "ab;,x\0\t";
	size_t		i;

	f->quoted = rnd(2);
	f->len = rnd(sizeof(f->data));
	for (i = 0; i < f->len; i++)
	{
		if (f->quoted)
			f->data[i] = any[rnd(sizeof(any) - 1)];
		else
		{
			/* unquoted: no quote, line end or delimiter; inner blanks only */
			do
				f->data[i] = plain[rnd(sizeof(plain) - 1)];
			while (f->data[i] == delim ||
				   ((i == 0 || i == f->len - 1) &&
					(f->data[i] == '\t' || f->data[i] == ' ')));
		}
	}
}

/* Append a random line end; a LF right after a CR only completes a CRLF. */
static void
rt_line_end(char *out, size_t *n, long *line)
{
	static const char *ends[] = {"\n", "\r\n", "\r"};
	const char *e = ends[rnd(3)];

	if (!(*n > 0 && out[*n - 1] == '\r' && e[0] == '\n'))
		(*line)++;
	memcpy(out + *n, e, strlen(e));
	*n += strlen(e);
}

static size_t
rt_write(char *out, rt_record *recs, int nrec, char delim)
{
	size_t		n = 0;
	long		line = 1;
	int			r;

	for (r = 0; r < nrec; r++)
	{
		rt_record  *rec = &recs[r];
		int			i;

		while (rnd(4) == 0)
			rt_line_end(out, &n, &line);
		rec->first = line;
		rec->n = 1 + rnd(6);
		for (i = 0; i < rec->n; i++)
		{
			rt_field   *f = &rec->f[i];
			size_t		j;

			rt_make_field(f, delim);
			if (rec->n == 1 && f->len == 0)
				f->quoted = 1;	/* else it would be a blank line */
			if (i > 0)
				out[n++] = delim;
			if (!f->quoted)
			{
				memcpy(out + n, f->data, f->len);
				n += f->len;
				continue;
			}
			if (rnd(3) == 0)
				out[n++] = ' ';
			out[n++] = '"';
			for (j = 0; j < f->len; j++)
			{
				char		ch = f->data[j];

				out[n++] = ch;
				if (ch == '"')
					out[n++] = '"';
				if (ch == '\n' || (ch == '\r' &&
								   !(j + 1 < f->len && f->data[j + 1] == '\n')))
					line++;
			}
			out[n++] = '"';
			if (rnd(3) == 0)
				out[n++] = ' ';
		}
		rec->last = line;
		if (r < nrec - 1 || rnd(2))
			rt_line_end(out, &n, &line);
	}
	return n;
}

static void
test_round_trip(void)
{
	static const char delims[] = {',', ';', '\t'};
	int			nrec = 2000;
	rt_record  *recs = calloc(nrec, sizeof(rt_record));
	char	   *buf = malloc((size_t) nrec * 6 * 40 + 64);
	int			round;

	for (round = 0; round < 30; round++)
	{
		char		delim = delims[round % 3];
		size_t		len = rt_write(buf, recs, nrec, delim);
		rt_state	st = {recs, 0, 0};
		ap_csv_options o;
		ap_csv_result r;

		memset(&o, 0, sizeof(o));
		o.delimiter = delim;
		ap_csv_read(buf, len, &o, rt_check, &st, &r);
		ok(r.status == AP_CSV_OK && st.next == nrec && st.bad == 0,
		   "round trip %d ('%s'): %ld records, %ld mismatched", round,
		   delim == '\t' ? "\\t" : (delim == ',' ? "," : ";"),
		   st.next, st.bad);
	}
	free(recs);
	free(buf);
}

/* Random bytes and odd delimiters: any status, but sane and no crash. */
static int
count_records(const ap_csv_field *f, int n, long first, long last, void *arg)
{
	long	   *bad = arg;

	if (n < 1 || first < 1 || last < first || f[n - 1].len > (1 << 10))
		(*bad)++;
	return 0;
}

static void
test_garbage(void)
{
	static const char alpha[] = "a \t,;\"\r\n\0\xEF\xBB\xBF";
	static const char delims[] = {0, ',', ';', '\t', '"', '\r', '\n', ' '};
	char		buf[64];
	long		bad = 0;
	int			it;

	for (it = 0; it < 20000; it++)
	{
		size_t		len = rnd(sizeof(buf));
		size_t		i;
		ap_csv_options o;
		ap_csv_result r;

		for (i = 0; i < len; i++)
			buf[i] = alpha[rnd(sizeof(alpha) - 1)];
		memset(&o, 0, sizeof(o));
		o.delimiter = delims[rnd(sizeof(delims))];
		ap_csv_read(buf, len, &o, count_records, &bad, &r);
		if (r.status > AP_CSV_STOPPED || r.records < 0)
			bad++;
	}
	ok(bad == 0, "20,000 random inputs: no insane result (%ld)", bad);
}

int
main(void)
{
	test_basic();
	test_quoted();
	test_line_numbers();
	test_bom_and_delimiters();
	test_errors();
	test_nul_and_stop();
	test_empty();
	test_large();
	test_allocation();
	test_round_trip();
	test_garbage();
	return done_testing();
}
