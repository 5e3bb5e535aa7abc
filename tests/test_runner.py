"""Where use cases run (``fastreg.runner``): nothing in ``fastreg.web`` or ``fastreg.cli`` calls a service but
through the runner's entry point, and a unit of work opened inside another one raises at once (SQLite and
PostgreSQL) instead of waiting 30 s for the write lock or silently becoming a second transaction."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import event, select

import fastreg
from fastreg.adapters.db.models import AuditEvent
from fastreg.adapters.db.uow import NestedUnitOfWork
from fastreg.domain.faults import FaultSpec
from fastreg.domain.model import AuditKind
from fastreg.platform import Platform
from fastreg.runner import EXCLUSIVE, FaultsArmed, Runner
from fastreg.services import audit, faults, sandbox

PACKAGE = Path(fastreg.__file__).parent

# A service function whose first parameter is one of these reaches the database: a use case.
STORAGE_PARAMETERS = frozenset({"context", "platform", "uow", "session", "conn"})
# Service functions that take the platform but run no use case: signing with its secret key, and starting the
# push worker's task on the loop (its units of work run in threads).
NOT_USE_CASES = frozenset(
    {"fastreg.services.sessions.sign", "fastreg.services.sessions.unsign", "fastreg.services.pushes.start_worker"}
)


def is_use_case(qualified: str) -> bool:
    """``fastreg.services.<module>.<function>`` taking the platform, a unit of work, a session or a connection."""
    module_name, _, name = qualified.rpartition(".")
    if not module_name.startswith("fastreg.services") or qualified in NOT_USE_CASES:
        return False
    try:
        target = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return False
    if not inspect.isfunction(target):
        return False
    parameters = list(inspect.signature(target).parameters)
    return bool(parameters) and parameters[0] in STORAGE_PARAMETERS


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    names: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    functions: dict[str, list[ast.FunctionDef]] = field(default_factory=dict)  # sync defs, nested ones too
    async_functions: list[ast.AsyncFunctionDef] = field(default_factory=list)

    def qualify(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            return f"{self.name}.{node.id}" if node.id in self.functions else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.names:
            return f"{self.names[node.value.id]}.{node.attr}"
        return None


def load(path: Path, root: Path) -> Module:
    name = ".".join(("fastreg", *path.relative_to(root).with_suffix("").parts))
    module = Module(name, path, ast.parse(path.read_text(), str(path)))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                module.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.names[alias.asname] = alias.name
                else:
                    module.names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.FunctionDef):
            module.functions.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AsyncFunctionDef):
            module.async_functions.append(node)
    return module


def own_calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Call]:
    """The calls a function makes itself (not those of the functions and lambdas it defines)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def storage_functions(modules: list[Module]) -> set[str]:
    """The sync functions of the scanned modules that run a use case, directly or through one another."""
    found: set[str] = set()
    while True:
        before = len(found)
        for module in modules:
            for name, definitions in module.functions.items():
                for definition in definitions:
                    for call in own_calls(definition):
                        callee = module.qualify(call.func)
                        if callee is not None and (callee in found or is_use_case(callee)):
                            found.add(f"{module.name}.{name}")
        if len(found) == before:
            return found


def runner_bypasses(root: Path) -> list[str]:
    """Every place under ``root`` (a copy of ``src/fastreg``) where web/ or the CLI runs a use case other than as
    an argument of the runner's entry point: a call from an ``async def`` (on the event loop), and a route, CLI
    command or FastAPI dependency that is itself a plain function running one (FastAPI's threadpool, or the
    command's own thread)."""
    paths = [*sorted((root / "web").rglob("*.py")), root / "cli.py"]
    modules = [load(path, root) for path in paths]
    storage = storage_functions(modules)
    found: list[str] = []
    for module in modules:
        where = f"{module.path.relative_to(root.parent)}"
        for function in module.async_functions:
            for call in own_calls(function):
                callee = module.qualify(call.func)
                if callee is not None and (callee in storage or is_use_case(callee)):
                    found.append(f"{where}:{call.lineno} {function.name} calls {callee} on the event loop")
        for name, definitions in module.functions.items():
            for definition in definitions:
                if f"{module.name}.{name}" in storage and definition.decorator_list:
                    found.append(f"{where}:{definition.lineno} {name} runs a use case outside the runner")
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                callee = module.qualify(argument)
                if callee is None or not (callee in storage or is_use_case(callee)):
                    continue
                if isinstance(node.func, ast.Name) and node.func.id == "Depends":
                    found.append(f"{where}:{node.lineno} dependency {callee} runs a use case outside the runner")
                elif not is_runner_call(module, node):
                    found.append(
                        f"{where}:{node.lineno} {callee} is handed to {ast.unparse(node.func)}, not the runner"
                    )
    return found


