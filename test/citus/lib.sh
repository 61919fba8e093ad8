# Sourced by test/citus/run.sh (after test/scripts/lib/tap.sh, with the
# cluster's AP_* variables and $scratch set): talking to the nodes, the
# paths a call can take, building calls from templates, running many calls
# in few sessions, and reporting differences from the single node.
#
# Written to fork little: the suite makes hundreds of calls on a shared
# two-core machine.

declare -A PORT=([coord]=$AP_PORT_COORD [w1]=$AP_PORT_W1 [w2]=$AP_PORT_W2 [plain]=$AP_PORT_PLAIN)
declare -A NODE_OF_PORT=([$AP_PORT_COORD]=coord [$AP_PORT_W1]=w1 [$AP_PORT_W2]=w2 [$AP_PORT_PLAIN]=plain)

# nq NODE SQL: one value or rows (unaligned, tab-separated) from a node
nq() {
	local node=$1
	shift
	"$PGBIN/psql" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -h "$AP_CITUS_DIR" -p "${PORT[$node]}" \
		-U postgres -d postgres -c "$*"
}

# Paths: where a call is sent and whether it runs inside BEGIN ... COMMIT.
# own = the worker holding the tenant's shards, other = the other worker.
# (coordinator: plain SQL sent to the coordinator, no function call to delegate)
declare -A PATH_NODE=([delegated]=coord [begin]=coord [worker]=own [other_worker]=other
	[worker_begin]=own [coordinator]=coord)
declare -A PATH_TXN=([delegated]=0 [begin]=1 [worker]=0 [other_worker]=0 [worker_begin]=1
	[coordinator]=0)
declare -A PATH_DESC=([delegated]="delegated (top-level SELECT on the coordinator)"
	[begin]="inside BEGIN on the coordinator" [worker]="on the tenant's worker"
	[other_worker]="on the other worker" [worker_begin]="inside BEGIN on the tenant's worker"
	[coordinator]="on the coordinator")

declare -A WORKER_OF	# uid -> w1 | w2
declare -A UID_PATH	# uid -> the path its writes came through (part 3)
next_uid=1

# new_uid: a fresh tenant id in $UID_NEW
new_uid() { UID_NEW=$next_uid; next_uid=$((next_uid + 1)); }

# place UID...: look up the workers holding tenants (cached)
place() {
	local need=() u port arr
	for u in "$@"; do [ -n "${WORKER_OF[$u]:-}" ] || need+=("$u"); done
	[ ${#need[@]} -gt 0 ] || return 0
	arr=$(IFS=,; echo "${need[*]}")
	while IFS=$'\t' read -r u port; do
		[ -n "$u" ] && WORKER_OF[$u]=${NODE_OF_PORT[$port]}
	done < <(nq coord "SELECT u, s.nodeport FROM unnest('{$arr}'::bigint[]) u
		JOIN citus_shards s ON s.table_name = 'contacts'::regclass
		 AND s.shardid = get_shard_id_for_distribution_column('contacts', u)")
}

# node_for PATH UID: the node PATH sends a call of tenant UID to, in $NODE
# (PATH plain: the plain node; UID 0, no tenant: w1 is "own")
node_for() {
	local n=${PATH_NODE[$1]:-plain} w=w1
	case $n in
	plain|coord) NODE=$n ;;
	*)
		if [ "$2" != 0 ]; then
			[ -n "${WORKER_OF[$2]:-}" ] || place "$2"
			w=${WORKER_OF[$2]}
		fi
		if [ "$n" = own ]; then NODE=$w; elif [ "$w" = w1 ]; then NODE=w2; else NODE=w1; fi
		;;
	esac
}

# Literals of a file's exact bytes, computed once per file.
declare -A LIT_CSV LIT_RAW
sql_text_lit() { printf "'"; sed "s/'/''/g" "$1"; printf "'"; }
sql_bytea_lit() { printf "'\\\\x"; od -An -v -tx1 "$1" | tr -d ' \n'; printf "'::bytea"; }
lit_load() {
	[ -n "${LIT_CSV[$1]:-}" ] && return
	LIT_CSV[$1]=$(sql_text_lit "$1")
	LIT_RAW[$1]=$(sql_bytea_lit "$1")
}

# ids_of KIND UID: the seeded contacts of a tenant as a bigint[] literal, in $IDS
ids_of() {
	local n max=10 list=""
	case $1 in demo) max=12 ;; shadow) max=11 ;; esac
	for ((n = 1; n <= max; n++)); do list+="${list:+,}$(( $2 * 100 + n ))"; done
	IDS="'{$list}'::bigint[]"
}

