"""Check plugins: the API, the metadata contract and the loader.

A check is a Python module `checks/<id>.py` holding one `Check` subclass whose `check_id` is
`<id>`, with `checks/<id>.yaml` beside it carrying the metadata. The loader refuses any mismatch,
because check IDs are published in evidence and must never drift (Prowler's rule).

Which clauses a check evidences is *not* written in the check: the scheme catalogs list, per
clause, evidence rules naming the checks (and service roles) whose findings count, and
`probe.compliance.verdicts` applies them. Adding a scheme is a data change.

Third-party checks register under the entry-point group ``probe.checks``; the entry point names a
`Check` subclass whose class attribute `metadata` is a dict with the same fields as the YAML.
"""

from __future__ import annotations

import importlib
import importlib.resources
import pkgutil
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from probe import yamlfile
from probe.context import CheckContext, ServiceContext
from probe.errors import UserError
from probe.models import Finding, Intrusiveness

ENTRY_POINT_GROUP = "probe.checks"
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
_SCOPES = ("service", "device")
COMPARABLE_SECTIONS = ("interfaces", "update")  # declaration sections a check may compare (metadata `compares`)


@dataclass(frozen=True)
class CheckMetadata:
    id: str
    title: str
    description: str
    scope: str  # "service": once per matching service; "device": once per target
    services: tuple[str, ...]  # protocols the check needs; empty for device checks that need none
    intrusiveness: Intrusiveness
    severity: str
    remediation: str
    source: str  # "builtin" or the distribution that provided it
    # checks whose findings on the same service this check reads: its job runs right after theirs
    # (in the same worker), so what they observed is there to read; independent when they do not run
    after: tuple[str, ...] = ()
    # what tells two findings of this check on one service apart, besides check, host, port and
    # transport: fields of the finding's details (e.g. the update URL), for `probe diff`'s stable key
    finding_key: tuple[str, ...] = ()
    # a section of the manufacturer declaration this check compares with the device (interfaces,
    # update): such a check sends nothing, runs after every other check of the target (it reads
    # their findings) and only when the run's declaration states that section
    compares: str | None = None

    @classmethod
    def from_dict(cls, data: Any, *, where: str, source: str) -> CheckMetadata:
        if not isinstance(data, dict):
            raise UserError(f"{where}: check metadata must be a mapping")
        missing = [k for k in ("id", "title", "description", "scope", "intrusiveness") if k not in data]
        if missing:
            raise UserError(f"{where}: check metadata lacks {', '.join(missing)}")
        cid = str(data["id"])
        if not _ID_RE.match(cid):
            raise UserError(f"{where}: check id {cid!r} must be lower_snake_case, 3-64 chars")
        if data["scope"] not in _SCOPES:
            raise UserError(f"{where}: scope must be one of {', '.join(_SCOPES)}")
        try:
            intr = Intrusiveness(data["intrusiveness"])
        except ValueError:
            raise UserError(f"{where}: intrusiveness must be one of "
                            f"{', '.join(i.value for i in Intrusiveness)}") from None
        services = data.get("services") or []
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise UserError(f"{where}: services must be a list of protocol names")
        if data["scope"] == "service" and not services:
            raise UserError(f"{where}: a service-scoped check must name the services it needs")
        after = data.get("after") or []
        if not isinstance(after, list) or not all(isinstance(a, str) and _ID_RE.match(a) for a in after):
            raise UserError(f"{where}: after must be a list of check ids")
        if data["scope"] != "service" and after:
            raise UserError(f"{where}: only a service-scoped check can run after others on its service")
        compares = data.get("compares")
        if compares is not None and compares not in COMPARABLE_SECTIONS:
            raise UserError(f"{where}: compares must be one of {', '.join(COMPARABLE_SECTIONS)}")
        if compares is not None and data["scope"] != "device":
            raise UserError(f"{where}: a check that compares the declaration with the device is device-scoped")
        key = data.get("finding_key") or []
        if not isinstance(key, list) or not all(isinstance(k, str) and k for k in key):
            raise UserError(f"{where}: finding_key must be a list of details field names")
        return cls(
            id=cid,
            title=str(data["title"]),
            description=str(data["description"]).strip(),
            scope=str(data["scope"]),
            services=tuple(services),
            intrusiveness=intr,
            severity=str(data.get("severity", "medium")),
            remediation=str(data.get("remediation", "")).strip(),
            source=source,
            after=tuple(after),
            finding_key=tuple(key),
            compares=compares,
        )


class Check:
    """Base class for every check, built-in or third-party.

    Subclasses set `check_id` and implement `run`. `run` yields findings built with
    `ctx.finding(...)`; raising is allowed and becomes an INCONCLUSIVE finding with the
    trace kept as evidence, so a plugin bug can never turn into a PASS.
    """

    check_id: ClassVar[str] = ""
    metadata: ClassVar[Any] = None  # CheckMetadata once loaded (a dict for entry-point plugins)

    def run(self, ctx: CheckContext) -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError


class ServiceCheck(Check):
    """Base class for a check that runs once per matching service (metadata `scope: service`).

    Implement `run_service(ctx)`: its context's `service` is the service the job is about,
    typed as present, so the check never has to assert it.
    """

    def run(self, ctx: CheckContext) -> Iterable[Finding]:
        if not isinstance(ctx, ServiceContext):
            raise TypeError(f"{self.check_id}: a service check needs a service context (engine bug)")
        return self.run_service(ctx)

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError


