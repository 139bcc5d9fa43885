"""Constructor parameters stored the scikit-learn way."""


def store_params(obj, params: dict) -> None:
    """Store a constructor's parameters as attributes (call with ``locals()``): scikit-learn's
    convention, an ``__init__`` that only stores what it is given, without repeating each name."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(obj, name, value)
