/*
 * csv_api_only.h
 *	  Forced (-include) into a build of src/lib/csv_reader.c that make unit
 *	  does: after libcsv's csv.h, the names of struct csv_parser's members
 *	  are poisoned, so code that reads or writes the parser's state, which
 *	  is not libcsv's API and may change in any release, does not compile.
 *
 * "status" is left alone: the reader has a member of its own by that
 * name.  The C headers the reader includes come first, so that a poisoned
 * name in one of them cannot fail the build.
 */
#include <stdlib.h>
#include <string.h>
#include <csv.h>

#pragma GCC poison pstate quoted spaces entry_buf entry_pos entry_size
#pragma GCC poison options quote_char delim_char is_space is_term blk_size
#pragma GCC poison malloc_func realloc_func free_func
