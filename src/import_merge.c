/*
 * import_merge.c
 *	  What one imported row does to the contact it matched (or created):
 *	  the merge policy for identity and address fields, conflict detection,
 *	  and the edits to the integration payload.
 *
 * Identity fields fill blanks by default, or replace with overwrite; a
 * blank cell never erases.  A conflict (names, or the email when the match
 * was by phone, differ; or the key was ambiguous) writes no identity field
 * but still stores the integration fields.  Identity fields follow these
 * rules wherever the binding keeps them: a bound column, or a payload key
 * (column NULL), which then changes as the payload.  Integration fields
 * present in the file replace the payload's (blank clears); bad numbers
 * are kept as the text written and reported.
 */
#include "activepipe.h"

#include "utils/memutils.h"

#include "import.h"
#include "normalize.h"

const char *const ap_match_names[] = {NULL, "email", "mobile", "phone"};
const int	ap_match_fields[3] = {AP_F_EMAIL, AP_F_MOBILE, AP_F_PHONE};

/* Same value for matching purposes: equal keys for email and phones. */
bool
ap_same_identity(int f, const char *a, size_t alen, const char *b, size_t blen,
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

/* Fields on which the file and the contact disagree materially (bits). */
static uint16
conflict_fields(const ApContact *ct, const ApRowValues *rv,
				ApMatchKey matched_by)
{
	static const int checked[] = {AP_F_FIRSTNAME, AP_F_LASTNAME, AP_F_EMAIL};
	uint16		mask = 0;
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
		if (!ap_names_equal(rv->val[f], rv->len[f], have, hlen))
			mask |= (uint16) (1 << f);
	}
	return mask;
}

/*
 * Of the contacts holders (a list of ints) that share the key a row
 * matched, the one whose first and last names agree with the row's, when
 * exactly one does (a couple sharing an email, told apart by the name on
 * the row); -1 otherwise.
 */
int32
ap_merge_pick_holder(const ApTenant *t, List *holders, const ApRowValues *rv)
{
	int32		picked = -1;
	ListCell   *lc;

	if (rv->val[AP_F_FIRSTNAME] == NULL && rv->val[AP_F_LASTNAME] == NULL)
		return -1;
	foreach(lc, holders)
	{
		int32		c = lfirst_int(lc);

		if (conflict_fields(&t->contacts[c], rv, AP_MATCH_EMAIL) != 0)
			continue;
		if (picked >= 0)
			return -1;
		picked = c;
	}
	return picked;
}

/*
 * Apply the identity policy; returns the fields it changed (bits).  The
 * contact gets a new identity block; the old one stays valid for the
 * caller (to re-key and describe the change).
 */
static uint16
merge_identity(ApTenant *t, ApContact *ct, const ApRowValues *rv,
			   bool overwrite)
{
	const char *val[AP_NIDENTITY];
	uint32		len[AP_NIDENTITY];
	uint32		flags = ap_ident_flags(ct->ident);
	uint16		changed = 0;
	int			f;

	for (f = 0; f < AP_NIDENTITY; f++)
	{
		const char *have = ap_ident(ct, f, &len[f]);

		/* a blank value keeps its bytes until a row fills it */
		val[f] = have ? have : ap_ident_raw(ct->ident, f, &len[f]);
		if (rv->val[f] == NULL)
			continue;			/* a blank cell never erases */
		if (have != NULL &&
			(!overwrite || ap_same_identity(f, rv->val[f], rv->len[f],
											have, len[f], t->region)))
			continue;
		val[f] = rv->val[f];
		len[f] = rv->len[f];
		flags &= ~(AP_IDENT_BLANK(f) | AP_IDENT_NULL(f));
		changed |= (uint16) (1 << f);
	}
	if (changed)
	{
		ct->ident_dirty |= changed;
		ap_contact_set_ident(t, ct, val, len, flags);
	}
	return changed;
}

