"""Bearer secrets (access tokens, component tokens, pre-auth and authorization codes, refresh tokens, fast
registration tickets, activation links) are random with >= 128 bits and stored only hashed: after a whole flow
over HTTP, no table of the database holds any of them in clear. Console logins are rate limited."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import Operator, metadata
from fastreg.testing import LiveServer, SandboxClient, scan_url_from_page
from tests.api.world import OA, REDIRECT_URI, World, query_param

PASSWORD = "Operator2026"


def random_bits(secret: str) -> int:
    """Bits of the secret's encoding: hex digits carry 4 bits each, URL-safe base64 characters 6. WeChat's
    refresh tokens start with the constant ``refreshtoken@@@``, which carries none."""
    secret = secret.removeprefix("refreshtoken@@@")
    if re.fullmatch(r"[0-9a-f]+", secret):
        return 4 * len(secret)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret), secret
    try:
        decoded = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError):
        return 0
    return 8 * len(decoded)


def database_text(live: LiveServer, *, skip: frozenset[str] = frozenset()) -> str:
    """Every value of every row of every table (but the ``table.column`` names in ``skip``), as text."""
    parts: list[str] = []
    with live.platform.uow(readonly=True) as uow:
        for table in metadata.sorted_tables:
            columns = [column for column in table.columns if f"{table.name}.{column.name}" not in skip]
            for row in uow.session.execute(select(*columns)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


# The sandbox's outbox is the recipients' mailbox (what the embedded SMTP sink received), not fastreg's records:
# the activation mail in it carries its link, as any inbox would.
MAILBOX = frozenset({"mail_outbox.text", "mail_outbox.html", "mail_outbox.links"})


def activation_token(live: LiveServer, sandbox: SandboxClient, oa_appid: str, admin_wxid: str, email: str) -> str:
    """Walk a console registration to the activation mail (through the services of the live server) and read
    the link from the sandbox outbox."""
    from fastreg.services import confirmations, registration

    platform = live.platform
    with platform.uow(readonly=True) as uow:
        operator = uow.session.execute(select(Operator).where(Operator.email == email)).scalar_one()
    view = registration.start(platform, operator.id)
    scan = registration.new_scan(platform, operator.oa_id, view.id)
    confirmations.answer(platform, scan.id, admin_wxid, "confirm")
    registration.choose_qualifications(platform, operator.oa_id, view.id, True, True)
    registration.submit_account(platform, operator.oa_id, view.id, "new-mp@example.com", "abc12345", "abc12345", "MP")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for mail in sandbox.mail(to="new-mp@example.com"):
            for link in mail["links"]:
                if "/activate/" in link:
                    return str(link.rsplit("/activate/", 1)[1])
        time.sleep(0.05)
    raise AssertionError("no activation mail")


def flow_secrets(world: World, sandbox: SandboxClient) -> dict[str, str]:
    """Run a whole flow over HTTP and collect every bearer secret handed out on the way."""
    secrets: dict[str, str] = {}
    component = world.component()
    secrets["component_access_token"] = component.access_token
    created = sandbox.create_official_account(
        name="密钥公众号",
        principal_name="密钥企业有限公司",
        principal_type="enterprise",
        operator_email="secret-op@example.com",
        operator_password=PASSWORD,
    )
    oa_appid, admin_wxid = created["appid"], created["admin_wxid"]
    own = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa_appid, secret=created["secret"])
    secrets["access_token"] = own["access_token"]
    preauth = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )
    secrets["pre_auth_code"] = preauth["pre_auth_code"]
    # The consent page: the OA admin confirms, the browser is sent back with an authorization code.
    page = world.api.get(
        "/cgi-bin/componentloginpage",
        params={
            "component_appid": component.appid,
            "pre_auth_code": preauth["pre_auth_code"],
            "redirect_uri": REDIRECT_URI,
            "auth_type": 3,
            "biz_appid": oa_appid,
        },
    )
    assert page.status_code == 200, page.text
    consent_url = scan_url_from_page(page.text)
    secrets["confirmation id (consent page)"] = consent_url.rsplit("/", 1)[1]
    consent = sandbox.scan(consent_url, admin_wxid, "confirm")
    secrets["authorization_code (consent page)"] = query_param(consent["redirect_url"], "auth_code")
    code = sandbox.authorize(component.appid, oa_appid)["authorization_code"]
    secrets["authorization_code (consent)"] = code
    info = world.query_auth(component, code)
    secrets["authorizer_access_token"] = info["authorizer_access_token"]
    secrets["authorizer_refresh_token"] = info["authorizer_refresh_token"]
    ticket = world.ticket(component, OA(oa_appid, "", admin_wxid, "密钥企业有限公司"))
    secrets["fastregister ticket"] = ticket
    registered = world.fastregister(info["authorizer_access_token"], ticket)
    assert registered["errcode"] == 0
    secrets["authorization_code (fastregister)"] = registered["authorization_code"]
    mp_info = world.query_auth(component, registered["authorization_code"])
    secrets["MP authorizer_access_token"] = mp_info["authorizer_access_token"]
    secrets["activation link token"] = activation_token(
        world.live, sandbox, oa_appid, admin_wxid, "secret-op@example.com"
    )

    return secrets


def test_secrets_are_random_enough_and_never_stored_in_clear(world: World, sandbox: SandboxClient) -> None:
    secrets = flow_secrets(world, sandbox)
    for name, secret in secrets.items():
        assert random_bits(secret) >= 128, f"{name} has fewer than 128 bits: {secret!r}"
    assert len(set(secrets.values())) == len(secrets), "two secrets are equal"
    # Including the answered confirmations, whose redirect URL (carrying the ticket) is sealed.
    stored = database_text(world.live, skip=MAILBOX)
    for name, secret in secrets.items():
        assert secret not in stored, f"the {name} is stored in clear"


@pytest.fixture
def console(live: LiveServer, sandbox: SandboxClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30) as client:
        yield client


def test_console_login_is_rate_limited(console: httpx.Client, sandbox: SandboxClient, live: LiveServer) -> None:
    sandbox.create_official_account(
        name="限速公众号",
        principal_name="限速企业有限公司",
        principal_type="enterprise",
        operator_email="limited-op@example.com",
        operator_password=PASSWORD,
    )

    def attempt(password: str) -> httpx.Response:
        """The login form posted; its refusal is a redirect to the login page, which shows it (400 or 429)."""
        page = console.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        posted = console.post(
            "/login", data={"email": "limited-op@example.com", "password": password, "csrf_token": csrf.group(1)}
        )
        assert posted.status_code == 303
        return console.get(posted.headers["location"])

    failures = live.settings.login_max_failures
    for _ in range(failures):
        assert attempt("Wrong-password-1").status_code == 400
    # Locked: even the right password is refused now, with 429.
    assert attempt(PASSWORD).status_code == 429


def test_bearer_secrets_never_start_with_a_dash() -> None:
    """A confirmation id or ticket starting with "-" would be taken for an option by `fastreg confirm ID`."""
    from fastreg.domain.secrets import new_token

    # One in 64 raw URL-safe tokens starts with "-": 5,000 draws would miss that with probability ~1e-35.
    drawn = [new_token() for _ in range(5000)]
    assert not [token for token in drawn if token.startswith("-")]
    assert min(random_bits(token) for token in drawn) >= 128
