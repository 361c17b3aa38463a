"""The ``excel_processing`` workload: check a spreadsheet, find its entities, score its
data quality.

Modules: ``templates`` (params, task registration, ``add_spreadsheets``), ``reading``
(``excel_read``: the sheet into a rows file), ``validation`` (``excel_validate``:
required cells, types, duplicates), ``entities`` (``excel_entities``: people,
organisations, e-mails, amounts), ``roles`` (each column's inferred role), ``cells``
(cell values, types and parsers), ``quality`` (``excel_quality``: the score),
``report`` (``excel_report`` and the output models) and ``samples``
(``write_sample_xlsx``: the seeded sample workbook).
"""

from zerogate.workflows.excel.samples import write_sample_xlsx
from zerogate.workflows.excel.templates import add_spreadsheets

__all__ = ["add_spreadsheets", "write_sample_xlsx"]
