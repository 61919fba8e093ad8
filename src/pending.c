/*
 * pending.c
 *	  The integration edits an import has decided for a contact but not yet
 *	  folded into its payload, packed into one small block.
 *
 * A preview never needs the payloads it would write, and a commit needs
 * each one once, at write time; keeping the edits instead of rebuilding a
 * jsonb for every row saves both the time and the memory of the payloads
 * the rows would have built.  A later row for the same contact merges its
 * edits over the pending ones, field by field.
 */
#include "activepipe.h"

#include "import.h"

/* set and text: bits by field; then the lengths, then the bytes */
struct ApPending
{
	uint64		set;			/* fields the edits touch */
	uint64		text;			/* of those, the ones given text */
	uint32		len[FLEXIBLE_ARRAY_MEMBER]; /* one per text field, in order */
};

void
ap_pending_edits(const ApPending *p, ApFieldEdit *out)
{
	const char *bytes;
	int			nt = 0;
	int			f;

	memset(out, 0, sizeof(ApFieldEdit) * AP_NFIELDS);
	if (p == NULL)
		return;
	for (f = 0; f < AP_NFIELDS; f++)
		if (p->text & (UINT64CONST(1) << f))
			nt++;
	bytes = (const char *) &p->len[nt];
	nt = 0;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		uint64		bit = UINT64CONST(1) << f;

		if (!(p->set & bit))
			continue;
		out[f].kind = (p->text & bit) ? AP_EDIT_TEXT : AP_EDIT_CLEAR;
		if (out[f].kind == AP_EDIT_CLEAR)
			continue;
		out[f].text = bytes;
		out[f].len = p->len[nt];
		bytes += p->len[nt++];
	}
}

ApPending *
ap_pending_merge(ApTenant *t, const ApPending *old, const ApFieldEdit *edits)
{
	ApFieldEdit merged[AP_NFIELDS];
	ApPending  *p;
	Size		size;
	char	   *bytes;
	int			nt = 0;
	int			f;

	ap_pending_edits(old, merged);
	size = offsetof(ApPending, len);
	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (edits[f].kind != AP_EDIT_KEEP)
			merged[f] = edits[f];
		if (merged[f].kind == AP_EDIT_TEXT)
		{
			nt++;
			size += sizeof(uint32) + merged[f].len;
		}
	}
	p = (ApPending *) ap_tenant_alloc(t, size);
	p->set = p->text = 0;
	bytes = (char *) &p->len[nt];
	nt = 0;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		uint64		bit = UINT64CONST(1) << f;

		if (merged[f].kind == AP_EDIT_KEEP)
			continue;
		p->set |= bit;
		if (merged[f].kind != AP_EDIT_TEXT)
			continue;
		p->text |= bit;
		p->len[nt++] = merged[f].len;
		memcpy(bytes, merged[f].text, merged[f].len);
		bytes += merged[f].len;
	}
	return p;
}
