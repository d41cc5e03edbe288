"""Logging that never prints personal data.

rmds code logs identifiers that are not personal (batch ids, file names, counts). As a
second line of defence, :class:`PersonalDataFilter` masks anything in a log record that looks
like a CNS (15 digits), a CPF (11 digits, with or without punctuation) or a CEP.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PersonalDataFilter", "configure_logging", "get_logger", "mask_personal_data"]

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)\d{3}\s?\d{4}\s?\d{4}\s?\d{4}(?!\d)"), "[CNS]"),
    (re.compile(r"(?<!\d)\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)"), "[CPF]"),
    (re.compile(r"(?<!\d)\d{11}(?!\d)"), "[CPF]"),
    (re.compile(r"(?<!\d)\d{5}-\d{3}(?!\d)"), "[CEP]"),
)


def mask_personal_data(text: str) -> str:
    """Replace CNS-, CPF- and CEP-shaped numbers in ``text`` with placeholders."""
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


class PersonalDataFilter(logging.Filter):
    """Masks personal identifiers in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def get_logger(name: str) -> logging.Logger:
    """A logger under the ``rmds`` hierarchy."""
    return logging.getLogger(name if name.startswith("rmds") else f"rmds.{name}")


def configure_logging(level: str = "WARNING") -> None:
    """Send rmds logs to stderr with the personal-data filter on the handler."""
    root = logging.getLogger("rmds")
    root.setLevel(level)
    if not any(getattr(h, "_rmds", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(PersonalDataFilter())
        handler._rmds = True  # type: ignore[attr-defined]
        root.addHandler(handler)
