// The Store target; see its files.
