"""Versioned prompts: released files are locked by hash; changing one fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from serving.email.prompts import PromptError, PromptLibrary, default_dir

REPO_PROMPTS = default_dir()


def test_every_released_prompt_matches_the_lock():
    """Fails when someone edits a released prompt file: add a new version instead."""
    library = PromptLibrary(REPO_PROMPTS, check_lock=False)
    assert library.lock, "prompts/prompts.lock is empty"
    assert library.lock_problems() == []
    for needed in ("retention-email@1", "fallback-en@1", "fallback-de@1"):
        assert library.released(library.get(needed)), needed


@pytest.fixture
def copy(tmp_path) -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(REPO_PROMPTS, root)
    return root


def test_an_edited_released_file_is_refused(copy):
    path = copy / "retention-email@1.jinja"
    path.write_text(path.read_text().replace("warm", "pushy"))
    with pytest.raises(PromptError, match=r"released prompt retention-email@1.jinja changed"):
        PromptLibrary(copy)


def test_a_deleted_released_file_is_refused(copy):
    (copy / "fallback" / "fallback-de@1.jinja").unlink()
    with pytest.raises(PromptError, match="missing"):
        PromptLibrary(copy)


def test_a_new_version_is_a_draft_until_released(copy):
    text = (copy / "retention-email@1.jinja").read_text().replace("version: 1", "version: 9")
    (copy / "retention-email@9.jinja").write_text(text.replace("warm", "brief"))
    library = PromptLibrary(copy)
    new = library.get("retention-email@9")
    assert not library.released(new) and library.latest("retention-email") is new
    assert library.release_all() == ["retention-email@9.jinja"]
    assert PromptLibrary(copy).released(PromptLibrary(copy).get("retention-email@9"))


def test_front_matter_must_match_the_file_name(copy):
    text = (copy / "retention-email@1.jinja").read_text()
    (copy / "retention-email@8.jinja").write_text(text)  # says version 1 inside
    with pytest.raises(PromptError, match="must match the file name"):
        PromptLibrary(copy)


def test_render_is_strict_about_missing_variables():
    prompt = PromptLibrary().get("retention-email@1")
    with pytest.raises(PromptError, match="undefined"):
        prompt.render("system", dealer_name="Velo Haus")
    assert prompt.params.max_tokens > 0 and 0 < prompt.params.temperature <= 1