def is_runner_call(module: Module, call: ast.Call) -> bool:
    """``<runner>.run(use_case, ...)``, or the CLI's ``run``/``execute`` (which call the runner's ``run``)."""
    if isinstance(call.func, ast.Attribute):
        return call.func.attr == "run"
    return module.name == "fastreg.cli" and isinstance(call.func, ast.Name) and call.func.id in ("run", "execute")


def test_web_and_cli_run_use_cases_only_through_the_runner() -> None:
    assert runner_bypasses(PACKAGE) == []


def test_the_scan_sees_a_route_that_calls_a_service_on_the_loop(tmp_path: Path) -> None:
    """The check itself: an ``async def`` route calling a service directly, a plain route doing so in FastAPI's
    threadpool, a dependency doing so, and a service handed to another way of running it, are each reported."""
    root = tmp_path / "fastreg"
    (root / "web").mkdir(parents=True)
    (root / "cli.py").write_text("")
    (root / "web" / "bad.py").write_text(
        "from fastapi import Depends\n"
        "from fastreg.services import sessions\n"
        "from fastreg.services.confirmations import describe\n"
        "def _who(platform, cookie):\n"
        "    return sessions.load(platform, cookie, 'operator')\n"
        "@router.post('/login')\n"
        "async def login(request, platform):\n"
        "    return sessions.login(platform, 'operator', 'e', 'p')\n"
        "@router.get('/page')\n"
        "def page(request, platform):\n"
        "    return describe(platform, 'id')\n"
        "@router.get('/threadpool')\n"
        "async def threadpool(request, platform):\n"
        "    return await run_in_threadpool(describe, platform, 'id')\n"
        "@router.get('/fine')\n"
        "async def fine(request, runner, platform):\n"
        "    return await runner.run(_who, platform, None)\n"
        "def dependency(request, who=Depends(_who)):\n"
        "    return who\n"
    )
    found = runner_bypasses(root)
    assert any("login calls fastreg.services.sessions.login on the event loop" in line for line in found)
    assert any("page runs a use case outside the runner" in line for line in found)
    assert any("dependency fastreg.web.bad._who" in line for line in found)
    assert any("describe is handed to run_in_threadpool, not the runner" in line for line in found)
    assert not any(" fine " in line for line in found)


# ---------------------------------------------------------------- nested units of work


def record(platform: Platform, actor: str) -> None:
    with platform.uow() as uow:
        audit.record(uow.audit, uow.clock.now(), AuditKind.REFUSED, actor)
        uow.commit()


def actors(platform: Platform) -> list[str]:
    with platform.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(AuditEvent.actor).order_by(AuditEvent.id)))


def test_a_unit_of_work_opened_inside_another_raises_at_once(platform: Platform) -> None:
    started = time.monotonic()
    with pytest.raises(NestedUnitOfWork), platform.uow() as uow:
        audit.record(uow.audit, uow.clock.now(), AuditKind.REFUSED, "outer")
        uow.session.flush()
        record(platform, "inner")  # SQLite: waited 30 s for the outer write lock; PostgreSQL: committed apart
    assert time.monotonic() - started < 5
    assert actors(platform) == []  # neither the outer nor the inner one was kept
    # Both units of work are closed: the next ones open, one after the other, as usual.
    record(platform, "after")
    record(platform, "again")
    assert actors(platform) == ["after", "again"]


def test_a_read_opened_inside_a_write_raises_too(platform: Platform) -> None:
    with pytest.raises(NestedUnitOfWork), platform.uow(), platform.uow(readonly=True):
        pass


def test_units_of_work_of_other_threads_are_not_nested(platform: Platform) -> None:
    """Another thread's unit of work waits for this one (SQLite's write lock) or runs beside it: not nested."""
    errors: list[BaseException] = []

    def other() -> None:
        try:
            record(platform, "other thread")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    with platform.uow() as uow:
        thread = threading.Thread(target=other)
        thread.start()
        audit.record(uow.audit, uow.clock.now(), AuditKind.REFUSED, "this thread")
        uow.commit()
    thread.join(10)
    assert errors == []
    assert sorted(actors(platform)) == ["other thread", "this thread"]


