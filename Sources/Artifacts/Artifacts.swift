// Jar resolution: see ArtifactStore.swift.
