/*
 * upload.c
 *	  A raw upload (the bytea import functions) decoded to text in the
 *	  database encoding: UTF-16 with a byte-order mark, UTF-8 with or
 *	  without one, else Windows-1252, which is what Excel writes.
 *
 * Bytes that cannot be decoded are an error naming the line and byte, with
 * nothing imported: a file is never half read.
 */
#include "activepipe.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "encoding.h"
#include "import.h"

/* 1-based line of byte offset pos, for errors about raw bytes */
static long
line_of(const char *data, size_t pos)
{
	long		line = 1;
	size_t		i;

	for (i = 0; i < pos; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= pos || data[i + 1] != '\n')))
			line++;
	}
	return line;
}

static void
bad_bytes(int sqlstate, long line, size_t pos, const char *what) pg_attribute_noreturn();

static void
bad_bytes(int sqlstate, long line, size_t pos, const char *what)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s in the import file", what),
			 errdetail("Line %ld, byte %zu.", line, pos + 1),
			 errhint("Nothing was imported.")));
}

/* Windows-1252 leaves five bytes undefined; name the first one found. */
static void
check_win1252(const char *data, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) data[i];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D)
			bad_bytes(ERRCODE_UNTRANSLATABLE_CHARACTER, line_of(data, i), i,
					  psprintf("byte 0x%02X, undefined in Windows-1252,", c));
	}
}

/*
 * Raw upload bytes to text in the database encoding: UTF-16 with a BOM,
 * UTF-8 with or without one, else Windows-1252 (what Excel writes).
 */
char *
ap_decode_upload(bytea *raw, size_t *outlen, const char **encoding)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(raw);
	size_t		len = VARSIZE_ANY_EXHDR(raw);
	size_t		bomlen;
	ap_bom		bom = ap_detect_bom(p, len, &bomlen);
	char	   *data = (char *) p + bomlen;
	int			src = PG_UTF8;
	char	   *conv;
	char	   *nul;

	len -= bomlen;
	if (bom == AP_BOM_UTF16LE || bom == AP_BOM_UTF16BE)
	{
		char	   *u = palloc_extended(AP_UTF16_MAX_OUT(len), MCXT_ALLOC_HUGE);
		size_t		bad = 0;
		long		n = ap_utf16_to_utf8(p + bomlen, len, bom == AP_BOM_UTF16BE,
										 (unsigned char *) u, &bad);

		if (n < 0)
			bad_bytes(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
					  ap_utf16_line_of(p + bomlen, bad, bom == AP_BOM_UTF16BE),
					  bad, "invalid UTF-16");
		data = u;
		len = n;
		*encoding = bom == AP_BOM_UTF16LE ? "UTF-16LE" : "UTF-16BE";
	}
	else if (pg_verify_mbstr(PG_UTF8, data, len, true))
		*encoding = "UTF-8";
	else if (bom == AP_BOM_UTF8)
	{
		size_t		at = pg_encoding_verifymbstr(PG_UTF8, data, len);

		bad_bytes(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, line_of(data, at), at,
				  "invalid UTF-8 after a UTF-8 byte-order mark");
	}
	else
	{
		src = PG_WIN1252;
		*encoding = "WINDOWS-1252";
		check_win1252(data, len);
	}
	if ((nul = memchr(data, '\0', len)) != NULL)
		bad_bytes(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, line_of(data, nul - data),
				  nul - data, "a NUL byte");
	conv = (char *) pg_do_encoding_conversion((unsigned char *) data, len,
											  src, GetDatabaseEncoding());
	*outlen = (conv == data) ? len : strlen(conv);
	return conv;
}
