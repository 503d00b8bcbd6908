"""Sharing a triage: what a colleague needs to see the same summary (the headline, rollout
readiness, the senders table with causes and fixes, the charts' figures), without the raw reports.

``shared_triage`` makes it from a triage, ``encode`` packs it into the text of a link
(``/triage?share=...``: the state is in the URL itself, so nothing is stored on a server) and
``decode`` reads it back, raising ``ShareError`` with a message a person understands for a link
that is damaged, from a newer version, or inflates to more than a triage can be. ``share_html``
(in ``share_html``) writes it as one self-contained HTML file.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import types
import typing
import zlib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from ..rules.knowledge import knowledge
from ..rules.wording import counted
from . import summary
from .summary import UNAUTHENTICATED, Headline, Readiness

if TYPE_CHECKING:
    from ..lookups.sources import IpInfo

#: The format of a link's state, its prefix ("1."): a link from a newer format is refused by name.
SHARE_VERSION = 1
#: A shared link: the triage page (app.py's ``url_path``) and its query parameter, ``/triage?share=...``.
LINK_PATH = "/triage"
SHARE_PARAM = "share"
#: Characters a link's state may take. Browsers accept far longer URLs (Chromium 2 MB), the servers
#: in front of a hosted app do not: nginx answers 414 to a request line over 8 KB by default
#: (large_client_header_buffers 8k), Apache over 8,190 bytes (LimitRequestLine); Streamlit itself
#: serves with uvicorn's h11, which refuses a request head over 16 KB (Tornado, in older versions, 64 KB).
#: 7,800 leaves room for the scheme, the host and ``/triage?share=`` under 8,000.
MAX_LINK_STATE = 7_800
#: What a link's state may inflate to. A full link inflates to a few hundred KB at most: more is a
#: "zip bomb", refused before it is unpacked.
MAX_INFLATED = 2_000_000
#: Receivers a shared triage names; the others it counts.
RECEIVERS_NAMED = 8
#: Decimals a shared pass rate keeps: a link carries many, and the page shows them to 0.1%.
RATE_DECIMALS = 6
#: What stands in for an address found in a text, when source addresses are left out.
LEFT_OUT = "(address left out)"

_STATE_TEXT = re.compile(r"[A-Za-z0-9_-]*")
_VERSION = re.compile(r"[0-9]{1,6}")
#: Runs of the characters an IPv4 or IPv6 address is written with; each is checked by ``ipaddress``.
_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*")


class ShareError(ValueError):
    """A shared triage that cannot be opened (or made), said for a person."""


@dataclass(frozen=True)
class Filters:
    """The triage's filters, by ``summary.matching``'s names: what every table, figure and chart shows."""

    policy_domain: str | None = None
    causes: tuple[str, ...] = ()
    failing_only: bool = False
    search: str = ""
    reasons: tuple[str, ...] = ()
    disagreeing_only: bool = False

    def rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        return summary.matching(frame, **{name.name: getattr(self, name.name) for name in fields(self)})

    def describe(self) -> str:
        """The filters in words, empty when there are none."""
        facts = knowledge()
        parts = [f"policy domain {self.policy_domain}"] if self.policy_domain else []
        if self.causes:
            parts.append("causes " + ", ".join(facts.findings[cause].title for cause in self.causes))
        if self.failing_only:
            parts.append("failing mail only")
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.reasons:
            parts.append("receiver's reasons " + ", ".join(facts.reason_titles.get(reason, reason) for reason in self.reasons))
        if self.disagreeing_only:
            parts.append("only where the receiver's verdict differs")
        return "; ".join(parts)


@dataclass(frozen=True)
class SourceRow:
    """A row of the senders table (``summary.by_source``) as shared: ``passing`` messages rather
    than the pass rate, which is exact and shorter."""

    source: str
    header_from: str
    cause: str
    table_row: int | None
    messages: int
    passing: int
    ips: int
    fix: str
    #: The Explorer's query string for the row's busiest record (see ``explorer_links``).
    explorer_link: str
    addresses: str
    reasons: str
    disagreeing: int
    as_names: str = ""
    host_names: str = ""
    #: Who the source is (``sender_kind``); last, so a link made before it opens without one.
    sender_kind: str = ""

    @property
    def pass_rate(self) -> float | None:
        return self.passing / self.messages if self.messages else None

    @property
    def failing(self) -> int:
        return self.messages - self.passing


@dataclass(frozen=True)
class SharedTriage:
    """What a colleague sees of a triage, for the records the filters kept: the headline figures,
    the readiness of their policy domains (each judged on all its mail, as the page does), the
    senders table, and the figures of the charts."""

    made: pd.Timestamp
    files: int
    #: The receivers that sent the most reports, at most ``RECEIVERS_NAMED``, and how many there are.
    receivers: tuple[str, ...]
    receiver_count: int
    headline: Headline
    #: In the order of ``summary.readiness_table``: the domains to roll back first, then the most messages.
    readiness: tuple[Readiness, ...]
    filters: Filters
    sources: tuple[SourceRow, ...]
    #: Per cause: (cause, messages, failing), the most messages first (``summary.by_cause``).
    causes: tuple[tuple[str, int, int], ...]
    #: Per day with messages: (day, messages, pass rate, the rollout plan's pass rate) (``summary.pass_rate_by_day``).
    pass_rates: tuple[tuple[date, int, float | None, float | None], ...]
    #: Failing messages per source and day: (day, source, messages) (``summary.failing_by_source_and_day``).
    failing_senders: tuple[tuple[date, str, int], ...]
    #: Messages per day and disposition: (day, disposition, messages) (``summary.by_day``).
    days: tuple[tuple[date, str, int], ...]
    #: Source addresses and host names were left out (replaced by ``LEFT_OUT`` wherever they stood).
    addresses_left_out: bool = False
    #: Senders left out to fit a link: the ones with the fewest failing messages.
    sources_left_out: int = 0
    #: Policy domains (their readiness) left out to fit a link: the ones with the fewest messages.
    domains_left_out: int = 0
    #: Causes some of whose records are on no row of the diagnosis table, or another (``summary.by_cause``).
    causes_off_their_row: tuple[str, ...] = ()

    @property
    def enriched(self) -> bool:
        """The senders carry networks or host names (the triage's "enrich sources")."""
        return any(row.as_names or row.host_names for row in self.sources)

    def by_source(self) -> pd.DataFrame:
        """The senders table as ``summary.by_source`` gives it."""
        names = [name.name for name in fields(SourceRow)]
        table = pd.DataFrame([[getattr(row, name) for name in names] for row in self.sources], columns=names)
        table = table.assign(failing=[row.failing for row in self.sources], pass_rate=[row.pass_rate for row in self.sources])
        columns = summary.SOURCE_COLUMNS + (summary.ENRICHED_COLUMNS if self.enriched else [])
        numbers = {"table_row": "Int64", "failing": "int64", "messages": "int64", "ips": "int64", "disagreeing": "int64"}
        return table.astype({**numbers, "pass_rate": "float64"})[columns]

    def by_cause(self) -> pd.DataFrame:
        """Messages per cause as ``summary.by_cause`` gives them, with the knowledge's titles and rows."""
        findings = knowledge().findings
        rows = [
            (
                cause,
                findings[cause].title,
                None if cause in self.causes_off_their_row else findings[cause].table_row,
                messages,
                failing,
            )
            for cause, messages, failing in self.causes
        ]
        table = pd.DataFrame(rows, columns=["cause", "title", "table_row", "messages", "failing"])
        return table.astype({"table_row": "Int64", "messages": "int64", "failing": "int64"})

    def pass_rate_by_day(self) -> pd.DataFrame:
        """The pass rates per day as ``summary.pass_rate_by_day`` gives them: every day from the
        first to the last, those without messages (which a link does not carry) without a rate."""
        table = _dated(self.pass_rates, ["day", "messages", "pass_rate", "rollout_pass_rate"])
        table = table.astype({"pass_rate": "float64", "rollout_pass_rate": "float64"}).set_index("day")
        if len(table):
            every_day = pd.date_range(table.index.min(), table.index.max(), freq="D", unit="us", name="day")
            table = table.reindex(every_day).fillna({"messages": 0}).astype({"messages": "int64"})
        return table.reset_index()

    def failing_by_source_and_day(self) -> pd.DataFrame:
        """Failing messages per day and source as ``summary.failing_by_source_and_day`` gives them."""
        return _dated(self.failing_senders, ["day", "source", "messages"])

    def by_day(self) -> pd.DataFrame:
        """Messages per day and disposition as ``summary.by_day`` gives them."""
        return _dated(self.days, ["day", "disposition", "messages"])


def _dated(rows: tuple[tuple, ...], columns: list[str]) -> pd.DataFrame:
    """Rows per day as a frame like the summary's: days as datetimes, messages as integers."""
    return pd.DataFrame(list(rows), columns=columns).astype({"day": "datetime64[us]", "messages": "int64"})


def shared_triage(
    frame: pd.DataFrame,
    filters: Filters = Filters(),
    *,
    enrichment: Mapping[str, IpInfo] | None = None,
    leave_out_addresses: bool = False,
    made: pd.Timestamp | None = None,
) -> SharedTriage:
    """The triage ``frame`` as a colleague should see it: the records ``filters`` keep, their
    senders with the networks and host names of ``enrichment``. ``leave_out_addresses`` leaves out
    every source address and host name: the addresses column goes, where an address names a
    source (mail nothing authenticated) ``UNAUTHENTICATED`` names it instead, and any address
    left in a text is replaced by ``LEFT_OUT``."""
    shown = filters.rows(frame)
    figures = summary.headline(shown)
    figures = replace(figures, begin=_timestamp(figures.begin), end=_timestamp(figures.end))
    named = _sources_named_without_addresses(frame) if leave_out_addresses else frame
    # Each domain judged on all its mail, as the page does: a pass rate of failing mail alone says nothing.
    domains = set(figures.policy_domains)
    assessments = [assessment for assessment in summary.rollout_readiness(named) if assessment.domain in domains]
    order = summary.readiness_table(assessments)["domain"].tolist()
    assessments.sort(key=lambda assessment: order.index(assessment.domain))
    causes = summary.by_cause(shown)
    shared = SharedTriage(
        made=(made if made is not None else pd.Timestamp.now(tz="UTC")).floor("s"),
        files=int(shown["file"].nunique()),
        receivers=_busiest_receivers(shown),
        receiver_count=int(shown["org_name"].astype(object).replace("", None).nunique()),
        headline=figures,
        readiness=tuple(assessments),
        filters=filters,
        sources=_source_rows(summary.by_source(shown, enrichment), leave_out_addresses),
        causes=_tuples(causes[["cause", "messages", "failing"]]),
        pass_rates=_tuples(_days_with_messages(summary.pass_rate_by_day(shown))),
        failing_senders=_tuples(summary.failing_by_source_and_day(shown)[["day", "source", "messages"]]),
        days=_tuples(summary.by_day(shown)[["day", "disposition", "messages"]]),
        addresses_left_out=leave_out_addresses,
        causes_off_their_row=tuple(causes.loc[causes["table_row"].isna(), "cause"]),
    )
    return _map_text(shared, _without_addresses) if leave_out_addresses else shared


def _days_with_messages(rates: pd.DataFrame) -> pd.DataFrame:
    """The pass rates of the days with messages (the others have none), to ``RATE_DECIMALS``."""
    return rates[rates["messages"] > 0].round(dict.fromkeys(["pass_rate", "rollout_pass_rate"], RATE_DECIMALS))


def _busiest_receivers(rows: pd.DataFrame) -> tuple[str, ...]:
    """The receivers (org_name) of the most reports among ``rows``, the most first."""
    quoted = summary.reports(rows)["org_name"].astype(object)
    counts = quoted[quoted.fillna("") != ""].value_counts(sort=False)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return tuple(str(name) for name, _ in ranked[:RECEIVERS_NAMED])


def _source_rows(table: pd.DataFrame, leave_out_addresses: bool) -> tuple[SourceRow, ...]:
    rows = []
    for row in table.to_dict("records"):
        messages = int(row["messages"])
        rows.append(
            SourceRow(
                source=row["source"],
                header_from=row["header_from"],
                cause=row["cause"],
                table_row=None if pd.isna(row["table_row"]) else int(row["table_row"]),
                messages=messages,
                passing=messages - int(row["failing"]),
                ips=int(row["ips"]),
                fix=row["fix"],
                explorer_link=row["explorer_link"],
                addresses="" if leave_out_addresses else row["addresses"],
                reasons=row["reasons"],
                disagreeing=int(row["disagreeing"]),
                as_names=row.get("as_names", ""),
                host_names="" if leave_out_addresses else row.get("host_names", ""),
                sender_kind=row["sender_kind"],
            )
        )
    return tuple(rows)


def _tuples(table: pd.DataFrame) -> tuple[tuple, ...]:
    """A summary's rows as plain tuples: days as dates, integers as ``int``, a missing rate as None."""

    def plain(value):
        if isinstance(value, pd.Timestamp):
            return value.date()
        if pd.isna(value):
            return None
        return value.item() if hasattr(value, "item") else value

    return tuple(tuple(plain(value) for value in row) for row in table.itertuples(index=False, name=None))


def period(shared: SharedTriage) -> str:
    """The days the reports cover, "2025-10-01 to 2025-10-14", or empty where they gave no dates."""
    begin, end = shared.headline.begin, shared.headline.end
    return f"{begin:%Y-%m-%d} to {end:%Y-%m-%d}" if begin is not None and end is not None else ""


def about(shared: SharedTriage) -> str:
    """Where a shared triage's figures come from, in words: when it was made, from which files,
    reports and receivers, for which days and domains, and what it leaves out."""
    figures = shared.headline
    sentence = (
        f"Shared triage made on {shared.made:%Y-%m-%d %H:%M} UTC from {counted(shared.files, 'file')} "
        f"({counted(figures.reports, 'report')}"
        f"{' by ' + _few(shared.receivers, RECEIVERS_NAMED, shared.receiver_count - len(shared.receivers)) if shared.receivers else ''})"
    )
    if period(shared):
        sentence += f", {period(shared)}"
    if figures.policy_domains:
        sentence += f", for {_few(figures.policy_domains, 5, shared.domains_left_out)}"
    sentences = [sentence + "; the raw reports are not included."]
    if shared.filters.describe():
        sentences.append(f"The senders, causes and days are those the filters kept: {shared.filters.describe()}.")
    if shared.addresses_left_out:
        sentences.append("Source IPs and host names were left out.")
    if shared.sources_left_out:
        sentences.append(
            f"{counted(shared.sources_left_out, 'sender')} with the fewest failing messages left out to fit the link."
        )
    if shared.domains_left_out:
        sentences.append(
            f"The readiness of {counted(shared.domains_left_out, 'policy domain')} with the fewest messages left out to fit the link."
        )
    return " ".join(sentences)


def _few(names: tuple[str, ...], shown: int, unnamed: int = 0) -> str:
    """The first ``shown`` of ``names``, and how many more (``unnamed`` others besides)."""
    more = max(len(names) - shown, 0) + unnamed
    return ", ".join(names[:shown]) + (f" and {more:,} more" if more else "")


def _timestamp(value) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else value


def _sources_named_without_addresses(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the sources an address names (nothing authenticated their mail) named
    ``UNAUTHENTICATED``, as the senders table names them: readiness speaks of them as one."""
    named_by_address = summary.unauthenticated_records(frame)
    if not named_by_address.any():
        return frame
    return frame.assign(source=frame["source"].astype(object).where(~named_by_address, UNAUTHENTICATED))


def _without_addresses(text: str) -> str:
    """``text`` with every IP address in it replaced by ``LEFT_OUT``."""

    def left_out(match: re.Match) -> str:
        token = match.group()
        core = token.strip(":.")
        try:
            ipaddress.ip_address(core)
        except ValueError:
            return token
        return token.replace(core, LEFT_OUT, 1)

    return _ADDRESS_LIKE.sub(left_out, text)


def _map_text(value, change: Callable[[str], str]):
    """``value`` (a dataclass, tuple or scalar) with ``change`` applied to every text in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, tuple):
        return tuple(_map_text(item, change) for item in value)
    if is_dataclass(value):
        return replace(value, **{name.name: _map_text(getattr(value, name.name), change) for name in fields(value)})
    return value


# --- the link ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    """A link's state (``/triage?share=`` + ``text``), and the triage it carries: the senders kept
    and how many were left out to fit."""

    text: str
    shared: SharedTriage


def encode(shared: SharedTriage, max_chars: int = MAX_LINK_STATE) -> Encoded:
    """``shared`` as the text of a link: ``"1."`` and the compact JSON, deflated, in base64url.
    Longer than ``max_chars``, it keeps the senders with the most failing messages (in the table's
    order) and counts the others in ``sources_left_out``. The senders table comes first: where the
    policy domains' readiness alone would take more than half the link, it keeps the domains with
    the most messages and counts the others in ``domains_left_out``. ``ShareError`` if nothing fits."""
    text = _pack(shared)
    if len(text) <= max_chars:
        return Encoded(text, shared)
    if len(_pack(_keep_sources(shared, 0))) > max_chars // 2:
        domains = _most_that_fit(
            lambda count: _keep_sources(_keep_domains(shared, count), 0), len(shared.readiness), max_chars // 2
        )
        shared = _keep_domains(shared, len(domains.readiness))
    trimmed = _most_that_fit(lambda count: _keep_sources(shared, count), len(shared.sources), max_chars)
    text = _pack(trimmed)
    if len(text) > max_chars:
        raise ShareError("This triage is too big for a link even with its senders left out: share it as an HTML file instead.")
    return Encoded(text, trimmed)


def _most_that_fit(keep: Callable[[int], SharedTriage], available: int, max_chars: int) -> SharedTriage:
    """``keep(count)`` for the largest ``count`` up to ``available`` that packs into ``max_chars``
    (``keep(0)`` when none does), found by bisection: the text grows with every item kept."""
    fits, too_many = 0, available + 1
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        if len(_pack(keep(middle))) <= max_chars:
            fits = middle
        else:
            too_many = middle
    return keep(fits)


def _keep_sources(shared: SharedTriage, count: int) -> SharedTriage:
    """``shared`` with the ``count`` senders with the most failing messages, in the table's order."""
    rows = shared.sources
    ranked = sorted(range(len(rows)), key=lambda i: (-rows[i].failing, -rows[i].messages, i))
    return replace(
        shared,
        sources=tuple(rows[i] for i in sorted(ranked[:count])),
        sources_left_out=shared.sources_left_out + len(rows) - count,
    )


def _keep_domains(shared: SharedTriage, count: int) -> SharedTriage:
    """``shared`` with the readiness of the ``count`` policy domains with the most messages."""
    kept = {assessment.domain for assessment in sorted(shared.readiness, key=lambda a: (-a.messages, a.domain))[:count]}
    figures = shared.headline
    return replace(
        shared,
        headline=replace(figures, policy_domains=tuple(domain for domain in figures.policy_domains if domain in kept)),
        readiness=tuple(assessment for assessment in shared.readiness if assessment.domain in kept),
        domains_left_out=shared.domains_left_out + len(shared.readiness) - len(kept),
    )


def decode(text: str) -> SharedTriage:
    """The triage a link's state carries; ``ShareError`` for one that cannot be opened."""
    version, dot, packed = text.strip().partition(".")
    if not dot or not _VERSION.fullmatch(version):
        raise ShareError(_DAMAGED)
    if int(version) > SHARE_VERSION:
        raise ShareError(
            f"This link was made by a newer version of the app (format {int(version)}; this one reads format "
            f"{SHARE_VERSION}). Open it where it was made, or ask for the triage as an HTML file."
        )
    if int(version) != SHARE_VERSION or not _STATE_TEXT.fullmatch(packed):
        raise ShareError(_DAMAGED)
    try:
        deflated = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        inflater = zlib.decompressobj()
        inflated = inflater.decompress(deflated, MAX_INFLATED)
    except (binascii.Error, zlib.error) as error:
        raise ShareError(_DAMAGED) from error
    if inflater.unconsumed_tail:
        raise ShareError(
            f"This link unpacks to more than a shared triage can be (over {MAX_INFLATED // 1_000_000} MB), so it was not opened."
        )
    if not inflater.eof or inflater.unused_data:
        raise ShareError(_DAMAGED)
    try:
        plain = json.loads(inflated.decode("utf-8"), parse_constant=_no_constant)
        shared = _typed(plain, SharedTriage)
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError) as error:
        raise ShareError(_DAMAGED) from error
    named = {row.cause for row in shared.sources} | {row[0] for row in shared.causes} | set(shared.filters.causes)
    kinds = {row.sender_kind for row in shared.sources} - {""}
    if not named <= set(knowledge().findings) or not kinds <= set(knowledge().sender_kinds):
        raise ShareError(
            "This link names a cause or a kind of sender this version of the app does not know: it was made by a newer version. "
            "Open it where it was made, or ask for the triage as an HTML file."
        )
    return shared


