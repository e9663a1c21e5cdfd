// Flink's REST API client: see FlinkREST.swift.
