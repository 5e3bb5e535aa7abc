"""The ``fastreg`` command line, run with Typer's CliRunner on a temporary database: migrations, demo data,
Official Accounts, confirmations, mail and the clock, working on the database directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from fastreg.adapters.db.migrate import alembic_config
from fastreg.adapters.db.models import Component, Credential, OfficialAccount, Operator, WechatUser
from fastreg.adapters.mail import start_mail
from fastreg.cli import app, parse_duration
from fastreg.domain import secrets
from fastreg.platform import Platform, build_platform
from fastreg.services import demo, fastregister
from fastreg.settings import Settings

# The latest migration, which ``db upgrade`` reaches.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[tuple[CliRunner, str]]:
    runner = CliRunner(env={"FASTREG_DATA_DIR": str(tmp_path), "FASTREG_MODE": "sandbox", "FASTREG_SANDBOX_KEY": None})
    yield runner, f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(cli: tuple[CliRunner, str], *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    runner, url = cli
    result = runner.invoke(app, ["--db", url, *args], env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def platform_for(cli: tuple[CliRunner, str], tmp_path: Path) -> Platform:
    return build_platform(Settings(database_url=cli[1], data_dir=tmp_path))


def test_help_lists_every_command(cli: tuple[CliRunner, str]) -> None:
    output = invoke(cli, "--help").output
    for command in ("serve", "db", "demo", "oa", "user", "confirm", "mail", "clock"):
        assert command in output
    assert "--workers" in invoke(cli, "serve", "--help").output
    assert "create" in invoke(cli, "oa", "--help").output
    for sub in ("set", "advance", "real"):
        assert sub in invoke(cli, "clock", "--help").output


def test_db_upgrade_and_current(cli: tuple[CliRunner, str]) -> None:
    from alembic.script import ScriptDirectory

    from fastreg.adapters.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(cli[1])).get_current_head()
    assert invoke(cli, "db", "current").stdout.strip() == "none"
    assert f"database at revision {head}" in invoke(cli, "db", "upgrade").stdout
    assert invoke(cli, "db", "current").stdout.strip() == head


def test_an_unknown_platform_version_is_refused_before_anything_starts(cli: tuple[CliRunner, str]) -> None:
    result = invoke(cli, "db", "upgrade", code=1, env={"FASTREG_PLATFORM_VERSION": "2024-01-01"})
    assert "FASTREG_PLATFORM_VERSION" in result.output and "2021-06-01, 2023-12-25" in result.output
    assert invoke(cli, "db", "current").stdout.strip() == "none"


def test_commands_refuse_an_unmigrated_database(cli: tuple[CliRunner, str]) -> None:
    result = invoke(cli, "oa", "show", "wx0000000000000000", code=1)
    assert "fastreg db upgrade" in result.output


def test_demo_is_idempotent_and_prints_fixed_credentials(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    first = invoke(cli, "demo").stdout
    second = invoke(cli, "demo").stdout
    for spec in demo.DEMO_OFFICIAL_ACCOUNTS:
        assert spec.operator_email in first and spec.appid in first and spec.admin_wxid in first
    assert demo.DEMO_COMPONENT.appid in first and demo.DEMO_COMPONENT.secret in first
    assert demo.DEMO_PASSWORD in first
    assert first == second

    platform = platform_for(cli, tmp_path)
    with platform.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(OfficialAccount)).scalar_one() == 4
        assert uow.session.execute(select(func.count()).select_from(Operator)).scalar_one() == 4
        assert uow.session.execute(select(func.count()).select_from(Component)).scalar_one() == 1
    platform.engine.dispose()

    kinds = {spec.appid: (as_json(invoke(cli, "oa", "show", spec.appid)), spec) for spec in demo.DEMO_OFFICIAL_ACCOUNTS}
    for overview, spec in kinds.values():
        assert overview["principal"]["type"] == spec.principal_type.value
        assert overview["verified"] is spec.verified
        assert overview["admin_wxid"] == spec.admin_wxid
    assert {o["quota"]["limit"] for o, s in kinds.values() if s.principal_type == "individual_business"} == {1}


def test_demo_logins_work_with_the_printed_password(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    from fastreg.adapters.crypto import verify_password
    from fastreg.domain.secrets import token_hash

    invoke(cli, "demo")
    platform = platform_for(cli, tmp_path)
    with platform.uow(readonly=True) as uow:
        for spec in demo.DEMO_OFFICIAL_ACCOUNTS:
            operator = uow.session.execute(select(Operator).where(Operator.email == spec.operator_email)).scalar_one()
            assert verify_password(operator.password_hash, spec.operator_password)
            oa = uow.session.get(OfficialAccount, operator.oa_id)
            assert oa is not None and oa.appid == spec.appid and oa.secret_hash == token_hash(spec.secret)
        component = uow.session.execute(select(Component)).scalar_one()
        assert component.published and component.secret_hash == token_hash(demo.DEMO_COMPONENT.secret)
    platform.engine.dispose()


def test_oa_create_and_show(cli: tuple[CliRunner, str]) -> None:
    invoke(cli, "db", "upgrade")
    invoke(cli, "clock", "set", "2026-11-30T16:00:00Z")
    created = as_json(
        invoke(
            cli,
            "oa",
            "create",
            "--name",
            "小店",
            "--principal-name",
            "小店主体",
            "--principal-type",
            "individual_business",
            "--admin-wxid",
            "wxid_shopkeeper",
            "--operator-email",
            "shop@example.com",
            "--operator-password",
            "shop12345",
        )
    )
    assert created["admin_wxid"] == "wxid_shopkeeper" and created["operator_email"] == "shop@example.com"
    assert created["appid"].startswith("wx") and len(created["secret"]) == 32
    overview = as_json(invoke(cli, "oa", "show", created["appid"]))
    assert overview["name"] == "小店"
    assert overview["quota"] == {"month": "2026-12", "limit": 1, "used": 0, "remaining": 1}

    unverified = as_json(invoke(cli, "oa", "create", "--name", "b", "--principal-name", "乙公司", "--unverified"))
    assert as_json(invoke(cli, "oa", "show", unverified["appid"]))["verified"] is False

    taken = invoke(
        cli, "oa", "create", "--name", "c", "--principal-name", "丙", "--operator-email", "shop@example.com", code=1
    )
    assert "email already used" in taken.output.lower() or "already used" in taken.output
    assert "not found" in invoke(cli, "oa", "show", "wx0000000000000000", code=1).output


def test_clock_commands(cli: tuple[CliRunner, str]) -> None:
    invoke(cli, "db", "upgrade")
    assert as_json(invoke(cli, "clock"))["frozen"] is False
    assert as_json(invoke(cli, "clock", "set", "2026-11-30T16:00:00Z")) == {
        "now": "2026-11-30T16:00:00Z",
        "frozen": True,
    }
    assert as_json(invoke(cli, "clock", "advance", "2h"))["now"] == "2026-11-30T18:00:00Z"
    assert as_json(invoke(cli, "clock", "advance", "--", "-30m"))["now"] == "2026-11-30T17:30:00Z"
    assert as_json(invoke(cli, "clock", "advance", "86400"))["now"] == "2026-12-01T17:30:00Z"
    assert as_json(invoke(cli, "clock")) == {"now": "2026-12-01T17:30:00Z", "frozen": True}
    assert as_json(invoke(cli, "clock", "real"))["frozen"] is False
    invoke(cli, "clock", "set", "tomorrow", code=2)
    invoke(cli, "clock", "set", "2026-11-30T16:00:00", code=2)  # a time zone is required
    invoke(cli, "clock", "advance", "soon", code=2)


def test_parse_duration() -> None:
    assert [parse_duration(v) for v in ("90", "90s", "15m", "2h", "7d", "-1h", "1.5h")] == [
        90,
        90,
        900,
        7200,
        604800,
        -3600,
        5400,
    ]


def test_confirm_answers_as_the_phone_user(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    invoke(cli, "demo")
    platform = platform_for(cli, tmp_path)
    enterprise = demo.DEMO_OFFICIAL_ACCOUNTS[0]
    redirect = "http://127.0.0.1/done"
    views = [
        fastregister.open_auth_page(platform, enterprise.appid, demo.DEMO_COMPONENT.appid, True, redirect)
        for _ in range(3)
    ]
    platform.engine.dispose()

    refused = invoke(cli, "confirm", "--wxid", "wxid_intruder", views[0].url, code=1)
    assert "not allowed" in refused.output.lower()

    confirmed = as_json(invoke(cli, "confirm", "--wxid", enterprise.admin_wxid, views[0].url))
    assert confirmed["status"] == "confirmed"
    assert confirmed["redirect_url"].startswith(redirect + "?ticket=")
    again = invoke(cli, "confirm", "--wxid", enterprise.admin_wxid, views[0].url, code=1)
    assert "expired or was answered" in again.output

    by_id = as_json(invoke(cli, "confirm", "--wxid", enterprise.admin_wxid, views[1].id))
    assert by_id["status"] == "confirmed"
    cancelled = as_json(invoke(cli, "confirm", "--wxid", enterprise.admin_wxid, "--cancel", views[2].url))
    assert cancelled == {"status": "cancelled", "redirect_url": None}
    assert "not found" in invoke(cli, "confirm", "--wxid", "wxid_a", "http://x/m/confirm/nope", code=1).output.lower()


def test_mail_lists_the_outbox(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    invoke(cli, "db", "upgrade")
    invoke(cli, "clock", "set", "2026-11-10T04:00:00Z")
    platform = platform_for(cli, tmp_path)
    stop = start_mail(platform)
    try:
        assert platform.mailer is not None
        platform.mailer.send("one@example.com", "第一封", "http://127.0.0.1/activate/1", "")
        platform.mailer.send("two@example.com", "第二封", "没有链接", "")
        from fastreg.adapters.mail import flush_deliveries

        flush_deliveries()
    finally:
        stop()
        platform.engine.dispose()
    everything = as_json(invoke(cli, "mail"))
    assert [m["subject"] for m in everything] == ["第一封", "第二封"]
    [one] = as_json(invoke(cli, "mail", "--to", "one@example.com"))
    assert one["links"] == ["http://127.0.0.1/activate/1"] and one["sent_at"] == "2026-11-10T04:00:00Z"


def test_sandbox_commands_refuse_production_mode(cli: tuple[CliRunner, str]) -> None:
    invoke(cli, "db", "upgrade")
    production = {"FASTREG_MODE": "production"}
    assert "sandbox" in invoke(cli, "clock", "set", "2026-11-30T16:00:00Z", code=1, env=production).output
    assert "sandbox" in invoke(cli, "demo", code=1, env=production).output
    assert (
        "sandbox" in invoke(cli, "oa", "create", "--name", "a", "--principal-name", "b", code=1, env=production).output
    )
    assert "sandbox" in invoke(cli, "confirm", "--wxid", "w", "abc", code=1, env=production).output
    assert as_json(invoke(cli, "clock", env=production))["frozen"] is False


def test_user_create_prints_a_one_time_enrolment_link(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    invoke(cli, "db", "upgrade")
    production = {"FASTREG_MODE": "production", "FASTREG_PUBLIC_URL": "https://fastreg.example.com"}
    created = as_json(invoke(cli, "user", "create", "--wxid", "wxid_admin01", env=production))
    assert created["wxid"] == "wxid_admin01"
    prefix = "https://fastreg.example.com/m/enrol/"
    assert created["enrolment_url"].startswith(prefix) and created["expires_at"]
    token = created["enrolment_url"][len(prefix) :]
    platform = platform_for(cli, tmp_path)
    try:
        with platform.uow(readonly=True) as uow:
            user = uow.session.execute(select(WechatUser)).scalar_one()
            assert user.wxid == "wxid_admin01" and user.password_hash is None
            credential = uow.session.get(Credential, secrets.token_hash(token))
            assert credential is not None and credential.subject == "wxid_admin01" and credential.used_at is None
            assert uow.session.get(Credential, token) is None
    finally:
        platform.engine.dispose()
    assert "exists" in invoke(cli, "user", "create", "--wxid", "wxid_admin01", code=1, env=production).output
    renewed = as_json(invoke(cli, "user", "link", "--wxid", "wxid_admin01", env=production))
    assert renewed["enrolment_url"].startswith(prefix) and renewed["enrolment_url"] != created["enrolment_url"]
    assert "91016" in invoke(cli, "user", "link", "--wxid", "wxid_nobody01", code=1, env=production).output
    assert "91015" in invoke(cli, "user", "create", "--wxid", "9 not a wxid", code=1, env=production).output
    # The sandbox's phone page takes the wxid as declared: no WeChat users there.
    assert "production" in invoke(cli, "user", "create", "--wxid", "wxid_other01", code=1).output


def test_cli_on_postgresql(postgres_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["--db", postgres_url, "oa", "create", "--name", "甲", "--principal-name", "甲公司"])
    assert created.exit_code == 0, created.output
    appid = json.loads(created.stdout)["appid"]
    shown = runner.invoke(app, ["--db", postgres_url, "oa", "show", appid])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["principal"]["name"] == "甲公司"
    assert runner.invoke(app, ["--db", postgres_url, "db", "current"]).stdout.strip() == HEAD


def test_demo_prints_a_verify_ticket_that_works(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    """A verify ticket is valid 12 hours: a demo run after that prints a fresh one, which api_component_token
    accepts."""
    from fastreg.services import tokens

    def printed_ticket() -> str:
        line = next(line for line in invoke(cli, "demo").stdout.splitlines() if "component_verify_ticket" in line)
        return line.split()[-1]

    first = printed_ticket()
    invoke(cli, "clock", "advance", "13h")
    second = printed_ticket()
    assert second != first
    platform = platform_for(cli, tmp_path)
    try:
        spec = demo.DEMO_COMPONENT
        assert tokens.issue_component_token(platform, spec.appid, spec.secret, second).token
    finally:
        platform.engine.dispose()


def printed_component_keys(output: str) -> tuple[str, str]:
    import re

    found = re.search(r"token (\S+)\s+encoding_aes_key (\S+)", output)
    assert found, output
    return found.group(1), found.group(2)


def test_demo_component_keeps_its_token_and_key_across_reseeds(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    from fastreg.services import sandbox

    token, aes_key = printed_component_keys(invoke(cli, "demo").stdout)
    assert len(token) == 32 and token.isalnum()
    assert len(aes_key) == 43 and aes_key.isalnum()  # WeChat's EncodingAESKey: 43 letters and digits
    platform = platform_for(cli, tmp_path)
    sandbox.reset(platform)  # wipes the demo component too
    platform.engine.dispose()
    assert printed_component_keys(invoke(cli, "demo").stdout) == (token, aes_key)
    # They derive from the data directory's secret: another installation gets its own.
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = invoke(cli, "--db", f"sqlite:///{other / 'o.db'}", "demo", env={"FASTREG_DATA_DIR": str(other)})
    other_token, other_key = printed_component_keys(elsewhere.stdout)
    assert other_token != token and other_key != aes_key


@pytest.mark.parametrize(
    ("args", "env", "url"),
    [
        ((), {}, "http://127.0.0.1:8000"),
        (("--port", "9123"), {}, "http://127.0.0.1:9123"),
        (("--host", "0.0.0.0", "--port", "9124"), {}, "http://127.0.0.1:9124"),
        (("--host", "::1", "--port", "9125"), {}, "http://[::1]:9125"),
        (("--port", "9126"), {"FASTREG_PUBLIC_URL": "https://fastreg.example.com/"}, "https://fastreg.example.com"),
    ],
)
def test_demo_prints_the_console_url_of_the_server(
    cli: tuple[CliRunner, str], args: tuple[str, ...], env: dict[str, str], url: str
) -> None:
    output = invoke(cli, "demo", *args, env=env).stdout
    assert f"(console {url}/login," in output
