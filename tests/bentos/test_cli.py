"""`kimera serve` refuses to start a server that would have nothing to serve, and says what to do."""

from __future__ import annotations

from click.testing import CliRunner

from kimera.app.cli import main


def test_serve_without_a_promoted_model_says_how_to_get_one(kimera_home) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "3999"])
    assert result.exit_code == 2
    assert "nothing to serve: no model was promoted yet" in result.output
    assert "kimera demo" in result.output and "serving/promoted_model" in result.output
