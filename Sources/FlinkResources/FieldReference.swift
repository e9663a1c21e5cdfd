/// The field reference in `docs/fields.md`, generated from `ResourceSchemas` like the CRDs, so
/// the documentation describes exactly what the decoder accepts.
public enum FieldReference {
    public static func markdown() -> String {
        var out = """
            # Field reference

            Generated from `Sources/FlinkResources/ResourceSchemas.swift` by
            `flinklet crds --output-dir crds --reference docs/fields.md`; do not edit.

            Every kind is `apiVersion: \(FlinkAPI.apiVersion)`, as read by the Apache Flink Kubernetes
            Operator. Unknown fields are errors. Fields marked *ignored* are accepted so upstream
            manifests load unchanged, and produce a warning when set; fields marked *managed* are
            written by Flinklet and dropped (with a warning) when a manifest sets them.

            """
        for kind in ResourceKind.allCases {
            let schema = ResourceSchemas.schema(for: kind)
            out += "\n## \(kind.rawValue)\n\n\(schema.description)\n"
            out += "Short names: " + kind.shortNames.map { "`\($0)`" }.joined(separator: ", ") + ".\n\n"
            out += "| Field | Type | Description |\n|---|---|---|\n"
            for property in schema.properties ?? [] where property.name != "status" {
                rows(property, path: property.name, required: schema.isRequired(property.name), into: &out)
            }
            if let status = schema.property("status") {
                out += "\n### \(kind.rawValue) status\n\n\(status.schema.description)\n\n| Field | Type | Description |\n|---|---|---|\n"
                for property in status.schema.properties ?? [] {
                    rows(property, path: "status." + property.name, required: false, into: &out)
                }
            }
        }
        return out
    }

    private static func rows(_ property: Property, path: String, required: Bool, into out: inout String) {
        var description = property.schema.description
        switch property.local {
        case .ignored(let reason): description += " *Ignored: \(reason).*"
        case .managed(let reason): description += " *Managed: \(reason).*"
        case .honoured, .partial: break
        }
        var type = typeName(property.schema)
        if required { type += ", required" }
        out += "| `\(path)` | \(type) | \(description.replacingOccurrences(of: "|", with: "\\|")) |\n"
        var schema = property.schema
        var childPath = path
        if case .array(let item) = schema.shape, item.properties != nil {
            schema = item
            childPath += "[]"
        }
        for child in schema.properties ?? [] {
            rows(child, path: childPath + "." + child.name, required: schema.isRequired(child.name), into: &out)
        }
    }

    private static func typeName(_ schema: Schema) -> String {
        switch schema.shape {
        case .string: "string"
        case .enumeration(let values): values.map { "`\($0)`" }.joined(separator: " \\| ")
        case .integer(let minimum, _): minimum.map { "integer ≥ \($0)" } ?? "integer"
        case .number: "number"
        case .boolean: "boolean"
        case .intOrString: "quantity"
        case .object: "object"
        case .map(let value): if case .intOrString = value.shape { "map of quantity" } else { "map of string" }
        case .array(let item): "array of " + (item.properties != nil ? "objects" : typeName(item))
        case .flinkConfiguration: "Flink configuration"
        case .freeForm: "object (free-form)"
        }
    }
}

extension Schema {
    func isRequired(_ name: String) -> Bool {
        if case .object(_, let required) = shape { return required.contains(name) }
        return false
    }
}
