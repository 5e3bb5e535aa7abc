"""The pytest plugin as an integrator's suite meets it, each run in a pytest process of its own (pytester):
how it is loaded (installed, ``-p fastreg.testing``, ``pytest_plugins``), a server that already runs
(``--fastreg-url``/``--fastreg-key`` or the environment), its own server deaf to the caller's configuration,
and the errors a suite reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fastreg.testing import LiveServer, SandboxClient

pytest_plugins = ["pytester"]

USES_THE_SANDBOX = """
def test_uses_the_sandbox(fastreg_sandbox, fastreg_server):
    oa = fastreg_sandbox.create_official_account(name="插件号", principal_name="插件公司", principal_type="enterprise")
    assert fastreg_sandbox.official_account(oa["appid"])["quota"]["remaining"] == 5
    print("SERVER", fastreg_server.base_url, "OA", oa["appid"])
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("FASTREG_URL", "FASTREG_SANDBOX_KEY", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_integration=USES_THE_SANDBOX)
    return pytester


def printed(result: pytest.RunResult, label: str) -> str:
    line = next(line for line in result.outlines if "SERVER " in line)
    words = line.split()
    return words[words.index(label) + 1]


@pytest.mark.parametrize(
    "how",
    ["installed", "-p", "pytest_plugins", "-p without autoload", "-p and pytest_plugins"],
)
def test_the_plugin_loads_every_documented_way(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args = ["-s"]
    if "-p" in how:
        args += ["-p", "fastreg.testing"]
    if "pytest_plugins" in how:
        suite.makeconftest('pytest_plugins = ["fastreg.testing"]')
    if "without autoload" in how:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    result = suite.runpytest_subprocess(*args)

    result.assert_outcomes(passed=1)
    assert "already registered" not in result.stdout.str() + result.stderr.str()


def test_the_plugin_can_be_turned_off(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:fastreg.testing")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'fastreg_sandbox' not found*"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that runs before the suite does (as a shared one in CI would), with a key of its own."""
    from fastreg.settings import settings_from
    from fastreg.testing import run_live_server

    data_dir = tmp_path_factory.mktemp("shared")
    settings = settings_from(database_url=f"sqlite:///{data_dir}/shared.db", data_dir=data_dir, sandbox_key="shared")
    server, stop = run_live_server(settings)
    yield server
    stop()


@pytest.mark.parametrize("given_by", ["options", "environment"])
def test_a_running_server_is_used_instead_of_starting_one(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, running: LiveServer, given_by: str
) -> None:
    if given_by == "options":
        args = ["--fastreg-url", running.base_url + "/", "--fastreg-key", "shared"]
    else:
        monkeypatch.setenv("FASTREG_URL", running.base_url)
        monkeypatch.setenv("FASTREG_SANDBOX_KEY", "shared")
        args = []

    result = suite.runpytest_subprocess("-s", *args)

    result.assert_outcomes(passed=1)
    assert printed(result, "SERVER") == running.base_url
    with SandboxClient(running.base_url, "shared") as shared:
        assert shared.official_account(printed(result, "OA"))["name"] == "插件号"


def test_a_running_server_that_refuses_the_key_stops_the_suite_with_its_reason(
    suite: pytest.Pytester, running: LiveServer
) -> None:
    result = suite.runpytest_subprocess("--fastreg-url", running.base_url, "--fastreg-key", "wrong")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*refused the sandbox key*401 unauthorized*X-Sandbox-Key*"])


def test_a_url_without_a_key_is_a_usage_error(suite: pytest.Pytester, running: LiveServer) -> None:
    result = suite.runpytest_subprocess("--fastreg-url", running.base_url)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*--fastreg-url needs the server's sandbox key*"])


def test_the_plugins_own_server_ignores_the_callers_configuration(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project under test configures its own fastreg (production mode, a database of its own, a key): the
    plugin's server is none of that."""
    (suite.path / ".env").write_text("FASTREG_MODE=production\nFASTREG_MONTHLY_QUOTA=1\n")
    monkeypatch.setenv("FASTREG_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("FASTREG_MODE", "production")
    monkeypatch.setenv("FASTREG_MONTHLY_QUOTA", "2")

    result = suite.runpytest_subprocess("-s")

    result.assert_outcomes(passed=1)  # sandbox routes answer, the quota is 5, the SQLite database is its own


QUIET_AND_FROZEN = """
import gc
import logging

import httpx


def test_calls(fastreg_sandbox, fastreg_server):
    fastreg_sandbox.get_clock()
    httpx.get(fastreg_server.base_url + "/healthz").raise_for_status()
    print("FROZEN", gc.get_freeze_count() > 0, "ROOT LEVEL", logging.getLevelName(logging.getLogger().level))
    print("YOUNG COLLECTIONS EVERY", gc.get_threshold()[0], "ALLOCATIONS")
"""


def test_the_plugins_own_server_logs_warnings_not_each_request(suite: pytest.Pytester) -> None:
    """A log line per request (and, with the root logger at INFO, one per httpx call of the suite) costs every
    call of every test: the plugin's server logs warnings and errors only. Its objects are frozen out of the
    garbage collector's way (a full collection walked them all, about half a second), and the young collections
    come every 50,000 allocations, not every 700."""
    suite.makepyfile(test_calls=QUIET_AND_FROZEN)

    result = suite.runpytest_subprocess("-s", "test_calls.py")

    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "FROZEN True ROOT LEVEL WARNING" in output
    assert "YOUNG COLLECTIONS EVERY 50000 ALLOCATIONS" in output
    assert "duration_ms" not in output and "HTTP Request" not in output


def test_an_error_page_says_its_errcode() -> None:
    from fastreg.testing import scan_url_from_page

    page = '<h1>复用公众号资质快速注册小程序</h1><p id="error-code" data-errcode="61060">错误码：61060</p>'
    page += '<p id="error-message">跳转 uri 不合法</p>'
    with pytest.raises(ValueError, match=r"errcode 61060 \(跳转 uri 不合法\)"):
        scan_url_from_page(page)


def test_the_sandbox_clients_calls_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As httpx would: ``HTTP_PROXY`` for an http server, unless ``NO_PROXY`` names its host."""
    import urllib3

    from fastreg.sandbox_client import SandboxClient

    for variable in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    through = SandboxClient("http://fastreg.internal:8000", "key")
    assert isinstance(through._pool, urllib3.ProxyManager)
    assert through._pool.proxy is not None and through._pool.proxy.host == "proxy.internal"
    monkeypatch.setenv("NO_PROXY", "fastreg.internal")
    direct = SandboxClient("http://fastreg.internal:8000", "key")
    assert direct._pool is not None and not isinstance(direct._pool, urllib3.ProxyManager)
    through.close()
    assert through.closed
    with pytest.raises(RuntimeError, match="closed"):
        through.reset()
