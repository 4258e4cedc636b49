"""The docs' fenced blocks, read as the docs tests run them (tests/integration/test_docs.py).

Pure: Markdown in, blocks out; a command's output compared with the one a page shows, and the
page rewritten with new output. What each kind of block means:

- `sh` (or `bash`, `shell`): a script, run as it is; it must succeed.
- `console`: `$ ` lines are commands (a line ending in `\\` goes on), the lines after each are
  what it prints, stdout and stderr as a terminal shows them.
- a block with a `title="NAME"` (`yaml`, `hcl`, ...): a file the commands after it use,
  written as NAME.
- `yaml` without a title, every document a Kubernetes object: applied with `kubectl apply`.
- anything else, and a block marked `<!-- docs-test: skip REASON -->` on the line before its
  fence, is not run; an unmarked block the tests cannot run is an error, so none is left out
  unnoticed.
"""

from __future__ import annotations

import dataclasses
import re

import yaml

SCRIPT = frozenset({"sh", "bash", "shell"})
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<lang>[\w-]*)(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<verb>\w+)\s*(?P<reason>.*?)\s*-->\s*$")
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
# What legitimately differs from one run to the next: an AGE column's value (`9s`, `2m3s`,
# `45m`, `3h`) and the padding of table columns, which follows the widest value.
AGE = re.compile(r"(?<!\S)\d+[smhd](\d+[smh])?(?!\S)")
SPACES = re.compile(r"[ \t]+")


class BlockError(ValueError):
    """A block the tests cannot run and that is not marked as such."""


@dataclasses.dataclass(frozen=True)
class Command:
    """One `$ ` command of a console block and the output the page shows for it."""

    command: str
    output: str


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block: where it is (1-based line of its fence), its kind and text."""

    page: str
    line: int
    lang: str
    title: str
    text: str
    skip: str  # the reason it is not run, or ""
    fence: str  # the whole block as it stands in the page, fences included

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def action(self) -> str:
        """What the tests do with it: skip, script, console, file or apply."""
        if self.skip:
            return "skip"
        if self.lang in SCRIPT:
            return "script"
        if self.lang == "console":
            return "console"
        if self.title:
            return "file"
        if self.lang == "yaml" and _manifests(self.text):
            return "apply"
        raise BlockError(
            f"{self.where}: a ```{self.lang} block the docs tests cannot run; give a yaml file a "
            'title="NAME", or mark the block with <!-- docs-test: skip REASON --> on the line '
            "before it"
        )

    def commands(self) -> list[Command]:
        """A console block's commands, each with the output shown after it."""
        commands: list[Command] = []
        lines = self.text.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                raise BlockError(f"{self.where}: a console block starts with a `$ ` command")
            command = [lines[i][2:]]
            while command[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                command.append(lines[i])
            i += 1
            output: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            commands.append(Command("\n".join(command), "\n".join(output)))
        return commands


def _manifests(text: str) -> bool:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return False
    return bool(documents) and all(
        isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in documents
    )


def blocks(page: str, markdown: str) -> list[Block]:
    """Every fenced block of a page, in order."""
    found: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, ticks = opening["indent"], opening["ticks"]
        end = i + 1
        while end < len(lines) and lines[end].strip() != ticks:
            end += 1
        if end == len(lines):
            raise BlockError(f"{page}:{i + 1}: a fence that is never closed")
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : end]
        ]
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        skip = ""
        if marker:
            if marker["verb"] != "skip" or not marker["reason"]:
                raise BlockError(f"{page}:{i}: a marker is `<!-- docs-test: skip REASON -->`")
            skip = marker["reason"]
        title = TITLE.search(opening["info"])
        found.append(
            Block(
                page=page, line=i + 1, lang=opening["lang"], title=title["title"] if title else "",
                text="\n".join(body), skip=skip, fence="\n".join(lines[i : end + 1]),
            )
        )  # fmt: skip
        i = end + 1
    return found


def normalised(output: str) -> str:
    """An output with what varies between runs taken out: ages, column padding, blank ends."""
    lines = [SPACES.sub(" ", AGE.sub("AGE", line)).rstrip() for line in output.splitlines()]
    return "\n".join(lines).strip("\n")


def with_outputs(block: Block, outputs: list[str]) -> str:
    """The console block's fenced text with each command's output replaced by `outputs`."""
    opening, *_, closing = block.fence.splitlines()
    indent = FENCE.match(opening)["indent"]  # type: ignore[index]
    body: list[str] = []
    for command, output in zip(block.commands(), outputs, strict=True):
        body.extend(("$ " + command.command).splitlines())
        body.extend(line.rstrip() for line in output.rstrip("\n").splitlines())
    return "\n".join([opening, *(indent + line if line else line for line in body), closing])
