"""The whole schema: every package's models, for Alembic and for the tests that build a database.

`Base.metadata` knows a table once its model module is imported; this module imports them all, so
that importing it is enough to see the whole schema. It belongs to the composition root: the kernel
(`terugbel.db`) knows no product package.
"""

from __future__ import annotations

import callbacks.models
import console.models
import ivr.models
import routing.models
import telephony.models
import terugbel.audit
from terugbel.db import Base

MODEL_MODULES = (callbacks.models, console.models, ivr.models, routing.models, telephony.models, terugbel.audit)
metadata = Base.metadata
