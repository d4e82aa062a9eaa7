"""Curation: quality checks that gate training, redaction and fixes as revisions, the data card."""

from expertune.curate.checks import CHECK_NAMES
from expertune.curate.findings import CheckReport, Finding, Ref, Span
from expertune.curate.gate import GATE_CHECKS, GateFailed, GateReport, run_gate
from expertune.curate.runner import run_checks

__all__ = ["CHECK_NAMES", "GATE_CHECKS", "CheckReport", "Finding", "GateFailed", "GateReport", "Ref", "Span",
           "run_checks", "run_gate"]
