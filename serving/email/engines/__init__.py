"""Email engines: one interface, four implementations chosen by ``EngineKind``."""
