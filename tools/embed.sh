#!/bin/sh
# Write a C file defining `const char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len` from FILE.  Usage: tools/embed.sh NAME FILE
set -e
name=$1 file=$2
printf '/* Generated from %s by tools/embed.sh. */\n' "$file"
printf 'extern const char %s[];\nextern const unsigned long %s_len;\n' "$name" "$name"
printf 'const char %s[] = {\n' "$name"
od -An -v -tu1 "$file" | sed -e 's/  */,/g' -e 's/^,//' -e 's/$/,/'
printf '0 };\nconst unsigned long %s_len = sizeof(%s) - 1;\n' "$name" "$name"
