"""Columnar frames: the strict, bulk form of the records.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> SurveyFrame(respondent_id=np.arange(2), answers={"nps": np.array([9, 3], np.int8)}).items
('nps',)
"""

from stickykit.frames._chunks import Frame, iter_chunks
from stickykit.frames._columns import TEXT_DTYPE
from stickykit.frames._event import CustomerFrame, EventFrame
from stickykit.frames._survey import SurveyFrame

__all__ = ["TEXT_DTYPE", "CustomerFrame", "EventFrame", "Frame", "SurveyFrame", "iter_chunks"]
