"""fastreg: fast registration of Mini Programs by reusing a verified Official Account's qualification."""

__version__ = "0.1.0"
