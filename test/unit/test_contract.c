/*
 * test_contract.c
 *	  Unit tests of the CSV contract (src/lib/contract.c): the names the
 *	  history's JSON text writes as keys without escaping them
 *	  (ap_json_key) must be lowercase ASCII, and their lengths right.
 */
#include "contract.h"
#include "tap.h"

#include <stdbool.h>
#include <string.h>

static bool
plain_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return true;
}

int
main(void)
{
	int			f;

	for (f = 0; f < AP_NFIELDS; f++)
		ok(plain_name(ap_contract[f].name, ap_contract[f].name_len),
		   "field %d (%s): lowercase ASCII, name_len its length", f, ap_contract[f].name);
	return done_testing();
}
