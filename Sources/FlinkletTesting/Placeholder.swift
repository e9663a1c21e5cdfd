// Fakes for unit tests: in-memory process driver, manual clock.
