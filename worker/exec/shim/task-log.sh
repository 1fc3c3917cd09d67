#!/bin/bash
# task-log.sh FILE MAX_BYTES KEEP_FILES
# One per task stream (stdout, stderr): reads the stream from stdin and appends each line to FILE as
# `<epoch seconds>.<microseconds> <line>`, rotating FILE -> FILE.1 -> ... -> FILE.<KEEP_FILES-1> once it
# holds MAX_BYTES. Bash, not node: a task must cost a few hundred kilobytes of helpers, and bash's
# $EPOCHREALTIME timestamps a line without forking. Being the file's only writer, it rotates by rename
# and reopen, so no line is lost or copied twice and readers holding the old file can finish it.
set -u
export LC_ALL=C # ${#x} counts bytes, $EPOCHREALTIME uses a '.'
file=$1 max=$2 keep=$3
# A line longer than this is cut into several records, so one endless line cannot eat the node's memory.
chunk=16384

rotate() {
	local i
	for ((i = keep - 1; i > 1; i--)); do
		[[ -e $file.$((i - 1)) ]] && mv -f -- "$file.$((i - 1))" "$file.$i"
	done
	if ((keep > 1)); then mv -f -- "$file" "$file.1"; else : >"$file"; fi
	exec >>"$file"
	size=0
}

exec >>"$file"
size=$(wc -c <"$file")
cut=
while IFS= read -r -n "$chunk" line || [[ -n $line ]]; do
	# The newline right after a cut chunk ends that line; it is not an empty line of its own.
	if [[ -z $line && -n $cut ]]; then
		cut=
		continue
	fi
	cut=
	((${#line} == chunk)) && cut=1
	record="$EPOCHREALTIME $line"
	printf '%s\n' "$record"
	((size += ${#record} + 1))
	if ((size >= max)); then rotate; fi
done