# Instances: registered calls.  inst_tmpl is a template of
# test/citus/calls.txt; the others say where and for whom it runs.
inst_call=() inst_label=() inst_uid=() inst_kind=() inst_path=() inst_file=() inst_tmpl=()
declare -A inst_same inst_pushed OUT_MD5

declare -A LAST_OF	# uid -> its last instance: the one its final rows are compared after

# register NAME LABEL UID KIND PATH FIXTURE-FILE TEMPLATE: a new instance, its index in $I
register() {
	I=${#inst_call[@]}
	inst_call+=("$1") inst_label+=("$2") inst_uid+=("$3") inst_kind+=("$4")
	inst_path+=("$5") inst_file+=("$6") inst_tmpl+=("$7")
	[ "$3" = 0 ] || LAST_OF[$3]=$I
}

# expand I: the SQL of instance I, in $SQL
expand() {
	local i=$1 t=${inst_tmpl[$1]} uid=${inst_uid[$1]} f=${inst_file[$1]} name
	name=${f##*/}
	name=${name%.csv}
	ids_of "${inst_kind[$i]}" "$uid"
	t=${t//'{uid}'/"$uid"}
	t=${t//'{ids}'/"$IDS"}
	t=${t//'{name}'/"$name"}
	if [[ $t == *'{raw}'* || $t == *'{csv}'* ]]; then
		lit_load "$f"
		t=${t//'{raw}'/"${LIT_RAW[$f]}"}
		t=${t//'{csv}'/"${LIT_CSV[$f]}"}
	fi
	SQL=$t
}

# what differs legitimately between two servers: event ids, now(), the
# shard id Citus appends to the names of a shard's constraints
normalise() {
	sed -E -e 's/"(event_id|undone_event_id|undone_by)": [0-9]+/"\1": <id>/g' \
		-e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{2}(:[0-9]{2})?/<now>/g' \
		-e 's/"([a-z_]+)_[0-9]{6,}"/"\1"/g'
}

# messages FILE: psql's stderr without its file:line prefix and without
# DEBUG and LOG messages (their DETAIL lines included); "@@@ I" markers
# are kept
messages() {
	sed -E 's/^psql:[^:]*:[0-9]+: //' "$1" | awk '
		/^@@@ [0-9]+$/ { skip = 0; print; next }
		/^(DETAIL|HINT|CONTEXT|STATEMENT|QUERY):  / { if (!skip) print; next }
		/^[A-Z]+:  / { skip = ($0 ~ /^(DEBUG|LOG):/) }
		!skip'
}

# run_batch SIDE I...: run instances on SIDE "cluster" (one session per
# path and node, each call as its path makes it, in order) or "plain" (one
# session on the plain node, every call top-level, in order).  Instance I
# gets $scratch/iI.SIDE.out: its rows, then its messages, normalised.
# Cluster calls that Citus pushed down to a worker get inst_pushed[I].
run_batch() {
	local side=$1 i key
	shift
	local -A groups=()
	local order=()
	for i in "$@"; do
		if [ "$side" = plain ]; then
			key="plain plain"
		else
			node_for "${inst_path[$i]}" "${inst_uid[$i]}"
			key="${inst_path[$i]} $NODE"
		fi
		[ -n "${groups[$key]:-}" ] || order+=("$key")
		groups[$key]+=" $i"
	done
	for key in "${order[@]}"; do
		# shellcheck disable=SC2086
		run_session "$side" $key ${groups[$key]}
	done
}

session_no=0
run_session() {	# SIDE PATH NODE I...
	local side=$1 path=$2 node=$3 i txn=0 f
	shift 3
	session_no=$((session_no + 1))
	f=$scratch/s$session_no
	[ "$side" = cluster ] && txn=${PATH_TXN[$path]}
	{
		echo '\set VERBOSITY default'
		echo '\set SHOW_CONTEXT never'
		[ "$node" != plain ] && echo 'SET client_min_messages = debug1;'
		for i in "$@"; do
			expand "$i"
			echo "\\echo @@@ $i"
			echo "\\warn @@@ $i"
			[ "$txn" = 1 ] && echo 'BEGIN;'
			printf '%s\n' "$SQL"
			[ "$txn" = 1 ] && echo 'COMMIT;'
		done
	} >"$f.sql"
	"$PGBIN/psql" -X -q -A -t -h "$AP_CITUS_DIR" -p "${PORT[$node]}" -U postgres -d postgres \
		-f "$f.sql" >"$f.stdout" 2>"$f.raw"
	# split: each instance's rows (truncating its file), then its messages
	normalise <"$f.stdout" | awk -v pre="$scratch/i" -v suf=".$side.out" '
		/^@@@ [0-9]+$/ { if (out) close(out); out = pre $2 suf; printf "" > out; next }
		out { print > out }'
	messages "$f.raw" | normalise | awk -v pre="$scratch/i" -v suf=".$side.out" '
		/^@@@ [0-9]+$/ { if (out) close(out); i = $2; out = pre i suf; next }
		out { print >> out }'
	# the raw stderr keeps the DEBUG lines: pushdowns
	sed -E 's/^psql:[^:]*:[0-9]+: //' "$f.raw" | awk -v pushed="$f.pushed" '
		/^@@@ [0-9]+$/ { i = $2; next }
		/pushing down the function call/ { print i > pushed }'
	if [ -s "$f.pushed" ]; then
		while read -r i; do inst_pushed[$i]=1; done <"$f.pushed"
	fi
}

# compare I...: inst_same[I]=1 where the cluster's output is the single node's
compare() {
	local i h file
	OUT_MD5=()
	while read -r h file; do
		file=${file##*/}
		OUT_MD5[$file]=$h
	done < <(cd "$scratch" && for i in "$@"; do
			[ -f "i$i.cluster.out" ] || : >"i$i.cluster.out"
			[ -f "i$i.plain.out" ] || : >"i$i.plain.out"
			echo "i$i.cluster.out"; echo "i$i.plain.out"
		done | xargs md5sum)
	for i in "$@"; do
		[ "${OUT_MD5[i$i.cluster.out]}" = "${OUT_MD5[i$i.plain.out]}" ] && inst_same[$i]=1
	done
}

# seed UID:KIND...: load tenants on the cluster and on the plain node
seed() {
	local uids=() kinds=() x ua ka
	for x in "$@"; do uids+=("${x%%:*}"); kinds+=("${x#*:}"); done
	ua=$(IFS=,; echo "${uids[*]}")
	ka=$(IFS=,; echo "${kinds[*]}")
	nq coord "SELECT aptest.seed_all('{$ua}', '{$ka}')" >/dev/null \
		&& nq plain "SELECT aptest.seed_all('{$ua}', '{$ka}')" >/dev/null
}

# load_states UID...: state_c[UID] and state_p[UID], the md5 of what the
# tenant holds on the cluster and on the plain node
declare -A state_c state_p
load_states() {
	[ $# -gt 0 ] || return 0
	local arr u h
	arr=$(IFS=,; echo "$*")
	while IFS=$'\t' read -r u h; do [ -n "$u" ] && state_c[$u]=$h; done \
		< <(nq coord "SELECT uid, md5(state) FROM aptest.states('{$arr}')")
	while IFS=$'\t' read -r u h; do [ -n "$u" ] && state_p[$u]=$h; done \
		< <(nq plain "SELECT uid, md5(state) FROM aptest.states('{$arr}')")
}

first_diff() {	# A B: the first lines that differ, for diagnostics
	diff "$1" "$2" | grep -E '^[<>]' | head -4 | cut -c1-300
}

# mismatch_cause I: why instance I differs from the single node (empty if
# it does not): the cluster's first error if the single node had no such
# error, else what differs
mismatch_cause() {
	local i=$1 d=$scratch/i$1 u=${inst_uid[$1]} err
	CAUSE=
	if [ -z "${inst_same[$i]:-}" ]; then
		err=$(grep -m1 -E '^(ERROR|FATAL|PANIC):|connection to server|server closed' "$d.cluster.out")
		if [ -n "$err" ] && ! grep -qxF -- "$err" "$d.plain.out"; then
			CAUSE=$err
		else
			CAUSE="result differs (< cluster, > single node)"
		fi
	elif rows_differ "$i"; then
		CAUSE="same result, but the tenant's rows differ afterwards (< cluster, > single node)"
	fi
}

# rows_differ I: true when I is its tenant's last call and the tenant's
# rows differ between the cluster and the single node
rows_differ() {
	local u=${inst_uid[$1]}
	[ "$u" != 0 ] && [ "${LAST_OF[$u]}" = "$1" ] && [ "${state_c[$u]:-x}" != "${state_p[$u]:-y}" ]
}

mismatch_example() {	# I: the first differing lines
	local i=$1 d=$scratch/i$1 u=${inst_uid[$1]}
	if [ -z "${inst_same[$i]:-}" ]; then
		first_diff "$d.cluster.out" "$d.plain.out"
	else
		nq coord "SELECT aptest.state($u)" >"$d.state.cluster" 2>&1
		nq plain "SELECT aptest.state($u)" >"$d.state.plain" 2>&1
		first_diff "$d.state.cluster" "$d.state.plain"
	fi
}

label_of() {	# I: fixture (or call) and the tenant with its worker, in $LABEL
	local i=$1 u=${inst_uid[$1]}
	LABEL=${inst_label[$i]#"${inst_call[$i]}"}
	LABEL=${LABEL# }
	[ -n "$LABEL" ] || LABEL=${inst_call[$i]}
	[ "$u" = 0 ] && return
	[ -n "${WORKER_OF[$u]:-}" ] || place "$u"
	LABEL+=" (tenant $u on ${WORKER_OF[$u]})"
}

# report "I..." DESCRIPTION: one TAP line for instances that must all give
# what the single node gives (results and the tenant's rows); the
# mismatches are listed grouped by cause
report() {
	local insts=$1 desc=$2 i n=0 bad=0 c
	local -A by_cause=() count=() first=()
	local causes=() notes=()
	for i in $insts; do
		n=$((n + 1))
		[ -n "${inst_same[$i]:-}" ] && ! rows_differ "$i" && continue
		mismatch_cause "$i"
		[ -n "$CAUSE" ] || continue
		bad=$((bad + 1))
		if [ -z "${first[$CAUSE]:-}" ]; then
			causes+=("$CAUSE")
			first[$CAUSE]=$i
		fi
		count[$CAUSE]=$(( ${count[$CAUSE]:-0} + 1 ))
		label_of "$i"
		by_cause[$CAUSE]+="${by_cause[$CAUSE]:+; }$LABEL"
	done
	for c in "${causes[@]}"; do
		notes+=("${count[$c]} of $n: $c" "$(fold -s -w 150 <<<"in: ${by_cause[$c]}" | sed 's/^/   /')")
		[[ $c == ERROR* ]] || notes+=("$(mismatch_example "${first[$c]}" | cut -c1-300 | sed 's/^/   /')")
	done
	ok $bad "$desc ($((n - bad))/$n)" "$(printf '%s\n' "${notes[@]}")"
}

# run_call PATH UID SQLFILE PREFIX: one call in a session of its own, as
# PATH makes it (PATH plain: top-level on the plain node).  PREFIX.stdout
# gets the rows, PREFIX.out the rows and messages, normalised.  Returns
# psql's status.
run_call() {
	local path=$1 uid=$2 sql=$3 prefix=$4 txn=0 rc
	node_for "$path" "$uid"
	[ "$path" = plain ] || txn=${PATH_TXN[$path]}
	{
		echo '\set VERBOSITY default'
		echo '\set SHOW_CONTEXT never'
		[ "$txn" = 1 ] && echo 'BEGIN;'
		cat "$sql"
		[ "$txn" = 1 ] && echo 'COMMIT;'
	} >"$prefix.sql"
	"$PGBIN/psql" -X -q -A -t -h "$AP_CITUS_DIR" -p "${PORT[$NODE]}" -U postgres -d postgres \
		-f "$prefix.sql" >"$prefix.stdout" 2>"$prefix.raw"
	rc=$?
	{ normalise <"$prefix.stdout"; messages "$prefix.raw" | normalise; } >"$prefix.out"
	return $rc
}
