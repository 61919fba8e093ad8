/*
 * merge.c
 *	  What one imported row does to the contact it matched (or created):
 *	  the merge policy for identity/address fields, conflict detection,
 *	  and the payload update for integration fields.
 *
 * Identity fields fill blanks by default, or replace with overwrite; a
 * blank cell never erases.  A conflict (names, or the email when the match
 * was by phone, differ; or the key was ambiguous) writes no identity field
 * but still stores the integration fields.  Integration fields present in
 * the file replace the payload's (blank clears); bad numbers are kept as
 * the text written and reported.
 */
#include "activepipe.h"

#include "utils/memutils.h"

#include "import.h"
#include "normalize.h"

const char *const ap_match_names[] = {NULL, "email", "mobile", "phone"};

static void
add_reason(StringInfo reason, const char *text)
{
	if (reason->len > 0)
		appendStringInfoString(reason, "; ");
	appendStringInfoString(reason, text);
}

/* Same value for matching purposes: equal keys for email and phones. */
static bool
same_identity(int f, const char *a, size_t alen, const char *b, size_t blen,
			  const ap_phone_region *region)
{
	char		ka[AP_PHONE_KEY_SIZE],
				kb[AP_PHONE_KEY_SIZE];
	size_t		na,
				nb;

	if (f == AP_F_EMAIL)
		return ap_names_equal(a, alen, b, blen);	/* trimmed, case-folded */
	if (f == AP_F_PHONE || f == AP_F_MOBILE)
	{
		na = ap_phone_key(a, alen, region, ka);
		nb = ap_phone_key(b, blen, region, kb);
		if (na > 0 && na == nb && memcmp(ka, kb, na) == 0)
			return true;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Fields on which the file and the contact disagree materially. */
static void
conflict_fields(const ApContact *ct, const ApRowValues *rv,
				ApMatchKey matched_by, StringInfo out)
{
	static const int checked[] = {AP_F_FIRSTNAME, AP_F_LASTNAME, AP_F_EMAIL};
	int			i;

	for (i = 0; i < lengthof(checked); i++)
	{
		int			f = checked[i];

		const char *have;
		uint32		hlen;

		if (f == AP_F_EMAIL && matched_by == AP_MATCH_EMAIL)
			continue;
		if (rv->val[f] == NULL || (have = ap_ident(ct, f, &hlen)) == NULL)
			continue;
		if (ap_names_equal(rv->val[f], rv->len[f], have, hlen))
			continue;
		appendStringInfo(out, "%s%s", out->len ? ", " : "", ap_contract[f].name);
	}
}

/* Apply the identity policy; returns the fields it changed (bits). */
static uint16
merge_identity(ApTenant *t, ApContact *ct, const ApRowValues *rv,
			   bool overwrite, const ap_phone_region *region)
{
	const char *val[AP_NIDENTITY];
	uint32		len[AP_NIDENTITY];
	uint16		changed = 0;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
	{
		val[f] = ap_ident(ct, f, &len[f]);
		if (rv->val[f] == NULL)
			continue;			/* a blank cell never erases */
		if (val[f] != NULL &&
			(!overwrite || same_identity(f, rv->val[f], rv->len[f],
										 val[f], len[f], region)))
			continue;
		val[f] = rv->val[f];
		len[f] = rv->len[f];
		changed |= (uint16) (1 << f);
	}
	ct->ident_dirty |= changed;
	/* the row's values live only as long as the row: repack a copy */
	if (changed)
		ap_contact_set_ident(t, ct, val, len);
	return changed;
}

/*
 * Integration fields into the payload.  Identity fields the binding keeps
 * in the payload are set from non-blank cells only.
 */
static bool
merge_payload(ApTenant *t, ApContact *ct, const ApBinding *b,
			  const ApRowValues *rv, StringInfo reason)
{
	ApFieldEdit edits[AP_NFIELDS];
	ApFieldEdit pending[AP_NFIELDS];
	uint64		bad = 0;
	bool		changed;
	int			f;

	memset(edits, 0, sizeof(edits));
	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (!rv->present[f])
			continue;
		if (f < AP_NIDENTITY && (b->col[f] != NULL || rv->val[f] == NULL))
			continue;
		edits[f].kind = rv->val[f] ? AP_EDIT_TEXT : AP_EDIT_CLEAR;
		edits[f].text = rv->val[f];
		edits[f].len = rv->len[f];
	}
	if (ct->pending)
		ap_pending_edits(ct->pending, pending);
	changed = ap_payload_edits_change(ct->payload,
									  ct->pending ? pending : NULL, edits, &bad);
	for (f = 0; f < AP_NFIELDS && bad; f++)
		if (bad & (UINT64CONST(1) << f))
		{
			add_reason(reason, psprintf("bad number in %s kept as text", ap_contract[f].name));
			bad &= ~(UINT64CONST(1) << f);
		}
	if (!changed)
		return false;
	ct->pending = ap_pending_merge(t, ct->pending, edits);
	ct->payload_dirty = true;
	return true;
}

ApAction
ap_merge_row(ApTenant *t, int32 c, const ApRowValues *rv,
			 ApMatchKey matched_by, int32 ambiguous, bool overwrite,
			 bool created, const ap_phone_region *region, StringInfo reason,
			 uint16 *ident_changed)
{
	ApContact  *ct = &t->contacts[c];
	const ApBinding *b = t->binding;
	StringInfoData diff;
	bool		conflict = false;
	bool		changed;

	*ident_changed = 0;
	if (created)
	{
		*ident_changed = merge_identity(t, ct, rv, false, region);
		merge_payload(t, ct, b, rv, reason);
		return AP_ACT_NEW;
	}
	if (ambiguous > 1)
	{
		add_reason(reason, psprintf("ambiguous: %d contacts share this %s",
									ambiguous, ap_match_names[matched_by]));
		conflict = true;
	}
	if (!overwrite)
	{
		initStringInfo(&diff);
		conflict_fields(ct, rv, matched_by, &diff);
		if (diff.len > 0)
		{
			add_reason(reason, psprintf("conflict: %s differ%s", diff.data,
										strchr(diff.data, ',') ? "" : "s"));
			conflict = true;
		}
	}
	if (!conflict)
		*ident_changed = merge_identity(t, ct, rv, overwrite, region);
	changed = *ident_changed != 0;
	changed |= merge_payload(t, ct, b, rv, reason);
	if (conflict)
		return AP_ACT_CONFLICT;
	return changed ? AP_ACT_UPDATE : AP_ACT_UNCHANGED;
}
