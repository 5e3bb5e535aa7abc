"""The pure domain core: rules, states and errors. Imports nothing from the rest of fastreg and does no I/O."""
