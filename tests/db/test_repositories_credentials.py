"""The credentials area's SQL repositories on SQLite and PostgreSQL: bearer secrets stored and used once, and the
hot path's gateway (the token with its OA and component, the ticket's conditional claim, the conditional
counts of a completion, its writes sent with the commit) — and, through the service, that concurrent
completions keep the ticket single-use and the quota exact, which only the database can guarantee."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import func, select

from fastreg.adapters.db.models import links as link_rows
from fastreg.adapters.db.models import mini_programs, monthly_counters, principals
from fastreg.domain import secrets
from fastreg.domain.entities import MiniProgram
from fastreg.domain.errors import DomainError
from fastreg.domain.rules import calendar_month
from fastreg.platform import Platform
from fastreg.services import credentials
from fastreg.services.completion import facts_query
from fastreg.services.credentials import CredentialKind
from fastreg.services.fastregister import fastregister
from fastreg.services.ports.credentials import (
    CompletionWrite,
    FastRegisterContext,
    NewLink,
    QuotaSpend,
    Spent,
    TicketClaim,
)
from tests.db.helpers import Setup, issue_ticket, setup


def count_mps(platform: Platform) -> int:
    with platform.uow(readonly=True) as uow:
        return int(uow.session.execute(select(func.count()).select_from(mini_programs)).scalar_one())


# ---------------------------------------------------------------- bearer secrets


def test_a_credential_is_stored_by_its_digest_and_used_once(platform: Platform) -> None:
    with platform.uow() as uow:
        now = uow.clock.now()
        raw = credentials.issue(
            uow.credentials, now, CredentialKind.AUTH_CODE, "wxsubject", 600, component_id=None, data={"a": [1]}
        )
        uow.commit()
    with platform.uow() as uow:
        stored = uow.credentials.credential(secrets.token_hash(raw))
        assert stored is not None
        assert (stored.kind, stored.subject, stored.data, stored.used_at) == (
            "auth_code",
            "wxsubject",
            {"a": [1]},
            None,
        )
        assert stored.expires_at - stored.issued_at == timedelta(seconds=600) and stored.issued_at.tzinfo is not None
        assert uow.credentials.use(stored, now) is True
        assert uow.credentials.use(stored, now) is False  # the conditional update finds it used
        uow.commit()
    with platform.uow(readonly=True) as uow:
        again = uow.credentials.credential(secrets.token_hash(raw))
        assert again is not None and again.used_at is not None


def test_revoke_unused_marks_only_that_kind_and_subject(platform: Platform) -> None:
    with platform.uow() as uow:
        now = uow.clock.now()
        mine = credentials.issue(uow.credentials, now, CredentialKind.ACTIVATION, "7", 600)
        other = credentials.issue(uow.credentials, now, CredentialKind.ACTIVATION, "8", 600)
        uow.credentials.revoke_unused(CredentialKind.ACTIVATION.value, "7", now)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        revoked, kept = (uow.credentials.credential(secrets.token_hash(raw)) for raw in (mine, other))
        assert revoked is not None and revoked.used_at is not None
        assert kept is not None and kept.used_at is None


# ---------------------------------------------------------------- the gateway


def test_open_with_token_gives_the_oa_and_the_component_of_an_authorizer_token(platform: Platform) -> None:
    s = setup(platform)
    with platform.uow() as uow:
        now = uow.clock.now()
        authorizer = credentials.issue(
            uow.credentials, now, CredentialKind.AUTHORIZER_TOKEN, s.oa.appid, 7200, component_id=s.component_id
        )
        own = credentials.issue(uow.credentials, now, CredentialKind.ACCESS_TOKEN, s.oa.appid, 7200)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        opened = uow.fastregister.open_with_token(secrets.token_hash(authorizer))
        assert opened.credential is not None and opened.credential.kind == "authorizer_token" and opened.for_oa
        assert opened.context is not None
        assert (opened.context.appid, opened.context.component_id) == (s.oa.appid, s.component_id)
        assert 27 in (opened.context.authorized_func_info or [])
        own_opened = uow.fastregister.open_with_token(secrets.token_hash(own))
        assert own_opened.for_oa and own_opened.context is None
        assert uow.fastregister.open_with_token(secrets.token_hash("unknown")).credential is None


def _context(s: Setup, platform: Platform) -> tuple[FastRegisterContext, datetime]:
    with platform.uow(readonly=True) as uow:
        context = uow.fastregister.context(s.oa.appid, s.component_id)
        now = uow.clock.now()
    assert context is not None
    return context, now


def _spend(s: Setup, platform: Platform, *, monthly_limit: int = 50, principal_limit: int = 50) -> QuotaSpend:
    context, now = _context(s, platform)
    return QuotaSpend(
        oa_id=context.id,
        principal_id=context.principal_id,
        month=calendar_month(now, platform.settings.timezone),
        monthly_limit=monthly_limit,
        principal_limit=principal_limit,
    )


def test_a_ticket_is_claimed_once_and_a_rolled_back_claim_leaves_it_usable(platform: Platform) -> None:
    s = setup(platform)
    ticket = issue_ticket(platform, s)
    claim = TicketClaim(secrets.token_hash(ticket), CredentialKind.TICKET.value, s.oa.appid, s.component_id)
    spend = _spend(s, platform)

    def claim_once(commit: bool) -> tuple[dict[str, object] | None, int]:
        with platform.uow() as uow:
            context = uow.fastregister.context(s.oa.appid, s.component_id)
            assert context is not None and context.principal_type == "enterprise"
            answer = uow.fastregister.claim_and_facts(claim, facts_query(platform, context, uow.clock.now()), spend)
            assert not answer.facts.eligibility.has_pending
            assert answer.spent == Spent(counted=True, principal_counted=True)  # counted after the facts were read
            if commit:
                uow.commit()
            return answer.claimed, answer.facts.eligibility.quota.used

    claimed, used = claim_once(commit=False)
    assert claimed is not None and claimed["copy_wx_verify"] is True and used == 0
    assert claim_once(commit=True) == (claimed, 0)  # the rolled-back claim left the ticket usable, the quota unspent
    assert claim_once(commit=True) == (None, 1)
    other = TicketClaim(claim.token_hash, claim.kind, s.oa.appid, s.component_id + 1000)
    with platform.uow() as uow:
        context = uow.fastregister.context(s.oa.appid, s.component_id)
        assert context is not None
        query = facts_query(platform, context, uow.clock.now())
        assert uow.fastregister.claim_and_facts(other, query, spend).claimed is None


def test_spend_counts_only_below_the_limits(platform: Platform) -> None:
    s = setup(platform)
    spend = _spend(s, platform, monthly_limit=2)
    for expected in (True, True, False):  # the month's counter: 1, 2, then refused at the limit of 2
        with platform.uow() as uow:
            assert uow.fastregister.spend(spend) == Spent(expected, True)
            uow.commit()
    spend = _spend(s, platform, principal_limit=3)
    with platform.uow() as uow:
        spent = uow.fastregister.spend(spend)
        assert spent == Spent(counted=True, principal_counted=False)  # the principal has 3 of 3
    with platform.uow(readonly=True) as uow:
        used = uow.session.execute(select(monthly_counters.c.used)).scalar_one()
        mp_count = uow.session.execute(select(principals.c.mp_count)).scalar_one()
    assert (used, mp_count) == (2, 3)


def _write(s: Setup, platform: Platform) -> CompletionWrite:
    context, now = _context(s, platform)
    return CompletionWrite(
        oa_id=context.id,
        mini_program=MiniProgram(
            appid=secrets.new_appid(),
            secret_hash="x",
            original_id=secrets.new_original_id(),
            principal_id=context.principal_id,
            created_by_oa_id=context.id,
            created_via="open_api",
            status="completed",
            created_at=now,
        ),
        link=NewLink(
            status="linked",
            linked_via="fast_register",
            show_profile=False,
            notify_users=False,
            created_at=now,
            linked_at=now,
        ),
        registration=None,
        audit=[],
    )


def test_a_completions_writes_land_with_the_commit_and_a_rollback_drops_them(platform: Platform) -> None:
    s = setup(platform)
    write = _write(s, platform)
    with platform.uow() as uow:
        uow.fastregister.write_completion(write)  # not committed
    assert count_mps(platform) == 0
    write = _write(s, platform)
    with platform.uow() as uow:
        written = uow.fastregister.write_completion(write)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        mp = uow.accounts.mini_program_by_id(written.mp_id)
        assert mp is not None and mp.appid == write.mini_program.appid
        links = uow.session.execute(select(link_rows.c.oa_id).where(link_rows.c.mp_id == mp.id)).scalars().all()
    assert links == [write.oa_id] and count_mps(platform) == 1
    write = _write(s, platform)
    with platform.uow() as uow:
        written = uow.fastregister.write_completion(write)
        mp_id = written.mp_id  # asked before the commit: the writes are sent for it
        assert uow.accounts.mini_program_by_id(mp_id) is not None
        uow.commit()
    assert count_mps(platform) == 2


# ---------------------------------------------------------------- concurrency, through the service


def test_concurrent_use_of_one_ticket_registers_once(platform: Platform) -> None:
    s = setup(platform)
    ticket = issue_ticket(platform, s)

    def attempt(_: int) -> str:
        try:
            return fastregister(platform, s.oa.appid, s.component_id, ticket).appid
        except DomainError as error:
            return str(error.errcode)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sum(o.startswith("wx") for o in outcomes) == 1
    assert outcomes.count("61058") == 7
    assert count_mps(platform) == 1


def test_fifty_concurrent_completions_grant_exactly_the_quota(platform: Platform) -> None:
    s = setup(platform)
    tickets = [issue_ticket(platform, s) for _ in range(50)]

    def attempt(ticket: str) -> str:
        try:
            return fastregister(platform, s.oa.appid, s.component_id, ticket).appid
        except DomainError as error:
            return str(error.errcode)

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(attempt, tickets))
    assert sum(o.startswith("wx") for o in outcomes) == 5
    assert outcomes.count("61055") == 45
    assert count_mps(platform) == 5
