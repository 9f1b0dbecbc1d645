"""The typed core: records and their column schema.

Examples
--------
>>> from stickykit.core import Survey
>>> Survey(respondent_id="r1", answers={"nps": 7}).instrument
'nps'
"""

from stickykit.core.records import Answers, Customer, Event, Id, Survey
from stickykit.core.schema import COLUMN, ColumnSpec, columns

__all__ = ["COLUMN", "Answers", "ColumnSpec", "Customer", "Event", "Id", "Survey", "columns"]
