"""Exception types.  Every error says what is wrong and what is allowed."""


class SoftscopeError(ValueError):
    """Invalid input to a softscope computation (bad frame, parameter or model)."""


class ModelFormatError(SoftscopeError):
    """A model file is missing, tampered with, truncated or of an unknown version."""


class ConventionMismatch(SoftscopeError):
    """A model meets a frame of another unit system, species set or convention."""
