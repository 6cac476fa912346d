#!/bin/sh
# Seed TF Serving's model repository from the models image (one-shot, idempotent, add-only).
#
# - Every numbered version directory of every bundled model that the repository lacks is copied
#   under a hidden temporary name, then renamed into place: serving never sees a half-written
#   version (TF Serving ignores directory names that are not numbers). Versions already in the
#   repository are never touched.
# - models.config is installed only when the repository has none: after the first start it
#   belongs to `fakeweb model deploy|promote|rollback`, which rewrite its labels and version policy.
# - batching_parameters.txt is configuration that ships with the image: always refreshed
#   (TF Serving reads it at start-up).
set -eu

SRC_MODELS="${SRC_MODELS:-/bundle/models}"
SRC_CONFIG="${SRC_CONFIG:-/bundle/tfserving}"
DEST="${DEST:-/models}"
TAG="$(hostname 2>/dev/null || echo init).$$"

install_file() {  # install_file NAME: copy $SRC_CONFIG/NAME into $DEST via a temp file + rename
    if [ ! -f "$SRC_CONFIG/$1" ]; then
        echo "models-init: $SRC_CONFIG/$1 is missing" >&2
        exit 1
    fi
    cp "$SRC_CONFIG/$1" "$DEST/.$1.$TAG"
    mv -f "$DEST/.$1.$TAG" "$DEST/$1"
}

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
        tmp="$DEST/$name/.incoming-$version.$TAG"
        rm -rf "$tmp"
        cp -R "$version_dir" "$tmp"
        if [ -e "$DEST/$name/$version" ]; then  # another seeder got there first
            rm -rf "$tmp"
            continue
        fi
        mv "$tmp" "$DEST/$name/$version"
        echo "models-init: added $name/$version"
        added=$((added + 1))
    done
done

if [ -f "$DEST/models.config" ]; then
    echo "models-init: keeping $DEST/models.config (managed by fakeweb model ...)"
else
    install_file models.config
fi
install_file batching_parameters.txt
echo "models-init: $added new version(s) in $DEST"
