"""The error hierarchy of aclcore.

Every error that aclcore raises on purpose derives from :class:`AclError`, so a caller can
catch the whole family with one ``except``. Each message names the offender (family, symbol,
plugin, file position), says what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AclError",
    "CompileError",
    "ConfigError",
    "DataError",
    "ExportError",
    "FamilyError",
    "FamilyParseError",
    "NonFiniteGradientError",
    "NonFiniteKernelError",
    "ParseError",
    "PluginError",
    "UnknownFamilyError",
]


class AclError(Exception):
    """Base class of every error aclcore raises on purpose."""


class ParseError(AclError, ValueError):
    """A formula string is not in the accepted grammar.

    Attributes:
        text: the formula that was given (possibly truncated for display).
        position: 0-based character offset of the offending token, or ``None``.
        reason: what is wrong, without the position decoration.
    """

    def __init__(self, reason: str, *, text: str = "", position: int | None = None) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        super().__init__(self._render())

    def _render(self) -> str:
        if self.position is None or not self.text:
            return self.reason
        shown = self.text if len(self.text) <= 120 else self.text[:117] + "..."
        caret = " " * min(self.position, len(shown)) + "^"
        return f"{self.reason} (at position {self.position})\n  {shown}\n  {caret}"


class FamilyError(AclError, ValueError):
    """A kernel family declaration is invalid; the message lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message)


class FamilyParseError(FamilyError, ParseError):
    """A family's formula string does not parse (both a FamilyError and a ParseError)."""

    def __init__(self, family: str, error: ParseError) -> None:
        self.reason = error.reason
        self.text = error.text
        self.position = error.position
        self.problems = [str(error)]
        AclError.__init__(self, f"family {family!r}: formula does not parse: {error}")


class CompileError(AclError):
    """A family cannot be lowered to torch; the message lists every unsupported part."""

    def __init__(self, message: str, unsupported: list[str] | None = None) -> None:
        self.unsupported = list(unsupported or [])
        super().__init__(message)


class NonFiniteKernelError(AclError, FloatingPointError):
    """A compiled family produced NaN or infinity at a tap for the given AKP values."""


class NonFiniteGradientError(NonFiniteKernelError):
    """An AKP's gradient became NaN or infinite (found by :func:`aclcore.nn.watch_gradients`);
    the message names the layer, the family, the AKP, the kernel and the tap."""


class PluginError(AclError):
    """A plugin failed to load or registered something invalid (strict mode).

    Attributes:
        failures: one line per plugin failure, when the error lists several (strict mode).
    """

    failures: list[str]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.failures = []


class UnknownFamilyError(AclError, LookupError):
    """No family of that name is registered; the message lists close names and sources."""


class ConfigError(AclError, ValueError):
    """A layer, grid or option is configured inconsistently (shapes, counts, modes)."""


class ExportError(AclError, ValueError):
    """An export cannot be produced or an exported document cannot be read back safely."""


class DataError(AclError, ValueError):
    """A data set is missing, corrupt or tampered with; the message says how to get it."""
