/*
 * import_pending.c
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

/*
 * set and text: bits by field; then, for each text field in field order,
 * its length (7 bits a byte, low first) and its bytes.  Most values are
 * short: one length byte each instead of four keeps the pending edits of
 * the benchmark's 100k preview about 6 MB smaller (peak memory is bounded
 * by the file's size).
 */
struct ApPending
{
	uint64		set;			/* fields the edits touch */
	uint64		text;			/* of those, the ones given text */
	uint64		changed;		/* of those, the ones some row changed */
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
};

static const uint8 *
get_len(const uint8 *p, size_t *len)
{
	int			shift = 0;

	*len = 0;
	do
	{
		*len |= (size_t) (*p & 0x7F) << shift;
		shift += 7;
	} while (*p++ & 0x80);
	return p;
}

static uint8 *
put_len(uint8 *p, size_t len)
{
	do
	{
		*p = (uint8) (len & 0x7F);
		len >>= 7;
		if (len)
			*p |= 0x80;
		p++;
	} while (len);
	return p;
}

/*
 * The fields whose value some row folded into p changed, as bits (a row
 * edits every field it carries; the changes are what undo puts back).
 */
uint64
ap_pending_changed(const ApPending *p)
{
	return p ? p->changed & p->set : 0;
}

void
ap_pending_edits(const ApPending *p, ApFieldEdit *out)
{
	const uint8 *d;
	int			f;

	memset(out, 0, sizeof(ApFieldEdit) * AP_NFIELDS);
	if (p == NULL)
		return;
	d = p->data;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		uint64		bit = UINT64CONST(1) << f;

		if (!(p->set & bit))
			continue;
		out[f].kind = (p->text & bit) ? AP_EDIT_TEXT : AP_EDIT_CLEAR;
		if (out[f].kind == AP_EDIT_CLEAR)
			continue;
		d = get_len(d, &out[f].len);
		out[f].text = (const char *) d;
		d += out[f].len;
	}
}

static size_t
len_size(size_t len)
{
	size_t		n = 1;

	while (len >>= 7)
		n++;
	return n;
}

/*
 * The edits of old with edits laid over them, in a new block (old stays
 * valid: the caller describes the change, then frees it); changed: the
 * fields whose value the new edits change.
 */
ApPending *
ap_pending_merge(ApTenant *t, const ApPending *old, const ApFieldEdit *edits,
				 uint64 changed)
{
	ApFieldEdit merged[AP_NFIELDS];
	ApPending  *p;
	Size		size;
	uint8	   *d;
	int			f;

	ap_pending_edits(old, merged);
	size = offsetof(ApPending, data);
	for (f = 0; f < AP_NFIELDS; f++)
	{
		if (edits[f].kind != AP_EDIT_KEEP)
			merged[f] = edits[f];
		if (merged[f].kind == AP_EDIT_TEXT)
			size += len_size(merged[f].len) + merged[f].len;
	}
	/* a commit writes them at the end of the chunk: they go with the chunk */
	p = t->pendcxt ? (ApPending *) MemoryContextAllocHuge(t->pendcxt, size) :
		(ApPending *) ap_tenant_alloc(t, size);
	p->set = p->text = 0;
	p->changed = (old ? old->changed : 0) | changed;
	d = p->data;
	for (f = 0; f < AP_NFIELDS; f++)
	{
		uint64		bit = UINT64CONST(1) << f;

		if (merged[f].kind == AP_EDIT_KEEP)
			continue;
		p->set |= bit;
		if (merged[f].kind != AP_EDIT_TEXT)
			continue;
		p->text |= bit;
		d = put_len(d, merged[f].len);
		memcpy(d, merged[f].text, merged[f].len);
		d += merged[f].len;
	}
	Assert((Size) (d - (uint8 *) p) == size);
	return p;
}
