#!/bin/sh
# Seed TF Serving's model repository from the models image (one-shot, idempotent).
#
# Copies every numbered version directory of every bundled model that the repository does not
# have yet (copy to a hidden temp name, then rename: serving never sees a half-written version;
# TF Serving ignores names that are not numbers), then installs the bundled models.config and
# batching parameters (temp file + rename). Versions already in the repository are never
# touched, so re-running it after building a newer models image only adds the new versions.
set -eu

SRC_MODELS="${SRC_MODELS:-/bundle/models}"
SRC_CONFIG="${SRC_CONFIG:-/bundle/tfserving}"
DEST="${DEST:-/models}"

mkdir -p "$DEST"
added=0
for model_dir in "$SRC_MODELS"/*/; do
    [ -d "$model_dir" ] || continue
    name=$(basename "$model_dir")
    for version_dir in "$model_dir"*/; do
        [ -d "$version_dir" ] || continue
        version=$(basename "$version_dir")
        case "$version" in
            '' | *[!0-9]*) continue ;;
        esac
        [ -e "$DEST/$name/$version" ] && continue
        mkdir -p "$DEST/$name"
        tmp="$DEST/$name/.incoming-$version"
        rm -rf "$tmp"
        cp -R "$version_dir" "$tmp"
        mv "$tmp" "$DEST/$name/$version"
        echo "models-init: added $name/$version"
        added=$((added + 1))
    done
done

for file in models.config batching_parameters.txt; do
    if [ -f "$SRC_CONFIG/$file" ]; then
        cp "$SRC_CONFIG/$file" "$DEST/.$file.tmp"
        mv "$DEST/.$file.tmp" "$DEST/$file"
    else
        echo "models-init: $SRC_CONFIG/$file is missing" >&2
        exit 1
    fi
done
echo "models-init: $added new version(s); config installed in $DEST"
