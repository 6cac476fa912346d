"""A small reader of Dockerfile instructions (continuation lines joined, comments dropped).

``parse_dockerfile(path, build_args)`` also resolves a parametrised file the way ``docker build
--build-arg ...`` builds its default target: ``${ARG}`` references replaced, only the stages the last
stage needs (its ``FROM`` chain and ``COPY --from`` sources), and the last stage flattened with the
stages it is built ``FROM``, so that its USER, HEALTHCHECK and CMD are those of the image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The one Dockerfile of the gateway and worker images; the build arg SERVICE picks the image.
SERVICE_DOCKERFILE = REPO / "services" / "Dockerfile"


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


def parse_dockerfile(path: Path, build_args: dict[str, str] | None = None) -> Dockerfile:
    """The file's instructions; with ``build_args`` (even empty), those of the image it builds."""
    dockerfile = _read_instructions(path)
    return dockerfile if build_args is None else _resolve(dockerfile, build_args)


def service_dockerfile(service: str) -> Dockerfile:
    """The image of one service: ``services/Dockerfile`` built with ``--build-arg SERVICE=<service>``."""
    return parse_dockerfile(SERVICE_DOCKERFILE, {"SERVICE": service})


def compose_dockerfile(build: dict) -> Dockerfile:
    """The image a docker-compose ``build:`` section builds (its dockerfile and args)."""
    return parse_dockerfile(REPO / build["dockerfile"], {k: str(v) for k, v in build.get("args", {}).items()})


def _substitute(text: str, values: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` of the given ARGs replaced; anything else (``$PATH``, ``$HOSTNAME``) left alone."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def _resolve(dockerfile: Dockerfile, build_args: dict[str, str]) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[tuple[str, str, list[Instruction]]] = []  # (name, base, instructions after FROM)
    for instruction in dockerfile.instructions:
        if instruction.keyword == "FROM":
            words = _substitute(instruction.args, global_args).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append((name, words[0], []))
        elif not stages:
            assert instruction.keyword == "ARG", f"{dockerfile.path}: {instruction} before the first FROM"
            arg, _, default = instruction.args.partition("=")
            global_args[arg] = build_args.get(arg, default)
        else:
            stages[-1][2].append(instruction)
    by_name = {name: (base, body) for name, base, body in stages}
    scoped: dict[str, list[Instruction]] = {}
    for name, _, body in stages:  # ARGs are scoped per stage: substitute what each stage declares
        values: dict[str, str] = {}
        out = []
        for instruction in body:
            if instruction.keyword == "ARG":
                arg, sep, default = instruction.args.partition("=")
                values[arg] = build_args.get(arg, default if sep else global_args.get(arg, ""))
            out.append(Instruction(instruction.keyword, _substitute(instruction.args, values)))
        scoped[name] = out

    def chain(name: str) -> tuple[str, list[Instruction]]:
        """The root image and every instruction of the stage with those of the stages it is built FROM."""
        base = by_name[name][0]
        if base in by_name:
            root, inherited = chain(base)
            return root, inherited + scoped[name]
        return base, scoped[name]

    def sources(name: str) -> set[str]:
        """Stages whose files the stage's chain copies (COPY --from=<stage>), transitively."""
        found: set[str] = set()
        for instruction in chain(name)[1]:
            match = re.match(r"--from=(\S+)", instruction.args)
            if instruction.keyword == "COPY" and match and match.group(1) in by_name:
                found |= {match.group(1)} | sources(match.group(1))
        return found

    final = stages[-1][0]
    kept = [name for name, _, _ in stages if name in sources(final) and name != final]
    instructions = [Instruction("ARG", f"{arg}={value}") for arg, value in global_args.items()]
    for name in [*kept, final]:
        root, body = chain(name)
        instructions += [Instruction("FROM", f"{root} AS {name}"), *body]
    return Dockerfile(dockerfile.path, tuple(instructions))


def _read_instructions(path: Path) -> Dockerfile:
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
