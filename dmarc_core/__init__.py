"""dmarc_core: DMARC alignment, diagnosis and report triage as a pure Python library.

No Streamlit here, and no network unless a DNS lookup is asked for. Five layers, each a
sub-package that says what it may import (``tests/test_layers.py`` holds them to it):

- ``rules``: the RFCs and the article as pure functions and data: domains, alignment, the DMARC
  verdict, the cause rules, the DMARC record, DKIM key records, the knowledge, Explorer links;
- ``reports``: from uploaded files to reports (containers, XML, refusals); knows no rule;
- ``lookups``: DNS, the only network code: discovery, DKIM keys, SPF, sources, the Domain Check;
- ``analysis``: the triage of report records by the rules, and its summaries;
- ``message``: one message read, its DKIM signatures, SPF and ARC chain verified, and explained.

The names below are imported on first use, so ``check_alignment`` costs no pandas, pyarrow or
dnspython import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    ".rules.alignment": ("Alignment", "check_alignment"),
    ".rules.evaluation": ("IdentifierResult", "DmarcEvaluation", "evaluate_dmarc"),
    ".rules.diagnosis": ("Diagnosis", "diagnose"),
    ".rules.domains": ("PublicSuffixMatch", "normalize_domain", "organizational_domain", "public_suffix_match"),
    ".rules.knowledge": ("knowledge", "known_sender"),
    ".rules.dmarc_record": ("DmarcRecord", "DmarcRecordError", "explain_tags", "parse_dmarc_record"),
    ".rules.dkim_key": ("parse_selectors",),
    ".rules.scenario": ("Scenario", "scenario_from_params", "scenario_from_query"),
    ".reports.model": (
        "AuthResults",
        "DistinctReports",
        "DkimResult",
        "FileOutcome",
        "Limits",
        "Refusal",
        "Report",
        "ReportError",
        "SpfResult",
        "distinct_reports",
    ),
    ".reports.reading": ("parse_reports", "read_file", "read_files"),
    ".lookups": ("NAMESERVER_ENV",),
    ".lookups.resolver": ("Lookup", "lookup", "make_resolver"),
    ".lookups.discovery": ("DmarcDiscovery", "PolicyDiscovery", "discover_dmarc", "tree_walk_domains"),
    ".lookups.dkim_keys": ("DkimKeyLookup", "lookup_dkim_keys"),
    ".lookups.spf": ("SpfLookup", "fetch_spf"),
    ".lookups.sources": ("IpInfo", "enrich_ips"),
    ".lookups.domain_check": ("DomainCheck", "check_domain"),
    ".analysis.triage": ("triage",),
    ".message.model": ("Message", "MessageError"),
    ".message.reading": ("read_message",),
    ".message.check": ("MessageCheck", "check_message"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'dmarc_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on demand
    from .analysis.triage import triage
    from .lookups import NAMESERVER_ENV
    from .lookups.discovery import DmarcDiscovery, PolicyDiscovery, discover_dmarc, tree_walk_domains
    from .lookups.dkim_keys import DkimKeyLookup, lookup_dkim_keys
    from .lookups.domain_check import DomainCheck, check_domain
    from .lookups.resolver import Lookup, lookup, make_resolver
    from .lookups.sources import IpInfo, enrich_ips
    from .lookups.spf import SpfLookup, fetch_spf
    from .message.check import MessageCheck, check_message
    from .message.model import Message, MessageError
    from .message.reading import read_message
    from .reports.model import (
        AuthResults,
        DistinctReports,
        DkimResult,
        FileOutcome,
        Limits,
        Refusal,
        Report,
        ReportError,
        SpfResult,
        distinct_reports,
    )
    from .reports.reading import parse_reports, read_file, read_files
    from .rules.alignment import Alignment, check_alignment
    from .rules.diagnosis import Diagnosis, diagnose
    from .rules.dkim_key import parse_selectors
    from .rules.dmarc_record import DmarcRecord, DmarcRecordError, explain_tags, parse_dmarc_record
    from .rules.domains import PublicSuffixMatch, normalize_domain, organizational_domain, public_suffix_match
    from .rules.evaluation import DmarcEvaluation, IdentifierResult, evaluate_dmarc
    from .rules.knowledge import knowledge, known_sender
    from .rules.scenario import Scenario, scenario_from_params, scenario_from_query
