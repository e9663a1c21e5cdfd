// The Runtime target; see its files.
