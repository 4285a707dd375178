"""Networks. Importing this package registers every model it ships (see :mod:`.registry`)."""

from handpose.models.registry import ModelSpec, create_model, get_spec, list_models, register_model

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "register_model"]
