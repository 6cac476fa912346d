"""A small reader of Dockerfile instructions (continuation lines joined, comments dropped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def has(self, keyword: str) -> bool:
        return bool(self.all(keyword))

    def json_form(self, keyword: str) -> list[str]:
        """The last CMD/ENTRYPOINT of the file, which must be written in JSON (exec) form."""
        args = self.all(keyword)[-1]
        return json.loads(args)

    def stages(self) -> list[list[Instruction]]:
        """Instructions grouped per build stage (each starting at its FROM)."""
        groups: list[list[Instruction]] = []
        for instruction in self.instructions:
            if instruction.keyword == "FROM":
                groups.append([])
            if groups:
                groups[-1].append(instruction)
        return groups


def parse_dockerfile(path: Path) -> Dockerfile:
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: dangling line continuation"
    return Dockerfile(path, tuple(instructions))