def nesting_use_case(platform: Platform, actor: str) -> None:
    with platform.uow() as uow:
        audit.record(uow.audit, uow.clock.now(), AuditKind.REFUSED, actor)
        record(platform, actor + " inner")
        uow.commit()


def test_a_nested_unit_of_work_in_the_runners_group_commit_or_async_engine_raises(platform: Platform) -> None:
    """In a group (SQLite) a use case's units of work are savepoints of the group's transaction, and on
    PostgreSQL they share the runner's connection: a nested one raises there too, and only its use case fails."""
    runner = Runner(platform, grouped={record, nesting_use_case})

    async def main() -> list[object]:
        try:
            calls = [
                runner.run(record, platform, "before"),
                runner.run(nesting_use_case, platform, "nested"),
                runner.run(record, platform, "after"),
            ]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await runner.close()

    outcomes = asyncio.run(main())
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], NestedUnitOfWork)
    assert sorted(actors(platform)) == ["after", "before"]


def recording_thread(platform: Platform, actor: str) -> int:
    record(platform, actor)
    return threading.get_ident()


def test_a_use_case_not_placed_otherwise_runs_in_a_worker_thread(platform: Platform) -> None:
    """A login, a console page, a sandbox call: a worker thread, so the event loop keeps serving meanwhile."""
    runner = Runner(platform)

    async def main() -> tuple[int, int]:
        try:
            return threading.get_ident(), await runner.run(recording_thread, platform, "threaded")
        finally:
            await runner.close()

    loop_thread, ran_on = asyncio.run(main())
    assert ran_on != loop_thread
    assert actors(platform) == ["threaded"]


