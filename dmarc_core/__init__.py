"""dmarc_core: DMARC alignment, diagnosis and report triage as a pure Python library.

No Streamlit here, and no network unless a DNS lookup is asked for.
"""

from .alignment import Alignment, AuthResult, DmarcEvaluation, check_alignment, evaluate_dmarc
from .diagnosis import Diagnosis, diagnose
from .domains import PublicSuffixMatch, normalize_domain, organizational_domain, public_suffix_match
from .knowledge import knowledge, known_sender
from .record import DmarcRecord, DmarcRecordError, parse_dmarc_record
from .reports import Report, ReportBatch, parse_reports
from .scenario import Scenario, scenario_from_params, scenario_from_query
from .triage import triage
from .unpack import Limits, ReportError

__all__ = [
    "Alignment",
    "AuthResult",
    "Diagnosis",
    "Limits",
    "DmarcEvaluation",
    "DmarcRecord",
    "DmarcRecordError",
    "PublicSuffixMatch",
    "Report",
    "ReportBatch",
    "ReportError",
    "Scenario",
    "check_alignment",
    "diagnose",
    "evaluate_dmarc",
    "knowledge",
    "known_sender",
    "normalize_domain",
    "organizational_domain",
    "parse_dmarc_record",
    "parse_reports",
    "public_suffix_match",
    "scenario_from_params",
    "scenario_from_query",
    "triage",
]
