"""dmarc_core: DMARC alignment, diagnosis and report triage as a pure Python library.

No Streamlit here, and no network unless a DNS lookup is asked for.
"""

from .alignment import Alignment, AuthResult, DmarcEvaluation, check_alignment, evaluate_dmarc
from .check import DomainCheck, check_domain, explain_tags
from .diagnosis import Diagnosis, diagnose
from .discovery import DmarcDiscovery, PolicyDiscovery, discover_dmarc, tree_walk_domains
from .dkim import DkimKeyLookup, lookup_dkim_keys, parse_selectors
from .dns import NAMESERVER_ENV, Lookup, lookup, make_resolver
from .domains import PublicSuffixMatch, normalize_domain, organizational_domain, public_suffix_match
from .enrich import IpInfo, enrich_ips
from .knowledge import knowledge, known_sender
from .record import DmarcRecord, DmarcRecordError, parse_dmarc_record
from .reports import Report, ReportBatch, parse_reports
from .scenario import Scenario, scenario_from_params, scenario_from_query
from .spf import SpfLookup, fetch_spf
from .triage import triage
from .unpack import Limits, ReportError

__all__ = [
    "NAMESERVER_ENV",
    "Alignment",
    "AuthResult",
    "Diagnosis",
    "DkimKeyLookup",
    "DmarcDiscovery",
    "DmarcEvaluation",
    "DmarcRecord",
    "DmarcRecordError",
    "DomainCheck",
    "IpInfo",
    "Lookup",
    "PolicyDiscovery",
    "PublicSuffixMatch",
    "Report",
    "ReportBatch",
    "ReportError",
    "Scenario",
    "SpfLookup",
    "check_alignment",
    "check_domain",
    "diagnose",
    "discover_dmarc",
    "enrich_ips",
    "evaluate_dmarc",
    "explain_tags",
    "fetch_spf",
    "knowledge",
    "known_sender",
    "lookup",
    "lookup_dkim_keys",
    "make_resolver",
    "normalize_domain",
    "organizational_domain",
    "parse_dmarc_record",
    "parse_reports",
    "public_suffix_match",
    "scenario_from_params",
    "scenario_from_query",
    "triage",
]