def test_the_faults_are_read_again_once_another_connection_committed(platform: Platform) -> None:
    """Every sandbox call asks for the injected faults. On SQLite the loop's reader keeps what it read until
    another connection commits (``PRAGMA data_version``): a second ask reads nothing, and a fault armed through
    the sandbox API (a unit of work of its own) is seen by the very next ask, as is its removal."""
    runner = Runner(platform)
    reads: list[str] = []

    def count_fault_reads(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.replace('"', "").startswith("SELECT sandbox_state.key, sandbox_state.value"):
            reads.append(statement)

    event.listen(platform.engine, "before_cursor_execute", count_fault_reads)

    async def main() -> tuple[list[list[str]], int]:
        try:
            seen = [[f.id for f in await runner.injected_faults()]]
            seen.append([f.id for f in await runner.injected_faults()])
            reads_before_arming = len(reads)
            armed = await runner.run(faults.create, platform, FaultSpec(path="/cgi-bin/token", errcode=-1))
            seen.append([f.id for f in await runner.injected_faults()])
            seen.append([f.id for f in await runner.injected_faults()])
            await runner.run(faults.delete, platform, armed.id)
            seen.append([f.id for f in await runner.injected_faults()])
            return [*seen, [armed.id]], reads_before_arming
        finally:
            await runner.close()
            event.remove(platform.engine, "before_cursor_execute", count_fault_reads)

    (first, second, after_arming, again, after_removal, (armed_id,)), reads_before_arming = asyncio.run(main())
    assert (first, second) == ([], [])
    assert after_arming == again == [armed_id]
    assert after_removal == []
    if platform.write_lock is not None:  # SQLite: read once, then once after each of the two commits
        assert reads_before_arming == 1
        assert len(reads) == 3


# ---------------------------------------------------------------- the faults of a call's path

GATED = "/cgi-bin/gated"


def arm(platform: Platform, path: str = GATED) -> str:
    return faults.create(platform, FaultSpec(path=path, errcode=45009)).id


def remaining(platform: Platform, fault_id: str) -> int:
    return next(fault.remaining for fault in faults.list_all(platform) if fault.id == fault_id)


def test_a_gated_call_runs_when_no_fault_is_armed_on_its_path_and_its_faults_go_with_its_first_round_trip(
    platform: Platform,
) -> None:
    """The hot writes on PostgreSQL read the faults in their own first round trip (announced on the use
    case's connection, before its first write); elsewhere the faults are read before the use case runs."""
    arm(platform, "/cgi-bin/elsewhere")
    runner = Runner(platform, grouped={record})
    seen: list[tuple[object, str]] = []

    def announced(conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append((conn, statement.replace('"', "")))

    # On the platform's engine, as an operator's SQL log would listen: the runner's loop connections are heard too.
    event.listen(platform.engine, "before_cursor_execute", announced)

    async def main() -> None:
        try:
            await runner.unless_faults_armed(GATED, lambda: runner.run(record, platform, "ran"))
        finally:
            await runner.close()
            event.remove(platform.engine, "before_cursor_execute", announced)

    asyncio.run(main())
    assert actors(platform) == ["ran"]
    fault_reads = [conn for conn, sql in seen if sql.startswith("SELECT sandbox_state.key, sandbox_state.value")]
    writes = [(conn, sql) for conn, sql in seen if sql.startswith("INSERT INTO audit_events")]
    assert len(fault_reads) == 1 and len(writes) == 1
    first_write = next(index for index, (_, sql) in enumerate(seen) if sql.startswith("INSERT INTO audit_events"))
    assert [conn for conn, _ in seen[:first_write]].count(fault_reads[0]) >= 1  # read before the write
    if platform.write_lock is None:  # PostgreSQL: on the use case's own connection, in its transaction
        assert fault_reads[0] is writes[0][0]
    else:  # SQLite: the loop's reader
        assert fault_reads[0] is not writes[0][0]


@pytest.mark.parametrize("grouped", [True, False], ids=["hot write", "worker thread"])
def test_an_armed_fault_stops_a_gated_call_before_its_use_case_does_anything(platform: Platform, grouped: bool) -> None:
    fault_id = arm(platform)
    runner = Runner(platform, grouped={record} if grouped else ())

    async def main() -> None:
        try:
            await runner.unless_faults_armed(GATED, lambda: runner.run(record, platform, "never"))
        finally:
            await runner.close()

    with pytest.raises(FaultsArmed):
        asyncio.run(main())
    assert actors(platform) == []
    assert remaining(platform, fault_id) == 1  # the gate takes none of its times: the fault layer does


def test_a_gated_call_that_ran_no_use_case_is_answered_by_its_faults_too(platform: Platform) -> None:
    """A call refused before any use case (bad input) did nothing: an armed fault still decides its answer,
    whether the call returned or raised."""
    runner = Runner(platform)

    async def returns() -> str:
        return "refused"

    async def raises() -> str:
        raise LookupError("no such thing")

    async def gated(call: Callable[[], Awaitable[str]]) -> str:
        return await runner.unless_faults_armed(GATED, call)

    async def main() -> list[object]:
        try:
            outcomes: list[object] = [await gated(returns)]
            with pytest.raises(LookupError):
                await gated(raises)
            arm(platform)
            for call in (returns, raises):
                with pytest.raises(FaultsArmed):
                    await gated(call)
                outcomes.append("armed")
            return outcomes
        finally:
            await runner.close()

    assert asyncio.run(main()) == ["refused", "armed", "armed"]


# ---------------------------------------------------------------- an exclusive run


def test_an_exclusive_run_waits_for_the_runs_in_flight_and_holds_new_ones_back(platform: Platform) -> None:
    """The sandbox reset's way of running (``EXCLUSIVE``): it starts once the loop's runs in flight have ended, and a
    run asked for meanwhile starts only after it; the grouped hot writes count as runs in flight too."""
    events: list[str] = []
    release_first = threading.Event()

    def slow(platform: Platform) -> None:
        events.append("slow started")
        assert release_first.wait(10)
        record(platform, "slow")
        events.append("slow ended")

    def wipe_like(platform: Platform) -> None:
        events.append("exclusive")

    def later(platform: Platform, actor: str) -> None:
        record(platform, actor)
        events.append(actor)

    runner = Runner(platform, grouped={later}, exclusive={wipe_like})

    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(500):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never: {events}")

    async def main() -> None:
        first = asyncio.create_task(runner.run(slow, platform))
        await until(lambda: "slow started" in events)
        exclusive = asyncio.create_task(runner.run(wipe_like, platform))
        await asyncio.sleep(0.05)
        held = asyncio.create_task(runner.run(later, platform, "held back"))
        await asyncio.sleep(0.05)
        assert events == ["slow started"]  # the exclusive run waits for the first; the third waits for it
        release_first.set()
        await asyncio.gather(first, exclusive, held)
        await runner.close()

    asyncio.run(main())
    assert events == ["slow started", "slow ended", "exclusive", "held back"]
    assert actors(platform) == ["slow", "held back"]


def test_the_sandbox_reset_runs_exclusively() -> None:
    assert sandbox.reset in EXCLUSIVE
