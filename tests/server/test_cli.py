"""`aleph-embed serve` / `python -m aleph_embed.server`: cheap to import, clear when the extra is missing."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

from aleph_embed._config import ENV_SERVE_TOKEN
from aleph_embed.errors import ConfigurationError
from aleph_embed.server import LocalServer, ServerConfig
from aleph_embed.server.config import LOOPBACK, add_server_arguments
from aleph_embed.server.launcher import ServerStartError, stop_process

HEAVY = ("torch", "transformers", "fastapi", "uvicorn", "qdrant_client")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_cli_and_launcher_import_no_heavy_modules() -> None:
    result = run_python(
        "import sys, aleph_embed.cli, aleph_embed.server.cli, aleph_embed.server.launcher\n"
        "aleph_embed.cli.build_parser().parse_args(['serve', '--model', 'a=/tmp/a', '--port', '1'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_server_extra_names_the_install_command() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "from aleph_embed.cli import main\n"
        "sys.exit(main(['serve', '--port', '1']))"
    )
    assert result.returncode == 2
    assert "pip install 'aleph-embed[server]'" in result.stderr


def test_module_entry_point_rejects_a_bad_model_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aleph_embed.server", "--model", "no-path"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "NAME=PATH" in result.stderr


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aleph-embed serve")
    add_server_arguments(parser)
    return parser


def test_every_config_field_is_an_option_and_renders_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_SERVE_TOKEN, raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("t\n")
    config = ServerConfig(
        bind="0.0.0.0", port=1234, models={"a": "/m/a", "b": "/m/b"}, token="t", token_file=str(token_file),
        max_queue=3, max_batch_size=4, max_batch_tokens=100, batch_wait_ms=0.5, max_body_bytes=999,
        max_inflight_body_bytes=5000, max_connections=7, header_timeout=0.5, body_timeout=2.5, keep_alive_timeout=2,
        max_header_bytes=4096, max_prompt_items=3, max_controls=4, max_layers=5, max_tokenizer_length=6,
        prepare_threads=1,
        threads=2, parallel_passes=2, device="cpu", log_level="info", backend="onnx", precision="int8", cache_dir="/c",
        idle_timeout=60.0,
    )
    defaults = ServerConfig()
    assert all(getattr(config, spec.name) != getattr(defaults, spec.name) for spec in fields(ServerConfig)
               if spec.name != "fd")
    assert "t" not in config.to_args()  # the token comes from the file here, from the environment for LocalServer
    assert ServerConfig.from_args(serve_parser().parse_args(config.to_args())) == config
    assert ServerConfig.from_args(serve_parser().parse_args([])) == ServerConfig()
    on_socket = replace(config, fd=7)  # an inherited socket says where: no --bind, no --port on the command line
    rendered = on_socket.to_args()
    assert rendered[:2] == ["--fd", "7"] and "--port" not in rendered and "--bind" not in rendered
    assert ServerConfig.from_args(serve_parser().parse_args(rendered)) == replace(on_socket, bind=LOOPBACK, port=8000)


def test_the_token_comes_from_the_environment_or_a_file_and_is_never_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = serve_parser().parse_args
    monkeypatch.setenv(ENV_SERVE_TOKEN, "from-env")
    assert ServerConfig.from_args(parse([])).token == "from-env"
    (tmp_path / "token").write_text("from-file\n")
    assert ServerConfig.from_args(parse(["--token-file", str(tmp_path / "token")])).token == "from-file"
    for empty in (["--token", ""], ["--token", "  "]):
        with pytest.raises(ConfigurationError, match="empty"):
            ServerConfig.from_args(parse(empty))
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ConfigurationError, match="empty"):
        ServerConfig.from_args(parse(["--token-file", str(tmp_path / "token")]))
    monkeypatch.setenv(ENV_SERVE_TOKEN, "")
    with pytest.raises(ConfigurationError, match=f"{ENV_SERVE_TOKEN} is empty"):
        ServerConfig.from_args(parse([]))
    with pytest.raises(ConfigurationError, match="empty"):
        LocalServer(token="")
    result = subprocess.run(
        [sys.executable, "-m", "aleph_embed.server", "--token", ""], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "empty" in result.stderr and "Traceback" not in result.stderr


def test_host_is_a_deprecated_alias_of_bind(capsys: pytest.CaptureFixture[str]) -> None:
    assert ServerConfig.from_args(serve_parser().parse_args(["--host", "0.0.0.0"])).bind == "0.0.0.0"
    assert "aleph-embed serve: --host is deprecated, use --bind" in capsys.readouterr().err
    assert ServerConfig.from_args(serve_parser().parse_args(["--bind", "::1"])).bind == "::1"
    assert capsys.readouterr().err == ""


def test_local_server_command_comes_from_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = LocalServer(models={"m": tmp_path}, token="secret-t", max_queue=2, extra_args=["--device", "cpu"],
                         config=ServerConfig(bind="0.0.0.0", port=1, batch_wait_ms=0))
    with open(os.devnull, "wb") as output:
        process = server.launch(output)  # binds the socket the server inherits, then starts it
    try:
        command = process.args
        assert command[1:3] == ["-m", "aleph_embed.server"] and "secret-t" not in " ".join(command)
        assert "--port" not in command and str(server.port) not in command and server.port not in (None, 1)
        monkeypatch.setenv(ENV_SERVE_TOKEN, "secret-t")  # how LocalServer passes it
        config = ServerConfig.from_args(serve_parser().parse_args(command[3:]))
        assert config == ServerConfig(
            fd=int(command[command.index("--fd") + 1]), models={"m": str(tmp_path)}, token="secret-t", max_queue=2,
            batch_wait_ms=0, device="cpu",
        )
        assert server.default_model == "m" and server.token == "secret-t" and server.max_queue == 2
    finally:
        stop_process(process)
        server.stop()


def test_launcher_reports_why_the_server_did_not_start(tmp_path: Path) -> None:
    server = LocalServer(models={"broken": tmp_path}, startup_timeout=60)
    with pytest.raises(ServerStartError, match="not a Hugging Face model directory") as raised:
        server.start()
    assert str(tmp_path) in str(raised.value) and server.pid is None


def test_security_md_lists_every_limit_with_its_flag() -> None:
    """SECURITY.md holds the generated table; every size and time bound of ServerConfig is in it."""
    from aleph_embed.server.limits import limits_table

    names = [spec.name for spec in fields(ServerConfig)]
    bounds = {name for name in names if name.startswith("max_") or name.endswith("_timeout")}
    marked = {spec.name for spec in fields(ServerConfig) if spec.metadata["option"].limit}
    assert bounds - {"idle_timeout"} <= marked  # idle_timeout ends the server, it bounds nobody's use of it
    table = limits_table()
    assert all(f"`--{name.replace('_', '-')}`" in table for name in marked)
    security = (Path(__file__).resolve().parents[2] / "SECURITY.md").read_text()
    assert table in security, "SECURITY.md: paste aleph_embed.server.limits.limits_table()"


def test_passes_run_side_by_side_on_onnx_runtime_and_one_at_a_time_on_torch() -> None:
    assert ServerConfig(threads=2).passes == (2, 1)
    assert ServerConfig(threads=16).passes == (4, 4)  # at most 4 by default, the threads shared out
    assert ServerConfig(threads=2, backend="torch").passes == (1, 2)
    assert ServerConfig(threads=2, precision="bf16").passes == (1, 2)
    assert ServerConfig(threads=8, parallel_passes=3).passes == (3, 2)
    assert ServerConfig(threads=1, parallel_passes=4).passes == (4, 1)


def test_a_malformed_number_is_named_by_its_type(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value, kind in (("--parallel-passes", "x", "int"), ("--idle-timeout", "soon", "float")):
        with pytest.raises(SystemExit):
            serve_parser().parse_args([flag, value])
        assert f"invalid {kind} value: '{value}'" in capsys.readouterr().err
