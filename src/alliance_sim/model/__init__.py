"""The model: parameters, mechanisms, the vectorized engine and the Mesa model.  No I/O here."""