_DAMAGED = (
    "This shared link is damaged: part of it is missing or was changed (a mail program that breaks long "
    "lines cuts links short). Ask for the link again, or for the triage as an HTML file."
)


def _pack(shared: SharedTriage) -> str:
    plain = json.dumps(_plain(shared), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    packed = base64.urlsafe_b64encode(zlib.compress(plain.encode("utf-8"), 9)).decode("ascii").rstrip("=")
    return f"{SHARE_VERSION}.{packed}"


def _plain(value):
    """``value`` as JSON holds it: a dataclass as the list of its fields' values, in their order."""
    if is_dataclass(value):
        return [_plain(getattr(value, name.name)) for name in fields(value)]
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, date):  # pd.Timestamp and datetime too
        return value.isoformat()
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is no number a triage holds")


#: Integers a link may carry: what pandas holds in int64.
_INT_LIMIT = 2**63


def _typed(value, kind):
    """``value`` (from ``_plain``) made back into ``kind``; ``ValueError`` where it does not fit."""
    if is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        names = [name.name for name in fields(kind)]
        # A link made before the last fields with defaults were added leaves them out.
        required = sum(1 for name in fields(kind) if name.default is MISSING and name.default_factory is MISSING)
        if not isinstance(value, list) or not required <= len(value) <= len(names):
            raise ValueError(f"{kind.__name__} expected")
        return kind(*(_typed(item, hints[name]) for item, name in zip(value, names[: len(value)], strict=True)))
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arguments:
            return None
        (kind,) = (argument for argument in arguments if argument is not type(None))
        return _typed(value, kind)
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError("a list expected")
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_typed(item, arguments[0]) for item in value)
        if len(value) != len(arguments):
            raise ValueError(f"{len(arguments)} values expected")
        return tuple(_typed(item, argument) for item, argument in zip(value, arguments, strict=True))
    return _scalar(value, kind)


def _scalar(value, kind):
    if kind is pd.Timestamp and isinstance(value, str):
        return pd.Timestamp(datetime.fromisoformat(value))
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT:
        return value
    if kind in (str, bool) and type(value) is kind:
        return value
    raise ValueError(f"{getattr(kind, '__name__', kind)} expected")