/*
 * The payload edits of the row: integration fields present in the file
 * (blank clears), and identity fields the binding keeps in the payload
 * that merge_identity just changed.
 */
static void
payload_edits(const ApTenant *t, const ApContact *ct, const ApRowValues *rv,
			  uint16 ident_changed, ApFieldEdit *edits)
{
	const ApBinding *b = t->binding;
	int			f;

	memset(edits, 0, sizeof(ApFieldEdit) * AP_NFIELDS);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		uint32		len;

		if (b->col[f] != NULL || !(ident_changed & (1 << f)))
			continue;
		edits[f].kind = AP_EDIT_TEXT;
		edits[f].text = ap_ident(ct, f, &len);
		edits[f].len = len;
	}
	for (f = AP_NIDENTITY; f < AP_NFIELDS; f++)
	{
		if (!rv->present[f])
			continue;
		edits[f].kind = rv->val[f] ? AP_EDIT_TEXT : AP_EDIT_CLEAR;
		edits[f].text = rv->val[f];
		edits[f].len = rv->len[f];
	}
}

/*
 * Fold the row's payload edits into the contact's pending ones when they
 * change it; sets res->bad_mask, and res->payload_changed when asked.
 */
static bool
merge_payload(ApTenant *t, ApContact *ct, const ApRowValues *rv,
			  uint16 ident_changed, ApMergeResult *res)
{
	ApFieldEdit edits[AP_NFIELDS];
	ApFieldEdit pending[AP_NFIELDS];
	bool		want_fields = res->payload_changes != NULL;
	bool		changed;

	payload_edits(t, ct, rv, ident_changed, edits);
	if (ct->pending)
		ap_pending_edits(ct->pending, pending);
	changed = ap_payload_edits_change(ct->payload, ct->pending ? pending : NULL,
									  edits, &res->bad_mask,
									  want_fields ? &res->payload_changed : NULL,
									  res->payload_changes);
	if (res->bad_mask)
		res->why |= AP_WHY_BAD_NUMBER;
	if (!changed)
		return false;
	/* without want_fields, which fields change is not known: all may */
	ct->pending = ap_pending_merge(t, ct->pending, edits,
								   want_fields ? res->payload_changed : ~UINT64CONST(0));
	ct->payload_dirty = true;
	return true;
}

/*
 * Merge row rv into contact c, matched by matched_by where holders
 * contacts hold the key (created: the row made c).  changes (NULL: not
 * asked) is where the payload fields that change are described, to
 * describe the row: one buffer for every row of an import.
 */
void
ap_merge_row(ApTenant *t, int32 c, const ApRowValues *rv,
			 ApMatchKey matched_by, int32 holders, bool created,
			 StringInfo changes, ApMergeResult *res)
{
	ApContact  *ct = &t->contacts[c];
	bool		changed;

	memset(res, 0, sizeof(*res));
	if (changes)
		resetStringInfo(changes);
	res->payload_changes = changes;
	if (created)
	{
		res->ident_changed = merge_identity(t, ct, rv, false);
		merge_payload(t, ct, rv, res->ident_changed, res);
		res->action = AP_ACT_NEW;
		return;
	}
	if (holders > 1)
	{
		/*
		 * Several contacts hold the key and the row's names do not single
		 * one out: which contact the row means is unknown, so it writes
		 * nothing, not even its integration fields.  The conflicts are
		 * shown against the contact reported (the lowest id).
		 */
		res->why |= AP_WHY_AMBIGUOUS;
		res->ambiguous = holders;
		if (!t->overwrite && (res->conflict_mask = conflict_fields(ct, rv, matched_by)))
			res->why |= AP_WHY_CONFLICT;
		res->action = AP_ACT_CONFLICT;
		return;
	}
	if (!t->overwrite && (res->conflict_mask = conflict_fields(ct, rv, matched_by)))
		res->why |= AP_WHY_CONFLICT;
	if (!(res->why & (AP_WHY_AMBIGUOUS | AP_WHY_CONFLICT)))
		res->ident_changed = merge_identity(t, ct, rv, t->overwrite);
	changed = res->ident_changed != 0;
	changed |= merge_payload(t, ct, rv, res->ident_changed, res);
	if (res->why & (AP_WHY_AMBIGUOUS | AP_WHY_CONFLICT))
		res->action = AP_ACT_CONFLICT;
	else
		res->action = changed ? AP_ACT_UPDATE : AP_ACT_UNCHANGED;
}

