"""The append-only audit log: sequence-numbered, sealed with a keyed MAC, and checkpointed
outside the store.

Every entry has a sequence number (1, 2, 3, … with no gaps) and is sealed::

    mac = HMAC-SHA256(key, "rmds-auditoria-v2\\n" + canonical JSON of
                      {v, seq, prev, at, username, role, action, resource, territory,
                       origin, reason})

where ``prev`` is the previous entry's MAC. Canonical JSON (sorted keys, no spaces, UTF-8)
gives every field its own quoted slot, so text cannot slide from one field into the next
as it could across the ``|`` of the first scheme. The key is never in the database (a key
file with 0600 permissions or the ``RMDS_AUDIT_KEY`` variable), so whoever can write to the
store can neither edit an entry and recompute the chain nor forge a new one.

What the key cannot show is a cut at the end: deleting the newest entries (or all of them)
leaves a shorter chain that is still valid. So every ``audit_checkpoint_every`` entries the
head of the chain (sequence number and MAC, itself sealed) is appended to a checkpoint file
outside the store; :func:`verify` finds a checkpoint the store no longer reaches.

Entries written before this scheme (``scheme`` 1: SHA-256 over ``|``-joined fields, no key)
are still verified as they were. The first sealed entry after them covers their last hash,
so rewriting them afterwards is found there, and an unsealed entry after a sealed one is
refused (it would be a rewrite to the old, keyless form).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
import os
import secrets
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from rmds.exceptions import ConfigurationError
from rmds.settings import get_setting
from rmds.store.db import AUDIT, Store

__all__ = ["GENESIS", "AuditConfig", "VerifyResult", "audit_config", "cli_actor", "configure",
           "record", "record_cli", "verify"]

GENESIS = "0" * 64
KEY_ENV = "RMDS_AUDIT_KEY"
MIN_KEY_BYTES = 32
SCHEME_LEGACY, SCHEME_SEALED = 1, 2
_DOMAIN = b"rmds-auditoria-v2\n"
_CHECKPOINT_DOMAIN = b"rmds-ponto-de-controle-v1\n"
_LOCK = threading.Lock()
_FIELDS = ("at", "username", "role", "action", "resource", "territory", "origin", "reason")
# the column sizes: values are cut to them before sealing, so that what is sealed is what
# the database keeps (PostgreSQL refuses longer text; SQLite would keep it)
_LIMITS = {"username": 80, "role": 40, "action": 40, "resource": 400, "territory": 80,
           "origin": 80, "reason": 400}
_MEMORY_KEY = secrets.token_bytes(32)          # an in-memory SQLite store lives as long


@dataclass(frozen=True)
class AuditConfig:
    """Where the audit key and the checkpoints of one store are."""

    key: bytes
    checkpoints: Path
    every: int
    label: str          # names the store in the checkpoint file (URL without password)


_EXPLICIT: dict[str, object | None] = {}
_CONFIGS: weakref.WeakKeyDictionary[Store, AuditConfig] = weakref.WeakKeyDictionary()


def configure(values: Mapping[str, object | None]) -> None:
    """Take ``audit_key_file``, ``audit_checkpoints`` and ``audit_checkpoint_every`` from
    the resolved settings (the CLI's options), over the environment."""
    for name in ("audit_key_file", "audit_checkpoints", "audit_checkpoint_every"):
        _EXPLICIT[name] = values.get(name)
    _CONFIGS.clear()


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path).resolve() if path and path != ":memory:" else None


def _read_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        key = path.read_bytes().strip()
    except OSError as error:
        raise ConfigurationError(f"não foi possível ler a chave da auditoria em {path}: "
                                 f"{error.strerror}") from None
    if mode & 0o077:
        raise ConfigurationError(
            f"a chave da auditoria em {path} pode ser lida por outros usuários (permissão "
            f"{mode & 0o777:o}); restrinja-a com: chmod 600 {path}")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"a chave da auditoria em {path} é curta demais (mínimo {MIN_KEY_BYTES} bytes); "
            "gere uma com: python -c 'import secrets; print(secrets.token_hex(32))'")
    return key


