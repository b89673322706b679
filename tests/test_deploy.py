"""docs/deploy.md and deploy/ checked against the product, without running Docker.

- deploy/docker-compose.yml parses as YAML; every service's image (and the Dockerfile it
  is built from) is named in docs/deploy.md;
- every environment variable the compose file sets or interpolates is a setting of the
  product (a field of `bot.config.Settings`, upper-cased) or one the postgres image
  documents, and docs/deploy.md names it; every KAM_/SLACK_/DATABASE_/OPENAI_ name the doc
  mentions is a setting (renaming a setting fails here until the doc and compose follow);
- every `kam ...` command in the doc's code and in the compose file exists in `bot.cli.app`,
  with the options it is shown with;
- the compose file's wiring: replicas start after the one-shot `kam db upgrade`, probe the
  bot's real /healthz or /readyz, stop slower than KAM_SHUTDOWN_GRACE_S, and reach the
  Chroma server where `chroma run` listens; the image installs the Makefile's torch first,
  and the package declares the PostgreSQL driver the compose file's DATABASE_URL names.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.slack.server import HEALTH_PATH, READY_PATH

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deploy.md"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
MAKEFILE = ROOT / "Makefile"
PYPROJECT = ROOT / "pyproject.toml"

SETTINGS = {name.upper() for name in Settings.model_fields}
# Variables of the official postgres image (https://hub.docker.com/_/postgres), not ours.
IMAGE_VARIABLES = {"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_INITDB_ARGS",
                   "PGDATA"}
# Names that look like settings of ours wherever they appear in the doc.
OWN_NAME = re.compile(r"\b(?:KAM|SLACK|DATABASE|OPENAI)_[A-Z0-9_]+\b")
INTERPOLATED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# `kam` as a command word: followed by a lowercase word (a command), not part of a path or name.
KAM_CALL = re.compile(r"(?:^|(?<=[\s/(]))kam[ \t]+(?=[a-z])")
SHELL_STOP = {"&&", "||", "|", ";", ">", ">>", "<", "2>&1"}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "deploy/docker-compose.yml has no services")
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _replicas(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services running `kam serve`."""
    return {name: s for name, s in services.items() if _argv(s)[:2] == ["kam", "serve"]}


def _environment(service: dict[str, Any]) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return set(env)
    return {str(item).split("=", 1)[0] for item in env}


