"""Versioned prompt files: Jinja with YAML front matter, released versions locked by hash.

A file ``prompts/<id>@<version>.jinja`` starts with front matter (id, version, description,
parameters) and defines one Jinja block per message (``system``, ``user``; fallback templates:
``subject``, ``body``). ``prompts/prompts.lock`` maps each released file to its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from serving.email.engines.base import GenerationParams

LOCK_FILE = "prompts.lock"
_NAME = re.compile(r"^(?P<id>[a-z0-9-]+)@(?P<version>\d+)\.jinja$")
_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False
)


class PromptError(ValueError):
    """A prompt file is missing, malformed or changed after release; the message says which."""


def default_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class Prompt:
    id: str
    version: int
    description: str
    params: GenerationParams
    path: Path
    relpath: str
    text: str
    sha256: str

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def render(self, block: str, **variables: Any) -> str:
        """One block of the template, rendered with ``variables`` (strict: no missing names)."""
        template = _compiled(self.text)
        if block not in template.blocks:
            raise PromptError(f"{self.relpath} has no block {block!r}")
        try:
            parts = template.blocks[block](template.new_context(variables))
            return "".join(parts).strip()
        except TemplateError as exc:
            raise PromptError(f"{self.relpath}, block {block!r}: {exc}") from exc


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    return _ENV.from_string(text)


def parse(path: Path, root: Path) -> Prompt:
    raw = path.read_bytes()
    text = raw.decode()
    relpath = path.relative_to(root).as_posix()
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise PromptError(f"{relpath}: must start with YAML front matter between '---' lines")
    head, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(head) or {}
    match = _NAME.match(path.name)
    if not match:
        raise PromptError(f"{relpath}: file names look like <id>@<version>.jinja")
    if meta.get("id") != match["id"] or meta.get("version") != int(match["version"]):
        raise PromptError(f"{relpath}: front matter id/version must match the file name")
    try:
        params = GenerationParams(**(meta.get("parameters") or {}))
    except TypeError as exc:
        raise PromptError(f"{relpath}: bad parameters: {exc}") from exc
    try:
        _ENV.parse(body)
    except TemplateError as exc:
        raise PromptError(f"{relpath}: not a valid Jinja template: {exc}") from exc
    return Prompt(
        id=meta["id"],
        version=meta["version"],
        description=str(meta.get("description", "")),
        params=params,
        path=path,
        relpath=relpath,
        text=body,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


class PromptLibrary:
    """Every prompt under a directory, by ``id@version``; checked against the lock on load."""

    def __init__(self, root: Path | None = None, *, check_lock: bool = True):
        self.root = (root or default_dir()).resolve()
        if not self.root.is_dir():
            raise PromptError(f"prompt directory {self.root} does not exist (OCS_PROMPTS_DIR)")
        self.prompts: dict[str, Prompt] = {}
        for path in sorted(self.root.rglob("*.jinja")):
            prompt = parse(path, self.root)
            if prompt.ref in self.prompts:
                raise PromptError(f"{prompt.ref} is defined twice ({prompt.relpath})")
            self.prompts[prompt.ref] = prompt
        self.lock = read_lock(self.root)
        if check_lock:
            problems = self.lock_problems()
            if problems:
                raise PromptError("; ".join(problems))

    def get(self, ref: str) -> Prompt:
        if ref not in self.prompts:
            known = ", ".join(sorted(self.prompts)) or "none"
            raise PromptError(f"unknown prompt {ref!r}; known: {known}")
        return self.prompts[ref]

    def latest(self, prompt_id: str) -> Prompt:
        versions = [p for p in self.prompts.values() if p.id == prompt_id]
        if not versions:
            raise PromptError(f"no prompt with id {prompt_id!r}")
        return max(versions, key=lambda p: p.version)

    def released(self, prompt: Prompt) -> bool:
        return prompt.relpath in self.lock

    def lock_problems(self) -> list[str]:
        """Released files that changed or vanished: released versions are immutable."""
        by_path = {p.relpath: p for p in self.prompts.values()}
        problems = []
        for relpath, digest in sorted(self.lock.items()):
            prompt = by_path.get(relpath)
            if prompt is None:
                problems.append(f"released prompt {relpath} is missing")
            elif prompt.sha256 != digest:
                problems.append(
                    f"released prompt {relpath} changed (sha256 {prompt.sha256[:12]}, locked "
                    f"{digest[:12]}): add a new version instead of editing a released one"
                )
        return problems

    def release_all(self) -> list[str]:
        """Add every unreleased file to the lock (never rewrites a released entry)."""
        if self.lock_problems():
            raise PromptError("; ".join(self.lock_problems()))
        added = [p.relpath for p in self.prompts.values() if p.relpath not in self.lock]
        lock = {**self.lock, **{p.relpath: p.sha256 for p in self.prompts.values()}}
        (self.root / LOCK_FILE).write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
        self.lock = lock
        return sorted(added)


def read_lock(root: Path) -> dict[str, str]:
    path = root / LOCK_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise PromptError(f"{path.name} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{path.name} must map file paths to SHA-256 digests")
    return {str(k): str(v) for k, v in data.items()}