def _development_key(path: Path) -> bytes:
    """The key of a development SQLite store, made on first use beside the database."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as error:
        raise ConfigurationError(f"não foi possível criar a chave da auditoria em {path}: "
                                 f"{error.strerror}") from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _resolve(url: str) -> AuditConfig:
    key_file = get_setting("audit_key_file", _EXPLICIT.get("audit_key_file"))
    db_file = _sqlite_file(url)
    if key_file is not None:
        key = _read_key(Path(str(key_file)))
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode()
        if len(key) < MIN_KEY_BYTES:
            raise ConfigurationError(f"{KEY_ENV} é curta demais (mínimo {MIN_KEY_BYTES} "
                                     "bytes)")
    elif db_file is not None:
        key = _development_key(db_file.with_name(db_file.name + ".chave-auditoria"))
    elif url.startswith("sqlite"):
        key = _MEMORY_KEY
    else:
        raise ConfigurationError(
            "chave da auditoria não configurada: em produção defina RMDS_AUDIT_KEY_FILE (um "
            f"arquivo com permissão 0600, fora do banco) ou {KEY_ENV}; sem ela o rmds não "
            "grava nem confere a trilha de auditoria (veja docs/security.md)")
    where = get_setting("audit_checkpoints", _EXPLICIT.get("audit_checkpoints"))
    if where is not None:
        checkpoints = Path(str(where))
    elif db_file is not None:
        checkpoints = db_file.with_name(db_file.name + ".pontos-auditoria.jsonl")
    else:
        checkpoints = Path(str(get_setting("data_home"))) / "pontos-auditoria.jsonl"
    every = int(str(get_setting("audit_checkpoint_every",
                                _EXPLICIT.get("audit_checkpoint_every"))))
    label = (f"sqlite:{db_file}" if db_file is not None
             else make_url(url).render_as_string(hide_password=True))
    return AuditConfig(key, checkpoints, every, label)


def audit_config(store: Store) -> AuditConfig:
    """The store's audit key and checkpoint file; a clear error when the key is missing."""
    config = _CONFIGS.get(store)
    if config is None:
        config = _CONFIGS[store] = _resolve(store.url)
    return config


def _canonical(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def _mac(key: bytes, seq: int, prev: str, values: Mapping[str, object]) -> str:
    body = {"v": SCHEME_SEALED, "seq": seq, "prev": prev,
            **{f: values.get(f) for f in _FIELDS}}
    return hmac.new(key, _DOMAIN + _canonical(body), hashlib.sha256).hexdigest()


def _legacy_digest(prev: str, values: Mapping[str, object]) -> str:
    text = "|".join([prev, *("" if values.get(f) is None else str(values[f])
                              for f in _FIELDS)])
    return hashlib.sha256(text.encode()).hexdigest()


def _seal(key: bytes, body: Mapping[str, object]) -> str:
    return hmac.new(key, _CHECKPOINT_DOMAIN + _canonical(body), hashlib.sha256).hexdigest()


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    # PostgreSQL refuses NUL; other control characters only garble whoever reads the log
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value)[:limit]


