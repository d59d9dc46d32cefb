#!/bin/sh
# Rebuilds k8s-api-<tag>.binpb, the descriptor set protobuf request bodies are
# decoded with: every GA group version of k8s.io/api plus the apimachinery
# types they import, from upstream's own generated.proto files.
#
#   regenerate.sh <checkout of kubernetes/api> <checkout of kubernetes/apimachinery> [tag]
#
# Needs protoc (Debian: protobuf-compiler). Only this file's output is used at
# run time; no build step needs protoc.
set -eu
api=$1 machinery=$2 tag=${3:-v0.33.9}
out=$(cd "$(dirname "$0")" && pwd)/k8s-api-$tag.binpb
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/k8s.io/api" "$work/k8s.io/apimachinery"
git -C "$api" archive "$tag" | tar -x -C "$work/k8s.io/api" --wildcards '*generated.proto'
git -C "$machinery" archive "$tag" | tar -x -C "$work/k8s.io/apimachinery" --wildcards '*generated.proto'
cd "$work"
files=$(find k8s.io/api -path '*/v1/*' -o -path '*/v2/*' | grep generated.proto | sort)
# shellcheck disable=SC2086
protoc -I. --include_imports --descriptor_set_out="$out" $files 2>/dev/null
echo "wrote $out"