def _code(text: str) -> list[str]:
    """The lines of the doc's fenced code blocks, and its inline code spans."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return lines + INLINE.findall(FENCE.sub("", text))


def _kam_calls(code: str) -> list[list[str]]:
    """The arguments of each `kam` call in a line of shell (up to a pipe, `&&`, a redirect
    or a comment); `sudo -u kam ...` names the user, not the program."""
    calls = []
    for match in KAM_CALL.finditer(code):
        if re.search(r"(?:^|\s)-[uU]\s+$", code[: match.start()]):
            continue
        lexer = shlex.shlex(code[match.end():], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        args: list[str] = []
        try:
            for token in lexer:
                if token in SHELL_STOP or token.startswith(("#", ">", "2>")):
                    break
                args.append(token.rstrip(","))  # "# kam db upgrade, if ..." in a comment
        except ValueError:  # an unbalanced quote further on the line
            pass
        calls.append(args)
    return calls


def _problem(argv: list[str]) -> str | None:
    """Why `kam ARGV` is not a command of bot.cli.app with those options (None: it is)."""
    command: Any = typer.main.get_command(app)
    path = ["kam"]
    args = list(argv)
    while getattr(command, "commands", None) is not None and args and not args[0].startswith("-"):
        sub = command.commands.get(args[0])
        if sub is None:
            return f"`{' '.join(path)}` has no command {args[0]!r}"
        path.append(args.pop(0))
        command = sub
    if getattr(command, "commands", None) is not None and "--help" not in args:
        return f"`{' '.join(path)}` needs a command: one of {sorted(command.commands)}"
    options = {"--help"} | {
        opt for param in command.params for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("-")
    }
    for arg in args:
        name = arg.split("=", 1)[0]
        if name.startswith("-") and name != "-" and name not in options:
            return f"`{' '.join(path)}` has no option {name} (it has {sorted(options)})"
    return None


def _command_path(argv: list[str]) -> list[str]:
    command: Any = typer.main.get_command(app)
    path = []
    for arg in argv:
        sub = (getattr(command, "commands", None) or {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        command = sub
    return path


def test_compose_file_parses_and_has_the_documented_services(services) -> None:
    assert {"postgres", "chroma", "migrate"} <= set(services)
    assert _replicas(services), "no service runs `kam serve`"
    assert services["postgres"]["image"] == "postgres:15"


def test_every_image_and_build_is_named_in_the_doc(services, doc: str) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
        if "image" in service:
            image = service["image"]
            assert f"`{image}`" in doc, f"{name}: image {image} is not named in the doc"
        if "build" in service:
            build = service["build"]
            context = COMPOSE.parent / (build if isinstance(build, str) else build["context"])
            dockerfile = context / (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
            shown = dockerfile.resolve().relative_to(ROOT).as_posix()
            assert shown in doc, f"{name}: built from {shown}, which the doc does not name"


def test_every_variable_the_compose_file_sets_is_a_setting_and_documented(
    services, doc: str
) -> None:
    names = {var for service in services.values() for var in _environment(service)}
    names |= set(INTERPOLATED.findall(COMPOSE.read_text(encoding="utf-8")))
    assert {"DATABASE_URL", "KAM_CHROMA_URL", "POSTGRES_PASSWORD"} <= names
    unknown = sorted(names - SETTINGS - IMAGE_VARIABLES)
    assert not unknown, f"not settings of bot.config.Settings (renamed?): {unknown}"
    undocumented = sorted(n for n in names if not re.search(rf"\b{n}\b", doc))
    assert not undocumented, f"set in the compose file, not named in docs/deploy.md: {undocumented}"


def test_the_bot_containers_read_their_secrets_from_env_file(services, doc: str) -> None:
    for name in ["migrate", *_replicas(services)]:
        assert services[name].get("env_file") == ".env", f"{name}: no env_file .env"
    for secret in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY"):
        assert secret in SETTINGS and secret in doc


def test_every_setting_the_doc_names_exists(doc: str) -> None:
    unknown = sorted(set(OWN_NAME.findall(doc)) - SETTINGS)
    assert not unknown, f"docs/deploy.md names settings that do not exist: {unknown}"


def test_every_kam_command_in_the_doc_exists(doc: str) -> None:
    calls = [call for code in _code(doc) for call in _kam_calls(code)]
    assert len(calls) > 20, "the doc's `kam` commands were not found"
    problems = sorted({p for call in calls if (p := _problem(call))})
    assert not problems, "docs/deploy.md shows commands the CLI does not have:\n" + "\n".join(
        problems)
    shown = {tuple(_command_path(call)) for call in calls}
    for needed in [("serve",), ("db", "upgrade"), ("digest",), ("knowledge", "index")]:
        assert needed in shown, f"the doc does not show `kam {' '.join(needed)}`"


def test_every_kam_command_in_the_doc_answers_help(doc: str) -> None:
    """The same commands through typer itself: `kam CMD --help` exits 0."""
    paths = {tuple(_command_path(call)) for code in _code(doc) for call in _kam_calls(code)}
    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"kam {' '.join(path)} --help: {result.output}"


def test_every_kam_command_in_the_compose_file_exists(services) -> None:
    for name, service in services.items():
        argv = _argv(service)
        if argv[:1] == ["kam"]:
            assert _problem(argv[1:]) is None, f"{name}: {_problem(argv[1:])}"
    assert _argv(services["migrate"]) == ["kam", "db", "upgrade"]
    assert services["migrate"].get("restart", "no") == "no"


def test_replicas_start_after_the_migrations_and_serve_http(services) -> None:
    replicas = _replicas(services)
    assert len(replicas) >= 2 or any(
        (s.get("deploy") or {}).get("replicas", 1) >= 2 for s in replicas.values()
    ), "fewer than two `kam serve` replicas"
    for name, service in replicas.items():
        argv = _argv(service)
        assert "--socket" not in argv, f"{name}: replicas serve HTTP behind the load balancer"
        assert argv[argv.index("--host") + 1] == "0.0.0.0", f"{name}: listens on loopback only"
        condition = (service.get("depends_on") or {}).get("migrate", {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"{name}: must wait for `kam db upgrade` (depends_on migrate)")


def test_health_checks_use_the_bots_probes(services, doc: str) -> None:
    for name, service in _replicas(services).items():
        argv = _argv(service)
        port = argv[argv.index("--port") + 1] if "--port" in argv else "3000"
        test = " ".join(service["healthcheck"]["test"])
        assert re.search(rf"127\.0\.0\.1:{port}({READY_PATH}|{HEALTH_PATH})\b", test), (
            f"{name}: the health check does not probe {READY_PATH} or {HEALTH_PATH} on :{port}")
    for path in (HEALTH_PATH, READY_PATH):
        assert f"`GET {path}`" in doc or f"`{path}`" in doc, f"the doc does not explain {path}"


def test_replicas_stop_slower_than_the_shutdown_grace(services) -> None:
    grace = Settings.model_fields["kam_shutdown_grace_s"].default
    for name, service in _replicas(services).items():
        period = re.fullmatch(r"(\d+)s", str(service.get("stop_grace_period", "10s")))
        assert period and int(period[1]) > grace, (
            f"{name}: stop_grace_period must exceed KAM_SHUTDOWN_GRACE_S ({grace:g} s), or "
            "answers under way are killed")


def test_the_bot_reaches_chroma_where_chroma_run_listens(services) -> None:
    argv = _argv(services["chroma"])
    assert argv[:2] == ["chroma", "run"]
    assert {"--path", "--host", "--port"} <= set(argv)
    url = services["migrate"]["environment"]["KAM_CHROMA_URL"]
    assert url == f"http://chroma:{argv[argv.index('--port') + 1]}"
    assert re.fullmatch(Settings.model_fields["kam_chroma_url"].metadata[0].pattern, url)


def test_the_image_installs_the_makefiles_cpu_torch_first(services) -> None:
    pin = re.search(r"pip install -q (torch==[\w.]+)", MAKEFILE.read_text(encoding="utf-8"))
    assert pin, "the Makefile no longer pins torch"
    build = services["migrate"]["build"]
    dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).read_text()
    torch_at = dockerfile.find(pin[1])
    package_at = dockerfile.find("pip install -c constraints.txt .")
    assert torch_at != -1, f"deploy/Dockerfile does not install {pin[1]}"
    assert package_at > torch_at, "torch must be installed before the package"


def test_the_package_declares_the_driver_of_the_compose_database(services) -> None:
    """`pip install .` alone (the image) must bring the driver DATABASE_URL names."""
    url = services["migrate"]["environment"]["DATABASE_URL"]
    driver = re.match(r"postgresql\+(\w+)://", url)
    assert driver, f"DATABASE_URL in the compose file is not postgresql+DRIVER://: {url}"
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    declared = {re.split(r"[\[<>=~! ;]", dep, maxsplit=1)[0].lower()
                for dep in project["dependencies"]}
    assert driver[1] in declared, (
        f"pyproject.toml does not declare {driver[1]}: the image could not reach PostgreSQL")