def _write_checkpoints(config: AuditConfig, heads: list[tuple[int, str]]) -> None:
    """Append one checkpoint line per (seq, mac) of ``heads``, in one write."""
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines = []
    for seq, mac in heads:
        body: dict[str, object] = {"banco": config.label, "seq": seq, "mac": mac, "em": when}
        lines.append(_canonical({**body, "selo": _seal(config.key, body)}) + b"\n")
    try:
        try:
            fd = os.open(config.checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError:
            config.checkpoints.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(config.checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(lines))   # one write of whole lines: appends stay whole
        finally:
            os.close(fd)
    except OSError as error:
        raise ConfigurationError(
            f"entrada de auditoria nº {heads[-1][0]} gravada, mas não o ponto de controle em "
            f"{config.checkpoints}: {error.strerror}") from None


@dataclass
class _Pending:
    """One entry waiting to be appended, and what became of it."""

    values: dict[str, object]
    seq: int = 0
    error: BaseException | None = None


#: entries waiting, per store: whoever holds ``_LOCK`` appends them all in one transaction
_QUEUES: weakref.WeakKeyDictionary[Store, list[_Pending]] = weakref.WeakKeyDictionary()
_QUEUE_LOCK = threading.Lock()


def record(store: Store, *, username: str, role: str, action: str, resource: str,
           territory: str | None = None, origin: str | None = None,
           reason: str | None = None) -> int:
    """Append one entry; its sequence number, once it is committed.

    Concurrent calls are committed together (group commit): each waits for the lock;
    whoever gets it appends every entry queued by then in one transaction, in the order
    they were queued, and the others find theirs already done. One commit (one ``fsync``)
    serves many requests at once, and no call returns before its entry is durable; a
    failed transaction fails every call whose entry was in it, and writes none of them."""
    config = audit_config(store)
    raw = {"username": username, "role": role, "action": action, "resource": resource,
           "territory": territory, "origin": origin, "reason": reason}
    values: dict[str, object] = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        **{name: _clean(value, _LIMITS[name]) for name, value in raw.items()}}
    for name in ("username", "role", "action", "resource"):
        values[name] = values[name] or "-"
    mine = _Pending(values)
    with _QUEUE_LOCK:
        _QUEUES.setdefault(store, []).append(mine)
    with _LOCK:
        if not mine.seq and mine.error is None:
            with _QUEUE_LOCK:
                batch = _QUEUES.pop(store, [])
            _append(store, config, batch)
    if mine.error is not None:
        raise mine.error
    return mine.seq


