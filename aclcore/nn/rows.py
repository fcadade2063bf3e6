"""Which input channels a subset of a layer's output channels reads, under ``groups``.

A layer's convolution paths (:mod:`aclcore.nn.paths`) may compute some output channels one
way (e.g. a separable family block) and the others another way. With ``groups > 1`` output
channel ``o`` reads only the inputs of its group ``o // (out_channels / groups)``, so a subset
of output channels becomes a smaller grouped convolution: the groups it touches, each with
``per_group`` rows (rows of a group that are not in the subset are zero rows, computed and
dropped: at most the rows of the first and last touched group). :class:`RowLayout` is that
arrangement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["RowLayout"]


@dataclass(frozen=True)
class RowLayout:
    """The grouped arrangement of a subset of output channels.

    Attributes:
        rows: the output channels of the subset, increasing.
        groups: the groups they belong to, increasing (``ng = len(groups)``).
        per_group: rows per group in the arrangement (the most rows of one group).
        slots: for each of ``rows``, its position among the ``ng * per_group`` rows.
        in_per_group: input channels per group.
    """

    rows: tuple[int, ...]
    groups: tuple[int, ...]
    per_group: int
    slots: tuple[int, ...]
    in_per_group: int

    @classmethod
    def build(cls, rows: Sequence[int], out_per_group: int, in_per_group: int) -> RowLayout:
        """The arrangement of ``rows`` in a layer with these channels per group."""
        ordered = tuple(sorted(rows))
        members: dict[int, list[int]] = {}
        for row in ordered:
            members.setdefault(row // out_per_group, []).append(row)
        groups = tuple(members)
        per_group = max(len(v) for v in members.values())
        slots = tuple(g * per_group + j for g, items in enumerate(members.values())
                      for j in range(len(items)))
        return cls(ordered, groups, per_group, slots, in_per_group)

    @property
    def width(self) -> int:
        """Rows of the arrangement (``len(groups) * per_group``)."""
        return len(self.groups) * self.per_group

    @property
    def dense(self) -> bool:
        """Whether every slot holds a row (no zero rows)."""
        return len(self.rows) == self.width

    @property
    def in_channels(self) -> int:
        """Input channels the arrangement reads."""
        return len(self.groups) * self.in_per_group

    def inputs(self, input: torch.Tensor) -> torch.Tensor:
        """The input channels of the touched groups, ``(N, ng * in_per_group, ...)``."""
        first, last = self.groups[0], self.groups[-1]
        ipg = self.in_per_group
        if last - first + 1 == len(self.groups):
            if first == 0 and (last + 1) * ipg == input.shape[1]:
                return input
            return input[:, first * ipg:(last + 1) * ipg]
        index = torch.tensor([g * ipg + i for g in self.groups for i in range(ipg)],
                             device=input.device)
        return input.index_select(1, index)

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` (one entry per row, first dimension) placed at their slots, zeros
        elsewhere: ``(width, ...)``."""
        if self.dense:
            return values
        out = values.new_zeros(self.width, *values.shape[1:])
        index = torch.tensor(self.slots, device=values.device)
        return out.index_copy(0, index, values)

    def gather(self, output: torch.Tensor) -> torch.Tensor:
        """The rows' channels of an arranged output ``(N, width, ...)``: ``(N, rows, ...)``."""
        if self.dense:
            return output
        index = torch.tensor(self.slots, device=output.device)
        return output.index_select(1, index)
