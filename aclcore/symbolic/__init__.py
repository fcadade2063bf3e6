"""Stage 1 of the pipeline: kernel formulas as data.

* :mod:`.family` -- :class:`KernelFamily` and :class:`Param`, frozen validated values;
* :mod:`.constraints` -- the AKP constraints (reparameterisations);
* :mod:`.functions` -- THE function table (grammar name, SymPy object, torch lowering);
* :mod:`.implementations` -- where a row's torch implementation comes from (an import
  path, imported once; a plugin's on first use);
* :mod:`.parse` -- the safe formula parser and its exact inverse printer (with
  :mod:`.source`, :mod:`.budget` and :mod:`.printer`);
* :mod:`.special` -- torch implementations of the special functions the table names.

Nothing here knows about plugins: the plugin registry pushes its functions into the table.
"""

from __future__ import annotations

from aclcore.symbolic.constraints import Constraint, as_constraint
from aclcore.symbolic.family import NORMALIZATIONS, SYMMETRIES, KernelFamily, Param
from aclcore.symbolic.functions import FunctionTable, TorchFunction, active_table

__all__ = [
    "NORMALIZATIONS",
    "SYMMETRIES",
    "Constraint",
    "FunctionTable",
    "KernelFamily",
    "Param",
    "TorchFunction",
    "active_table",
    "as_constraint",
]
