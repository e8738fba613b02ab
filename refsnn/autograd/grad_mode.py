"""Global switch for graph recording: ``with no_grad(): ...`` records nothing."""

from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def is_enabled() -> bool:
    """True unless inside a ``no_grad()`` block (per thread)."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context manager: operations inside build no graph (inference, optimizer steps).

    >>> from refsnn.autograd import Tensor, no_grad
    >>> with no_grad():
    ...     y = Tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    previous = is_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Re-enable graph recording inside a ``no_grad()`` block."""
    previous = is_enabled()
    _state.enabled = True
    try:
        yield
    finally:
        _state.enabled = previous