def _builtin_ids() -> list[str]:
    """The built-in check IDs, from the module names in probe.checks (listing a directory imports
    nothing)."""
    import probe.checks as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def _builtin_metadata(cid: str) -> CheckMetadata:
    """checks/<id>.yaml, validated, without importing the check's module."""
    meta_file = importlib.resources.files("probe.checks") / f"{cid}.yaml"
    if not meta_file.is_file():
        raise UserError(f"checks/{cid}.yaml: metadata file missing")
    raw = yamlfile.load_data(meta_file.read_text("utf-8"), f"checks/{cid}.yaml")
    meta = CheckMetadata.from_dict(raw, where=f"checks/{cid}.yaml", source="builtin")
    if meta.id != cid:
        raise UserError(f"checks/{cid}.yaml: id {meta.id!r} does not match the file name")
    return meta


def _load_builtin(cid: str, meta: CheckMetadata) -> type[Check]:
    """Import checks/<id>.py and hold it to the contract: one Check subclass, the module's name
    as its check_id, the scope its metadata says."""
    module = importlib.import_module(f"probe.checks.{cid}")
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, Check) and v is not Check
               and v.__module__ == module.__name__]
    where = f"checks/{cid}.py"
    if len(classes) != 1:
        raise UserError(f"{where}: must define exactly one Check subclass, found {len(classes)}")
    cls = classes[0]
    if cls.check_id != cid:
        raise UserError(f"{where}: check_id {cls.check_id!r} does not match the module name")
    _check_scope(cls, meta, where)
    cls.metadata = meta
    return cls


def _check_scope(cls: type[Check], meta: CheckMetadata, where: str) -> None:
    """A service-scoped check must be a ServiceCheck (it is handed a ServiceContext), and only it."""
    if (meta.scope == "service") != issubclass(cls, ServiceCheck):
        raise UserError(f"{where}: scope {meta.scope!r} needs a "
                        f"{'ServiceCheck' if meta.scope == 'service' else 'Check'} subclass "
                        f"(probe.api.{'ServiceCheck' if meta.scope == 'service' else 'Check'})")


def _load_entry_points(known: Collection[str]) -> dict[str, type[Check]]:
    import importlib.metadata  # ~10 ms: only when the registry is listed

    found: dict[str, type[Check]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name!r} ({ep.value})"
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Check)):
            raise UserError(f"{where}: does not name a probe Check subclass")
        dist = ep.dist.name if ep.dist else "unknown distribution"
        meta = CheckMetadata.from_dict(cls.metadata, where=where, source=dist)
        if meta.id != cls.check_id or meta.id != ep.name:
            raise UserError(f"{where}: entry point name, check_id and metadata id must agree")
        if meta.id in known or meta.id in found:
            raise UserError(f"{where}: check id {meta.id!r} is already taken")
        _check_scope(cls, meta, where)
        cls.metadata = meta
        found[meta.id] = cls
    return found


class CheckRegistry(Mapping[str, type[Check]]):
    """All checks by ID, built-in first, each loaded when first asked for.

    Why lazy: a run (or the plugin API's run_single_check) needs only
    the checks it schedules, and importing all ~20 check modules with what they import cost ~0.1 s
    of every start. The contract checks are unchanged, they run when a check is loaded: its
    metadata when its ID is looked up (`metadata`), its module and class when the class is
    (`reg[id]`). Listing the IDs (iterating, `in` for a third-party ID) reads the entry points, and
    that is where a third-party check claiming a built-in ID is refused.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()  # the engine's target workers may ask for a check at once
        self._builtin = _builtin_ids()
        self._meta: dict[str, CheckMetadata] = {}
        self._classes: dict[str, type[Check]] = {}
        self._third_party: dict[str, type[Check]] | None = None

    def _entry_points(self) -> dict[str, type[Check]]:
        with self._lock:
            if self._third_party is None:
                self._third_party = _load_entry_points(self._builtin)
            return self._third_party

    def metadata(self, cid: str) -> CheckMetadata:
        """A check's metadata; a built-in check's module is not imported for it."""
        if cid in self._builtin:
            with self._lock:
                if cid not in self._meta:
                    self._meta[cid] = _builtin_metadata(cid)
                return self._meta[cid]
        return self[cid].metadata

    def __getitem__(self, cid: str) -> type[Check]:
        if cid in self._classes:
            return self._classes[cid]
        if cid in self._builtin:
            with self._lock:
                if cid not in self._classes:
                    self._classes[cid] = _load_builtin(cid, self.metadata(cid))
                return self._classes[cid]
        return self._entry_points()[cid]

    def __contains__(self, cid: object) -> bool:
        return cid in self._builtin or cid in self._entry_points()

    def __iter__(self) -> Iterator[str]:
        return iter([*self._builtin, *self._entry_points()])

    def __len__(self) -> int:
        return len(self._builtin) + len(self._entry_points())


_REGISTRY: CheckRegistry | None = None


def registry() -> CheckRegistry:
    """All checks by ID (see CheckRegistry); one registry per process."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = CheckRegistry()
    return _REGISTRY
