"""An Explorer scenario and its URL form: the stable, shareable parameters.

    /?from=user@example.com&dkim=mcsv.net:pass,example.com:fail&spf=mcsv.net:pass&adkim=s&aspf=r

``from``          the From: domain or address
``dkim``          comma-separated ``domain:result`` signatures (``:pass`` may be left out)
``spf``           ``domain:result`` of the SPF check on the MAIL FROM domain
``adkim``/``aspf``  ``r`` (default) or ``s``
``reported_dkim`` optional: the receiver's policy_evaluated dkim (``pass``/``fail``), when a
                  report row is being reproduced
``reported_spf``  optional: the receiver's policy_evaluated spf, likewise
``reason``        optional: the receiver's reason types, comma-separated (``forwarded,local_policy``)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from .alignment import parse_mode, parse_result
from .evaluation import DmarcEvaluation, evaluate_dmarc
from .knowledge import knowledge

PARAMETERS = ("from", "dkim", "spf", "adkim", "aspf", "reported_dkim", "reported_spf", "reason")
#: Signatures a link may carry: real messages have one to three.
MAX_SIGNATURES = 10
#: policy_evaluated reason types of RFC 7489 and RFC 9990.
REASONS = ("forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "policy_test_mode", "other")


@dataclass(frozen=True)
class Scenario:
    from_domain: str = ""
    dkim: tuple[tuple[str, str], ...] = ()
    spf: tuple[str, str] | None = None
    adkim: str = "r"
    aspf: str = "r"
    reported_dkim: str | None = None
    reported_spf: str | None = None
    reasons: tuple[str, ...] = ()

    def evaluate(self) -> DmarcEvaluation:
        """The DMARC verdict; ``ValueError`` with a readable message for a bad domain."""
        return evaluate_dmarc(
            self.from_domain, self.dkim, self.spf, self.adkim, self.aspf, self.reported_dkim, self.reported_spf, self.reasons
        )

    def to_params(self) -> dict[str, str]:
        """The URL parameters, leaving out defaults so links stay short."""
        params = {"from": self.from_domain}
        if self.dkim:
            params["dkim"] = ",".join(f"{domain}:{result}" for domain, result in self.dkim)
        if self.spf:
            params["spf"] = f"{self.spf[0]}:{self.spf[1]}"
        if self.adkim != "r":
            params["adkim"] = self.adkim
        if self.aspf != "r":
            params["aspf"] = self.aspf
        if self.reported_dkim:
            params["reported_dkim"] = self.reported_dkim
        if self.reported_spf:
            params["reported_spf"] = self.reported_spf
        if self.reasons:
            params["reason"] = ",".join(self.reasons)
        return {key: value for key, value in params.items() if value}

    def query_string(self) -> str:
        return urlencode(self.to_params(), safe="@:,")


def scenario_from_params(params: Mapping[str, str | list[str]]) -> tuple[Scenario, list[str]]:
    """Read URL parameters leniently: every problem becomes a message, the rest still loads."""
    problems: list[str] = []

    def value(name: str) -> str:
        raw = params.get(name, "")
        if isinstance(raw, list):
            raw = raw[-1] if raw else ""
        return str(raw).strip()

    dkim = []
    entries = [part.strip() for part in value("dkim").split(",") if part.strip()]
    if len(entries) > MAX_SIGNATURES:  # a link is whatever its sender wrote: thousands would take minutes to draw
        problems.append(f"dkim= lists {len(entries)} signatures; the first {MAX_SIGNATURES} were kept.")
    for entry in entries[:MAX_SIGNATURES]:
        signature = _pair(entry, "dkim", problems)
        if signature:
            dkim.append(signature)
    spf = _pair(value("spf"), "spf", problems) if value("spf") else None
    adkim = _mode(value("adkim"), "adkim", problems)
    aspf = _mode(value("aspf"), "aspf", problems)
    reported = {name: _verdict(value(name), name, problems) for name in ("reported_dkim", "reported_spf")}
    reasons = tuple(dict.fromkeys(reason for reason in value("reason").lower().replace(" ", "").split(",") if reason))
    unknown_reasons = [reason for reason in reasons if reason not in REASONS]
    if unknown_reasons:
        problems.append(f"reason={','.join(unknown_reasons)} is not a reason; reasons are {', '.join(REASONS)}.")
        reasons = tuple(reason for reason in reasons if reason in REASONS)
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        problems.append(f"Unknown link parameter{'s' if len(unknown) > 1 else ''} ignored: {', '.join(unknown)}.")
    scenario = Scenario(
        value("from"), tuple(dkim), spf, adkim, aspf, reported["reported_dkim"], reported["reported_spf"], reasons
    )
    return scenario, problems


def scenario_from_query(query: str) -> tuple[Scenario, list[str]]:
    """The same from a query string such as ``from=example.com&dkim=example.com:pass``."""
    return scenario_from_params(dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)))


def _pair(entry: str, identifier: str, problems: list[str]) -> tuple[str, str] | None:
    domain, _, result = entry.rpartition(":") if ":" in entry else (entry, "", "pass")
    domain = domain.strip()
    if not domain:
        problems.append(f"{identifier}={entry}: a signature needs a domain, as in {identifier}=example.com:pass.")
        return None
    try:
        return domain, parse_result(result, identifier)  # type: ignore[arg-type]
    except ValueError as exc:
        problems.append(f"{identifier}={entry}: {exc}")
        return None


def _verdict(raw: str, name: str, problems: list[str]) -> str | None:
    verdict = raw.lower() or None
    if verdict not in (None, "pass", "fail"):
        problems.append(f"{name}={raw}: it takes pass or fail.")
        return None
    return verdict


def _mode(raw: str, tag: str, problems: list[str]) -> str:
    if not raw:
        return "r"
    try:
        return parse_mode(raw, tag)
    except ValueError as exc:
        problems.append(f"{exc} Using {tag}=r.")
        return "r"


@functools.cache
def scenarios_by_table_row() -> dict[int, str]:
    """For each row of the quick diagnosis table, the key of the first article scenario that
    lands on it: computed by the rules, not written down twice."""
    rows: dict[int, str] = {}
    for preset in knowledge().scenarios:
        row = scenario_from_query(preset.query)[0].evaluate().diagnosis.table_row
        if row:
            rows.setdefault(row, preset.key)
    return rows
