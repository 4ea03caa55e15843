"""The model: parameters, the compiled monthly step and its drivers, and the Mesa model.  No I/O here."""
