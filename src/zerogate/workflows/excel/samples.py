"""The sample workbook ``excel_processing`` reads when a request asks for a sample.

``write_sample_xlsx`` writes a seeded sheet of sponsor/grant records (people and
organisations from the shared ``Cast``, so they match the other workloads' samples)
with defects at known rates, so that a sample run has issues to find, entities to
collect and a quality score below 100. The same seed always gives the same workbook.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell

from zerogate.workflows.samples import TOPICS, Cast

SAMPLE_COLUMNS = ("Grant ID", "Sponsor", "Contact", "Email", "Amount", "Awarded", "Program",
                  "Renewal", "Notes")
CURRENCIES = (("USD", '"$"#,##0'), ("EUR", "[$€-407] #,##0"), ("GBP", "[$£-809]#,##0"))
WRONG = {4: ("TBD", "pending", "see notes"), 5: ("soon", "Q3", "next year")}


def write_sample_xlsx(path: Path, seed: int, rows: int = 3_000) -> None:
    """A seeded workbook of sponsor/grant records with defects at seeded rates: ~2%
    missing values, ~2% bad e-mails, ~1% copied rows, ~0.5% repeated ids, ~1.5% wrong
    types; ~15% of amounts and ~8% of dates are written as text."""
    rng, cast = random.Random(seed), Cast(seed)
    orgs = [o for o in cast.orgs(40) if not any(c.isdigit() for c in o)]
    people = [p for p in cast.people(400, orgs) if not any(c.isdigit() for c in p.name)]
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Grants")
    ws.append(SAMPLE_COLUMNS)
    made: list[list[Any]] = []
    for i in range(rows):
        roll = rng.random()
        record = (list(rng.choice(made[-200:])) if made and roll < 0.01
                  else _sample_record(rng, f"G-{seed % 1000:03d}-{i:05d}", people, orgs))
        if made and 0.01 <= roll < 0.015:
            record[0] = rng.choice(made)[0]
        made.append(record)
        ws.append([_sample_cell(ws, v) for v in record])
    book.save(path)


def _sample_record(rng: random.Random, gid: str, people: list[Any],
                   orgs: list[str]) -> list[Any]:
    who = rng.choice(people)
    code, fmt = rng.choices(CURRENCIES, weights=(7, 2, 1))[0]
    value = rng.randrange(2_000, 250_000, 500)
    money = [f"{code} {value:,}", f"{value:,} {code}", f"{code} {value / 1000:g}k",
             f"${value:,}" if code == "USD" else f"{code} {value / 1e6:g}m"]
    day: Any = date(2021, 1, 1) + timedelta(days=rng.randrange(1_600))
    if rng.random() < 0.08:
        day = day.strftime(rng.choice(("%Y-%m-%d", "%d %b %Y", "%B %d, %Y")))
    notes = (f"Co-funded with {rng.choice(orgs)}", "Board to trust the review process",
             f"Pledged USD {rng.randrange(1, 50) * 1000:,} more over three years",
             f"Renewal discussed with {who.name}; follow up at {who.email}")
    record = [gid, who.org, who.name, who.email,
              (value, fmt) if rng.random() > 0.15 else rng.choice(money), day,
              rng.choice(TOPICS).title(), rng.random() < 0.3,
              rng.choice(notes) if rng.random() < 0.35 else None]
    roll = rng.random()
    if roll < 0.02:
        record[rng.choice((2, 3, 4))] = None
    elif roll < 0.04:
        name, domain = who.email.split("@")
        record[3] = rng.choice((f"{name} at {domain}", f"{name}@", f"{name}@@{domain}",
                                f"{name}@{domain.split('.')[0]}"))
    elif roll < 0.055:
        at = rng.choice((4, 5))
        record[at] = rng.choice(WRONG[at])
    return record


def _sample_cell(ws: Any, value: Any) -> Any:
    if not isinstance(value, tuple):
        return value
    cell = WriteOnlyCell(ws, value=value[0])  # (amount, currency format)
    cell.number_format = value[1]
    return cell
