"""E-mail analysis (template ``email_analysis``): who we write with, in what tone, how
promptly each side answers, and how strong each relationship is, from one .eml message
or an mbox.

Modules: ``templates`` (params, the parse step, tasks, ``add_emails``), ``files``
(reading a whole .eml or mbox, threads, the tally), ``parsing`` (decoding one message
with the stdlib ``email``, its per-file header cache), ``bodies`` (HTML to text,
quoted replies dropped), ``records`` (the message record the steps share),
``sentiment``, ``engagement``, ``ranking`` (relationship strength) and ``report`` (the
steps after parsing), ``models`` (the output) and ``samples`` (the seeded sample mbox).
"""

from __future__ import annotations

from zerogate.workflows.mail.samples import write_sample_mbox
from zerogate.workflows.mail.templates import add_emails

__all__ = ["add_emails", "write_sample_mbox"]
