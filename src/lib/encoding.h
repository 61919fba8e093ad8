/*
 * encoding.h
 *	  Byte-order marks and UTF-16 decoding for uploaded CSV files.
 *
 * Plain C with no PostgreSQL headers.  Excel saves "Unicode text" as
 * UTF-16 with a BOM and "CSV UTF-8" with a UTF-8 BOM; everything else
 * arrives as UTF-8 or as Windows-1252.
 */
#ifndef AP_ENCODING_H
#define AP_ENCODING_H

#include <stddef.h>

typedef enum ap_bom
{
	AP_BOM_NONE,
	AP_BOM_UTF8,				/* EF BB BF */
	AP_BOM_UTF16LE,				/* FF FE */
	AP_BOM_UTF16BE				/* FE FF */
} ap_bom;

/* The BOM at the start of data, and its length in *bomlen. */
extern ap_bom ap_detect_bom(const unsigned char *data, size_t len, size_t *bomlen);

/*
 * Decode UTF-16 (without its BOM) into UTF-8.  out must hold at least
 * len / 2 * 3 + 4 bytes.  Returns the number of bytes written, or -1 on
 * an odd length or an unpaired surrogate (*bad_at: byte offset in data).
 */
extern long ap_utf16_to_utf8(const unsigned char *data, size_t len,
							 int big_endian, unsigned char *out,
							 size_t *bad_at);

/*
 * 1-based line of byte offset pos in UTF-16 data (without its BOM),
 * counting LF, CRLF and lone CR code units as line ends.
 */
extern long ap_utf16_line_of(const unsigned char *data, size_t pos,
							 int big_endian);

/* Largest output ap_utf16_to_utf8 may need for len input bytes. */
#define AP_UTF16_MAX_OUT(len) ((len) / 2 * 3 + 4)

#endif							/* AP_ENCODING_H */