def _append(store: Store, config: AuditConfig, batch: list[_Pending]) -> None:
    """Append ``batch`` to the chain in one transaction (the caller holds ``_LOCK``)."""
    sealed: list[tuple[int, str]] = []
    try:
        with store.engine.begin() as c:
            # the write lock before the chain's end is read: another process (a second
            # server worker, a command) appending at once waits here, and never seals
            # the same sequence number
            if c.dialect.name == "postgresql":
                c.execute(sa.text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
            elif c.dialect.name == "sqlite":
                c.exec_driver_sql("BEGIN IMMEDIATE")
            last = c.execute(sa.select(AUDIT.c.seq, AUDIT.c.hash)
                             .order_by(AUDIT.c.seq.desc()).limit(1)).first()
            seq = int(last[0]) if last else 0
            prev = str(last[1]) if last else GENESIS
            rows = []
            for pending in batch:
                seq += 1
                mac = _mac(config.key, seq, prev, pending.values)
                rows.append({**pending.values, "seq": seq, "scheme": SCHEME_SEALED,
                             "prev_hash": prev, "hash": mac})
                sealed.append((seq, mac))
                prev = mac
            c.execute(AUDIT.insert(), rows)
    except BaseException as error:
        for pending in batch:
            pending.error = error
        raise
    for pending, (seq, _) in zip(batch, sealed, strict=True):
        pending.seq = seq
    heads = [(seq, mac) for seq, mac in sealed if seq % config.every == 0]
    if heads:                        # after the commit: a checkpoint never names a ghost
        _write_checkpoints(config, heads)


def cli_actor() -> str:
    """Who runs a command: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):          # no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def record_cli(store_url: str, *, action: str, resource: str,
               territory: str | None = None) -> None:
    """Audit one command-line action: the OS user as actor, ``cli`` as origin."""
    from rmds.store.db import open_store

    store = open_store(store_url)
    try:
        record(store, username=cli_actor(), role="linha_de_comando", action=action,
               resource=resource, territory=territory, origin="cli")
    finally:
        store.close()


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    broken_at: int | None          # the first bad sequence number
    message: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _read_checkpoints(config: AuditConfig) -> tuple[dict[int, tuple[str, str]],
                                                     VerifyResult | None]:
    """seq → (mac, when) of this store's checkpoints; a result when one is forged."""
    found: dict[int, tuple[str, str]] = {}
    try:
        text = config.checkpoints.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return found, None
    except OSError as error:
        raise ConfigurationError(f"não foi possível ler os pontos de controle em "
                                 f"{config.checkpoints}: {error.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            item = json.loads(line)
        except ValueError:
            continue                 # a line cut by a crash mid-write; the next are whole
        if not isinstance(item, dict) or item.get("banco") != config.label:
            continue
        seal = item.pop("selo", None)
        seq, mac = item.get("seq"), item.get("mac")
        if (not isinstance(seal, str) or not isinstance(seq, int) or not isinstance(mac, str)
                or not hmac.compare_digest(seal, _seal(config.key, item))):
            return found, VerifyResult(0, seq if isinstance(seq, int) else 1,
                                       f"ponto de controle forjado ou alterado na linha "
                                       f"{number} de {config.checkpoints} (ou a chave da "
                                       "auditoria não é a que o gravou)")
        found[seq] = (mac, str(item.get("em", "")))
    return found, None


def verify(store: Store) -> VerifyResult:
    """Check the whole chain and the checkpoints; the first bad sequence number, if any."""
    config = audit_config(store)
    checkpoints, forged = _read_checkpoints(config)
    if forged is not None:
        return forged
    prev, last_seq, count, sealed = GENESIS, 0, 0, 0
    first_due: int | None = None

    def broken(seq: int, why: str) -> VerifyResult:
        return VerifyResult(count, seq, f"entrada nº {seq}: {why}")

    with store.engine.connect() as c:
        rows = c.execute(AUDIT.select().order_by(AUDIT.c.seq, AUDIT.c.id))
        for row in rows:
            m = row._mapping
            fields: dict[str, object] = {f: m[f] for f in _FIELDS}
            count += 1
            seq = int(m["seq"])
            if seq > last_seq + 1:
                return broken(last_seq + 1, f"ausente: a trilha salta da entrada nº "
                                            f"{last_seq} para a nº {seq} (entradas apagadas)")
            if seq <= last_seq:
                return broken(seq, "número de sequência repetido (entrada inserida)")
            if m["prev_hash"] != prev:
                return broken(seq, "não segue a anterior (entrada removida, alterada ou "
                                   "inserida fora de ordem)")
            if m["scheme"] == SCHEME_LEGACY:
                if sealed:
                    return broken(seq, "entrada sem selo depois de entradas seladas (trilha "
                                       "reescrita no formato antigo)")
                if _legacy_digest(prev, fields) != m["hash"]:
                    return broken(seq, "conteúdo alterado depois de gravado")
            else:
                if not hmac.compare_digest(_mac(config.key, seq, prev, fields), str(m["hash"])):
                    return broken(seq, "o selo (HMAC) não confere: entrada alterada ou "
                                       "forjada, ou a chave da auditoria não é a que gravou "
                                       "a trilha")
                sealed += 1
                if first_due is None and seq % config.every == 0:
                    first_due = seq
            point = checkpoints.get(seq)
            if point is not None and not hmac.compare_digest(point[0], str(m["hash"])):
                return broken(seq, f"difere do ponto de controle gravado em {point[1]} fora "
                                   "do banco (trilha reescrita)")
            prev, last_seq = str(m["hash"]), seq
    top = max(checkpoints, default=0)
    if top > last_seq:
        return broken(last_seq + 1, f"apagada: a trilha termina na entrada nº {last_seq}, "
                                    f"mas o ponto de controle de {checkpoints[top][1]} "
                                    f"registra a nº {top} (entradas apagadas do fim da "
                                    "trilha)")
    if first_due is not None and not checkpoints:
        return broken(first_due, f"sem ponto de controle em {config.checkpoints}: o "
                                 "arquivo foi apagado, trocado ou a configuração "
                                 "audit_checkpoints aponta para outro lugar")
    unsealed = count - sealed
    note = f" ({unsealed} no formato antigo, sem chave)" if unsealed else ""
    return VerifyResult(count, None, f"{count} entradas íntegras{note}; último ponto de "
                                     f"controle: entrada nº {top}" if top else
                        f"{count} entradas íntegras{note}")
