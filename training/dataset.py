"""The labelled image list and its grouped train/val/test split.

Rows come from ``MANIFEST.tsv`` when the folder has one, otherwise from the layout
``<source>/<label>/<image>``. The split never puts one group on two sides: a DFDC fake and
the real video it was made from are one group (``faceswap_dfdc/pairs.tsv``), FF++ frames are
grouped by every video id in the file name (``Deepfakes_033_097_0.jpg`` joins 033 and 097),
and every other file is its own group.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")
# Sources whose every image is kept for the test split: an out-of-domain false-positive check.
TEST_ONLY_SOURCES = frozenset({"wild_press_photos", "wild_group_photos"})
FFPP_NAME = re.compile(r"^(?P<method>[A-Za-z0-9]+)_(?P<ids>\d+(?:_\d+)*)_(?P<frame>\d+)$")


@dataclass(frozen=True)
class Item:
    """One labelled image: ``path`` is relative to the data folder."""

    source: str
    label: str
    path: str

    @property
    def target(self) -> int:
        """1 for a manipulated image, 0 for a real one."""
        return 1 if self.label == "fake" else 0


def manifest_sha256(data_dir: Path) -> str | None:
    """sha256 of ``MANIFEST.tsv`` (the data version a model card records), or None without one."""
    manifest = Path(data_dir) / "MANIFEST.tsv"
    if not manifest.is_file():
        return None
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def list_items(data_dir: Path, sources: set[str] | None = None, suffixes: set[str] = IMAGE_SUFFIXES) -> list[Item]:
    """Files with ``suffixes`` (images by default) under ``data_dir``, from MANIFEST.tsv when present,
    else from the folder layout ``<source>/<label>/<file>``."""
    data_dir = Path(data_dir)
    manifest = data_dir / "MANIFEST.tsv"
    items: list[Item] = []
    if manifest.is_file():
        with manifest.open(newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                items.append(Item(row["source"], row["label"], row["path"]))
    else:
        for path in sorted(data_dir.glob("*/*/*")):
            source, label = path.parts[-3], path.parts[-2]
            items.append(Item(source, label, path.relative_to(data_dir).as_posix()))
    return [
        item
        for item in items
        if item.label in LABELS
        and Path(item.path).suffix.lower() in suffixes
        and (sources is None or item.source in sources)
    ]


def ffpp_method(path: str) -> str:
    """FF++ manipulation method from a file name (``youtube`` for reals)."""
    match = FFPP_NAME.match(Path(path).stem)
    return match.group("method") if match else "unknown"


# The family of traces a fake leaves, for the per-family heads (training.finetune): blended swaps,
# expression re-enactment, GAN synthesis, Photoshop composites. Self-blended fakes count as swaps.
FAMILIES = ("swap", "reenact", "gan", "photoshop")
_SOURCE_FAMILY = {"faceswap_dfdc": "swap", "gan_stylegan2": "gan", "photoshop_ciplab": "photoshop"}


def manipulation_family(item: Item) -> str:
    """The fake's family (one of FAMILIES), "" for a real image or a source of no known family."""
    if item.label != "fake":
        return ""
    if item.source == "ffpp_c23":
        return "reenact" if ffpp_method(item.path) == "Face2Face" else "swap"
    return _SOURCE_FAMILY.get(item.source, "")


def report_group(item: Item) -> str:
    """Name under which results are reported: FF++ Face2Face apart from FF++ swaps."""
    if item.source == "ffpp_c23" and item.label == "fake":
        return "ffpp_c23_face2face" if ffpp_method(item.path) == "Face2Face" else "ffpp_c23_swap"
    return item.source


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def read_dfdc_pairs(data_dir: Path) -> list[tuple[str, str]]:
    """(real path, fake path) pairs from ``faceswap_dfdc/pairs.tsv``, relative to the data folder."""
    pairs_file = Path(data_dir) / "faceswap_dfdc" / "pairs.tsv"
    if not pairs_file.is_file():
        return []
    with pairs_file.open(newline="") as fh:
        return [
            (f"faceswap_dfdc/{row['real']}", f"faceswap_dfdc/{row['fake']}")
            for row in csv.DictReader(fh, delimiter="\t")
        ]


def lowdiff_fakes(data_dir: Path) -> set[str]:
    """DFDC fakes nearly identical to their real (``faceswap_dfdc/lowdiff_pairs.tsv``): likely audio-only fakes."""
    listed = Path(data_dir) / "faceswap_dfdc" / "lowdiff_pairs.tsv"
    if not listed.is_file():
        return set()
    with listed.open(newline="") as fh:
        return {f"faceswap_dfdc/{row['fake']}" for row in csv.DictReader(fh, delimiter="\t")}


def group_keys(items: list[Item], data_dir: Path) -> dict[str, str]:
    """Map each item path to its group: connected DFDC pairs, connected FF++ ids, else the file."""
    uf = _UnionFind()
    for item in items:
        uf.find(item.path)
    for real, fake in read_dfdc_pairs(data_dir):
        uf.union(real, fake)
    for item in items:
        if item.source == "ffpp_c23":
            match = FFPP_NAME.match(Path(item.path).stem)
            if match:
                for video_id in match.group("ids").split("_"):
                    uf.union(item.path, f"ffpp_id:{video_id}")
    return {item.path: uf.find(item.path) for item in items}


def grouped_split(
    items: list[Item], data_dir: Path, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 1
) -> dict[str, list[Item]]:
    """Split items into train/val/test by group, per source, with the given fractions."""
    keys = group_keys(items, data_dir)
    by_source: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        by_source[item.source][keys[item.path]].append(item)
    split: dict[str, list[Item]] = {name: [] for name in SPLITS}
    for source in sorted(by_source):
        groups = by_source[source]
        if source in TEST_ONLY_SOURCES:
            split["test"].extend(i for g in groups.values() for i in g)
            continue
        names = sorted(groups)
        random.Random(f"{seed}:{source}").shuffle(names)
        total = sum(len(groups[n]) for n in names)
        filled = 0
        for name in names:
            share = filled / total
            side = "train" if share < fractions[0] else "val" if share < fractions[0] + fractions[1] else "test"
            split[side].extend(groups[name])
            filled += len(groups[name])
    return split


def training_split(items: list[Item], data_dir: Path, seed: int = 1) -> dict[str, list[Item]]:
    """The grouped split training uses: likely audio-only DFDC fakes (``lowdiff_fakes``) are left out of
    train and val, where their unchanged face would teach the wrong label; test keeps every image."""
    split = grouped_split(items, data_dir, seed=seed)
    lowdiff = lowdiff_fakes(data_dir)
    for name in ("train", "val"):
        split[name] = [item for item in split[name] if item.path not in lowdiff]
    return split


def split_counts(split: dict[str, list[Item]]) -> dict[str, dict[str, dict[str, int]]]:
    """``{split: {source: {label: count}}}`` for the model card."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for name, items in split.items():
        counter = Counter((i.source, i.label) for i in items)
        per_source: dict[str, dict[str, int]] = defaultdict(dict)
        for (source, label), n in sorted(counter.items()):
            per_source[source][label] = n
        counts[name] = dict(per_source)
    return counts