static void
push_pair(JsonbParseState **st, const char *k1, const JsonbValue *v1,
		  const char *k2, const JsonbValue *v2)
{
	JsonbValue	null;

	null.type = jbvNull;
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	ap_push_string(st, WJB_KEY, k1, strlen(k1));
	ap_push_value(st, v1 ? v1 : &null);
	ap_push_string(st, WJB_KEY, k2, strlen(k2));
	ap_push_value(st, v2 ? v2 : &null);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

static JsonbValue *
text_value(JsonbValue *buf, const char *s, uint32 len)
{
	if (s == NULL)
		return NULL;
	buf->type = jbvString;
	buf->val.string.val = (char *) s;
	buf->val.string.len = len;
	return buf;
}

/*
 * {field: {"file": ..., "stored": ...}} for the identity fields of mask
 * on which the row and the contact disagree.
 */
Jsonb *
ap_conflict_values(const ApContact *ct, const ApRowValues *rv, uint16 mask)
{
	JsonbParseState *st = NULL;
	int			f;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		JsonbValue	a,
					b;
		const char *have;
		uint32		hlen;

		if (!(mask & (1 << f)))
			continue;
		have = ap_ident(ct, f, &hlen);
		ap_push_string(&st, WJB_KEY, ap_contract[f].name, ap_contract[f].name_len);
		push_pair(&st, "file", text_value(&a, rv->val[f], rv->len[f]),
				  "stored", text_value(&b, have, hlen));
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * {field: [old, new]} (ap_json_change) for what merging the row changed, as
 * JSON text in cxt: identity fields from the blocks before and after, then
 * the payload fields as merging described them.  Text, not jsonb: a commit
 * keeps one for most rows of its file, and building jsonb (a tree of
 * values, every object's keys sorted) cost twice as much; the plan and the
 * report turn it into jsonb.  Made at its size in cxt, the payload's part
 * copied once.
 */
text *
ap_change_values(MemoryContext cxt, const ApContact *ct, const void *old_ident,
				 const ApMergeResult *res)
{
	StringInfoData ident;
	const StringInfoData *payload = res->payload_changes;
	bool		both;
	text	   *out;
	char	   *p;
	int			f;

	Assert(payload != NULL);	/* asked for when describing */
	ident.data = NULL;			/* most rows change no identity field */
	ident.len = 0;
	for (f = 0; f < AP_NIDENTITY; f++)
	{
		JsonbValue	a,
					b;
		const char *s;
		uint32		len;
		JsonbValue *old;

		if (!(res->ident_changed & (1 << f)))
			continue;
		if (ident.data == NULL)
			initStringInfo(&ident);
		s = ap_ident_block(old_ident, f, &len);
		old = text_value(&a, s, len);
		s = ap_ident(ct, f, &len);
		ap_json_change(&ident, ident.len == 0, f, old, text_value(&b, s, len));
	}
	both = ident.len > 0 && payload->len > 0;
	out = MemoryContextAlloc(cxt, VARHDRSZ + ident.len + both + payload->len + 2);
	SET_VARSIZE(out, VARHDRSZ + ident.len + both + payload->len + 2);
	p = VARDATA(out);
	*p++ = '{';
	if (ident.len > 0)
	{
		memcpy(p, ident.data, ident.len);
		p += ident.len;
		pfree(ident.data);
	}
	if (both)
		*p++ = ',';
	if (payload->len > 0)
	{
		memcpy(p, payload->data, payload->len);
		p += payload->len;
	}
	*p = '}';
	return out;
}
