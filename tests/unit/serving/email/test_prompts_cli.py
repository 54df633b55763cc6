"""`ocs prompts list | render | release`."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from serving.email.prompts import default_dir
from tests.unit.serving.email.readme import example_body

runner = CliRunner()


@pytest.fixture
def prompts(tmp_path, monkeypatch):
    root = tmp_path / "prompts"
    shutil.copytree(default_dir(), root)
    monkeypatch.setenv("OCS_PROMPTS_DIR", str(root))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def test_list_shows_released_prompts(prompts):
    out = runner.invoke(cli.app, ["prompts", "list"])
    assert out.exit_code == 0, out.output
    assert "retention-email@1" in out.output and "released" in out.output
    (prompts / "retention-email@1.jinja").write_text("---\nid: retention-email\nversion: 1\n---\n")
    out = runner.invoke(cli.app, ["prompts", "list"])
    assert out.exit_code == 1 and "changed" in out.output


def test_render_shows_the_messages_for_an_order(prompts, tmp_path):
    body = tmp_path / "order.json"
    body.write_text(json.dumps(example_body()))
    out = runner.invoke(cli.app, ["prompts", "render", "retention-email@1", "--order", str(body)])
    assert out.exit_code == 0, out.output
    assert "--- system ---" in out.output and "Autohaus Berg" in out.output
    assert "5% off your order (code WINTER5)" in out.output
    out = runner.invoke(cli.app, ["prompts", "render", "fallback-de@1", "--order", str(body)])
    assert out.exit_code == 0 and "Hallo Anna" in out.output
    out = runner.invoke(cli.app, ["prompts", "render", "nope@1", "--order", str(body)])
    assert out.exit_code == 2 and "unknown prompt" in out.output


def test_release_adds_new_versions_only(prompts):
    text = (prompts / "retention-email@1.jinja").read_text().replace("version: 1", "version: 9")
    (prompts / "retention-email@9.jinja").write_text(text)
    out = runner.invoke(cli.app, ["prompts", "release"])
    assert out.exit_code == 0 and "retention-email@9.jinja" in out.output
    lock = json.loads((prompts / "prompts.lock").read_text())
    assert set(lock) == {
        "retention-email@1.jinja",
        "retention-email@2.jinja",
        "retention-email@9.jinja",
        "fallback/fallback-en@1.jinja",
        "fallback/fallback-de@1.jinja",
    }
