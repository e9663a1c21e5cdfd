// The Controller target; see its files.
